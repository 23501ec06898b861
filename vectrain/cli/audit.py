"""`vectrain audit ...`: suspected label errors and near-duplicates over a whole dataset.

Run here they have no time budget and show progress; sent to a running service they run within
its synchronous budget. Results are stored in tables label_issues and duplicate_groups either way.
"""

from __future__ import annotations

import sys

import click

from vectrain.cli.common import Context, echo_json, echo_table, handle_errors


@click.group("audit")
def audit() -> None:
    """Find label errors and near-duplicates in a dataset."""


def _run(obj: Context, dataset: str, kind: str, body: dict) -> dict:
    """POST /datasets/{dataset}/audit/{kind} to the running service, or run the audit here with a
    progress bar (and no time budget)."""

    def local(store):
        from tqdm import tqdm

        from vectrain.quality import dataset_audit

        audit_fn = dataset_audit.audit_labels if kind == "labels" else dataset_audit.find_duplicates
        bar = tqdm(desc=f"audit {kind} {dataset}", unit=" rows", file=sys.stderr, dynamic_ncols=True, leave=False)

        def report(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        try:
            return audit_fn(store, dataset, progress=report, **body)
        finally:
            bar.close()

    return obj.call("POST", f"/datasets/{dataset}/audit/{kind}", json=body, local=local)


@audit.command("labels")
@click.argument("dataset")
@click.option("--split", default=None, help="Audit this split (neighbours from it too); default: the whole dataset")
@click.option("-k", default=10, show_default=True, type=int, help="Neighbours that vote")
@click.option(
    "--min-agreement", default=0.5, show_default=True, type=float, help="Vote share the suggested label needs"
)
@click.option("--limit", default=20, show_default=True, type=int, help="Suspects to print (all are stored)")
@click.pass_obj
@handle_errors
def labels(obj: Context, dataset: str, split: str | None, k: int, min_agreement: float, limit: int) -> None:
    """Labeled items whose label disagrees with a confident neighbourhood, most suspect first."""
    out = _run(obj, dataset, "labels", {"split": split, "k": k, "min_agreement": min_agreement, "limit": limit})
    if obj.as_json:
        return echo_json(out)
    echo_table(
        ["id", "label", "suggested", "score", "agreement"],
        [[x["id"], x["label"], x["suggested"], x["score"], x["agreement"]] for x in out["items"]],
    )
    click.echo(
        f"{out['flagged']} of {out['checked']} labeled items flagged ({out['seconds']:.1f} s); all in table "
        f"label_issues, run_at = '{out['run_at']}'",
        err=True,
    )


@audit.command("duplicates")
@click.argument("dataset")
@click.option("--threshold", default=0.98, show_default=True, type=float, help="Cosine similarity of duplicates")
@click.option("--split", default=None, help="Only this split; default: the whole dataset")
@click.option("--limit", default=20, show_default=True, type=int, help="Groups to print (all are stored)")
@click.pass_obj
@handle_errors
def duplicates(obj: Context, dataset: str, threshold: float, split: str | None, limit: int) -> None:
    """Groups of items at least THRESHOLD similar (exact, every pair), largest first."""
    out = _run(obj, dataset, "duplicates", {"threshold": threshold, "split": split, "limit": limit})
    if obj.as_json:
        return echo_json(out)
    echo_table(["size", "ids"], [[len(g), " ".join(g)] for g in out["groups"]])
    click.echo(
        f"{out.get('count', len(out['groups']))} groups, {out['items']} of {out['checked']} items "
        f"({out['seconds']:.1f} s); all in table duplicate_groups, run_at = '{out['run_at']}'",
        err=True,
    )
