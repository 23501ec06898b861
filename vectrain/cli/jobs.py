"""`vectrain jobs`: jobs of the running service; and following one with a progress bar.

Ctrl+C while following a job: on a terminal the CLI asks whether to cancel the job (the
default) or leave it running in the service; without a terminal (a script) it cancels. Either
way what the job stored stays, and rerunning a load resumes it.
"""

from __future__ import annotations

import signal
import sys
import time

import click

from vectrain.cli.common import Context, echo_json, echo_table, handle_errors

POLL_SECONDS = 0.5
ENDED = ("done", "failed", "cancelled")


def follow(obj: Context, job: dict) -> dict:
    """Poll GET /jobs/{id} with a progress bar until the job ends; returns its last state."""
    job_id = job["id"]
    bar = None
    try:
        # A Ctrl+C held back while the job was being created (start_job) arrives here, where it cancels.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        from tqdm import tqdm

        bar = tqdm(
            total=job.get("total"),
            unit=" rows",
            desc=f"{job['kind']} {job['dataset']}",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=obj.as_json,
        )
        while job["state"] not in ENDED:
            time.sleep(POLL_SECONDS)
            job = obj.http("GET", f"/jobs/{job_id}")
            if job.get("total") is not None and bar.total != job["total"]:
                bar.total = job["total"]
            bar.n = job["done"]
            if job.get("message"):
                bar.set_postfix_str(job["message"][:60], refresh=False)
            bar.refresh()
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        return _interrupted(obj, job_id)
    bar.close()
    return job


def start_job(obj: Context, method: str, path: str, **kwargs) -> dict:
    """Send the request that creates a job, with Ctrl+C held back until its id is known: an
    interrupt during the request would otherwise leave the job running, unknown to the user.
    follow() lets it through."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return obj.http(method, path, **kwargs)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        raise


def _interrupted(obj: Context, job_id: str) -> dict:
    cancel = True
    if sys.stdin.isatty():
        try:
            cancel = click.confirm(
                f"\nCancel job {job_id} in the service? No leaves it running (follow it with "
                f"`vectrain jobs show {job_id} --follow`)",
                default=True,
                err=True,
            )
        except click.Abort:  # a second Ctrl+C: cancel
            cancel = True
    if not cancel:
        click.echo(f"job {job_id} keeps running in the service: `vectrain jobs show {job_id}`", err=True)
        raise click.exceptions.Exit(130)
    job = obj.http("DELETE", f"/jobs/{job_id}")
    click.echo(f"cancelling job {job_id} ...", err=True)
    while job["state"] not in ENDED:
        time.sleep(POLL_SECONDS)
        job = obj.http("GET", f"/jobs/{job_id}")
    return job


def report(obj: Context, job: dict) -> None:
    """Print how a job ended: its result (a load's summary line, failures, notes), or one line
    and exit 1 when it failed or was cancelled."""
    if obj.as_json:
        echo_json(job)
    elif job["state"] == "done":
        result = job.get("result") or {}
        click.echo(job.get("message") or result.get("message") or f"job {job['id']} done")
        for note in result.get("notes") or []:
            click.echo(f"  note: {note}", err=True)
        failures = result.get("failures") or []
        for line in failures[:10]:
            click.echo(f"  failed: {line}", err=True)
        if len(failures) > 10:
            click.echo(f"  ... {len(failures) - 10} more", err=True)
    if job["state"] != "done":
        raise click.ClickException(f"job {job['id']} {job['state']}: {job.get('error') or job.get('message')}")


@click.group("jobs", invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--dataset", default="", help="Only this dataset's jobs")
@click.pass_context
@handle_errors
def jobs(ctx: click.Context, limit: int, dataset: str) -> None:
    """Jobs of the service (loads, zero-shot, apply, eval, index builds), newest first."""
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj

    def local(store):
        from vectrain.jobs.records import list_jobs, recover

        recover(store)  # this process holds the database: nothing else runs a job
        return list_jobs(store, limit, dataset)

    rows = obj.call("GET", "/jobs", params={"limit": limit, "dataset": dataset}, local=local)
    if obj.as_json:
        return echo_json(rows)
    echo_table(
        ["id", "kind", "dataset", "state", "done", "total", "rows/s", "message"],
        [
            [
                j["id"],
                j["kind"],
                j["dataset"],
                j["state"],
                j["done"],
                "" if j["total"] is None else j["total"],
                j["rows_per_second"],
                j.get("error") or j["message"],
            ]
            for j in rows
        ],
    )


@jobs.command("show")
@click.argument("job_id")
@click.option("--follow", "follow_it", is_flag=True, help="Show a progress bar until the job ends")
@click.pass_obj
@handle_errors
def show(obj: Context, job_id: str, follow_it: bool) -> None:
    """A job's state, progress and result."""

    def local(store):
        from vectrain.jobs.records import read_job, recover

        recover(store)
        return read_job(store, job_id).as_dict()

    job = obj.call("GET", f"/jobs/{job_id}", local=local)
    if follow_it and obj.remote():
        job = follow(obj, job)
        return report(obj, job)
    echo_json(job)


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_obj
@handle_errors
def cancel(obj: Context, job_id: str) -> None:
    """Cancel a job (what it stored stays; rerunning a load resumes it)."""
    if not obj.remote():
        raise click.ClickException(
            "No vectrain service holds the database, so no job is running (a job left "
            "running by a service that died is marked failed when it next starts)."
        )
    job = obj.http("DELETE", f"/jobs/{job_id}")
    echo_json(job) if obj.as_json else click.echo(f"job {job_id}: {job['state']}, {job['message']}")
