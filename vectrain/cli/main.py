"""`vectrain`: serve the API, load data, search, run SQL, train and evaluate classifiers."""

from __future__ import annotations

from pathlib import Path

import click

from vectrain.cli import audit, evaluate, jobs, load, session
from vectrain.cli.common import Context, echo_json, echo_table, handle_errors
from vectrain.core.choices import Recommend


@click.group()
@click.option(
    "--url",
    envvar="VECTRAIN_SERVICE_URL",
    default=None,
    help="Send commands to a running vectrain service instead of opening the database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def main(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """vectrain: train image classifiers with vector SQL on ClickHouse (embedded chDB by default)."""
    ctx.obj = Context(url, as_json)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default VECTRAIN_HOST, 127.0.0.1)")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default VECTRAIN_PORT, 8000)")
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve on a non-loopback address without API keys (anyone who can reach it may write)",
)
@click.pass_obj
@handle_errors
def serve(obj: Context, host: str | None, port: int | None, insecure: bool) -> None:
    """Run the REST API and the web page (one process: chDB allows one process per data path)."""
    import uvicorn

    from vectrain.api.app import create_app
    from vectrain.api.security import Keys
    from vectrain.core import trust
    from vectrain.storage.store import Store

    settings = obj.settings.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v})
    if not is_loopback(settings.host) and not Keys(settings).enabled and not insecure:
        raise click.ClickException(
            f"Refusing to serve on {settings.host} without API keys: anyone who can reach it could read and "
            "change your data. Set VECTRAIN_API_KEYS (and VECTRAIN_READ_API_KEYS), or pass --insecure."
        )
    url = f"http://{settings.host}:{settings.port}"
    port_free_or_fail(settings.host, settings.port)
    # Opened here, not in the app's startup, so a held or unusable path is one line, not a trace.
    store = Store(settings, owner="vectrain serve", url=url)
    store.migrate()
    app = create_app(settings, store, owns_store=True)
    if store.target.kind == "chdb":  # lets the CLI on this machine name any path it can read (vectrain.core.trust)
        app.state.local_secret = trust.write_secret(store.target.path)
    click.echo(f"vectrain on {url} (web page at /, API docs at /docs)", err=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, workers=1, log_level="info")
    finally:
        if app.state.local_secret:
            trust.remove_secret(store.target.path, app.state.local_secret)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port_free_or_fail(host: str, port: int) -> None:
    """One line when the port is taken, before the database is opened."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as exc:
            raise click.ClickException(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Is another vectrain serve running? Use --port."
            ) from None


@main.group(invoke_without_command=True)
@click.pass_context
@handle_errors
def datasets(ctx: click.Context) -> None:
    """List datasets with their dimension, encoder and row count."""
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    rows = obj.call("GET", "/datasets", local=lambda store: store.registry.list())
    if obj.as_json:
        return echo_json(rows)
    echo_table(
        ["name", "rows", "dim", "encoder", "table"],
        [[d["name"], d["rows"], d["dim"], d["encoder"], d["table"]] for d in rows],
    )


@datasets.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also delete the sessions and zero-shot predictions that use it")
@click.pass_obj
@handle_errors
def delete_dataset_cmd(obj: Context, name: str, force: bool) -> None:
    """Delete a dataset: its rows, thumbnails and registry row (refused while it is in use, unless --force)."""
    from vectrain.jobs.lifecycle import delete_dataset

    out = obj.call(
        "DELETE",
        f"/datasets/{name}",
        params={"force": str(force).lower()},
        local=lambda store: delete_dataset(store, name, force),
    )
    if obj.as_json:
        return echo_json(out)
    also = (f", with session(s) {', '.join(out['sessions'])}" if out["sessions"] else "") + (
        f", and zero-shot rows of {', '.join(out['labelsets'])}" if out["labelsets"] else ""
    )
    click.echo(f"deleted dataset {out['dataset']} ({out['rows']:,} rows){also}")


@main.command()
@click.argument("dataset")
@click.option("--id", "item_id", help="Search by this stored item's vector")
@click.option(
    "--vector-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Search by a vector: .npy, or a text file of numbers",
)
@click.option("--text", help="Search by text (datasets encoded with clip)")
@click.option(
    "--positive", "positive_ids", multiple=True, help="Search by examples: an item like the ones you want (repeatable)"
)
@click.option("--negative", "negative_ids", multiple=True, help="An item unlike the ones you want (repeatable)")
@click.option(
    "--strategy",
    type=click.Choice(Recommend.values()),
    default=None,
    help="How examples combine (default average_vector)",
)
@click.option("-k", default=10, show_default=True, type=int)
@click.option("--exclude", multiple=True, help="An id never to return (repeatable)")
@click.option("--exact", is_flag=True, help="Full scan instead of the HNSW index")
@click.pass_obj
@handle_errors
def search(
    obj: Context,
    dataset: str,
    item_id: str | None,
    vector_file: str | None,
    text: str | None,
    positive_ids: tuple[str, ...],
    negative_ids: tuple[str, ...],
    strategy: str | None,
    k: int,
    exclude: tuple[str, ...],
    exact: bool,
) -> None:
    """Nearest items to a stored item, a vector or a text, or to positive and negative examples
    (never returned themselves), best first."""
    examples = bool(positive_ids or negative_ids)
    if sum(x is not None for x in (item_id, vector_file, text)) + examples != 1:
        raise click.UsageError("give exactly one of --id, --vector-file or --text, or --positive/--negative examples")
    if strategy and not examples:
        raise click.UsageError("--strategy goes with --positive/--negative examples")
    vector = _read_vector(vector_file) if vector_file else None
    body = {
        "item_id": item_id,
        "vector": vector,
        "text": text,
        "k": k,
        "exclude_ids": list(exclude),
        "exact": exact,
        "positive_ids": list(positive_ids) or None,
        "negative_ids": list(negative_ids) or None,
        "strategy": strategy,
    }
    body = {key: value for key, value in body.items() if value is not None}

    def local(store):
        from vectrain.search.find import search as run_search

        found = run_search(store, dataset, **body)
        return {"items": found.items, "plan": found.plan, "seconds": found.seconds}

    result = obj.call("POST", f"/datasets/{dataset}/search", json=body, local=local)
    if obj.as_json:
        return echo_json(result)
    echo_table(["id", "label", "score", "url"], [[i["id"], i["label"], i["score"], i["url"]] for i in result["items"]])
    click.echo(f"({result['plan']}, {result['seconds'] * 1000:.1f} ms)", err=True)


@main.command()
@click.argument("query")
@click.option("--max-rows", type=int, default=None)
@click.pass_obj
@handle_errors
def sql(obj: Context, query: str, max_rows: int | None) -> None:
    """Run read-only SQL (the same check and limits as POST /sql)."""

    def local(store):
        from vectrain.analyst.sql import AnalystSQL

        analyst = AnalystSQL.for_store(store)
        try:
            return analyst.run(query, max_rows=max_rows)
        finally:
            analyst.close()

    result = obj.call("POST", "/sql", json={"query": query, "max_rows": max_rows}, local=local)
    if obj.as_json:
        return echo_json(result)
    echo_table(result["columns"], result["rows"])
    if result["truncated"]:
        click.echo("(truncated: more rows than the limit)", err=True)


def _read_vector(path: str) -> list[float]:
    import numpy as np

    p = Path(path)
    try:
        values = (
            np.load(p) if p.suffix == ".npy" else np.array(p.read_text().replace(",", " ").split(), dtype=np.float32)
        )
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"{path}: cannot read a vector ({exc})") from None
    return np.asarray(values, dtype=np.float32).ravel().tolist()


main.add_command(load.load)
main.add_command(session.session)
main.add_command(evaluate.eval_group)
main.add_command(audit.audit)
main.add_command(jobs.jobs)

if __name__ == "__main__":
    main()
