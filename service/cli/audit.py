"""`vectrain audit ...`: suspected label errors and near-duplicates over a whole dataset.

Run here they have no time budget and show progress; sent to a running service they run within
its synchronous budget. Results are stored in tables label_issues and duplicate_groups either way.
"""

from __future__ import annotations

import sys

import click

from service.cli.common import Context, echo_json, echo_table, handle_errors


@click.group("audit")
def audit() -> None:
    """Find label errors and near-duplicates in a dataset."""


def _progress(what: str):
    from tqdm import tqdm

    bar = tqdm(desc=what, unit=" rows", file=sys.stderr, dynamic_ncols=True, leave=False)

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, report


@audit.command("labels")
@click.argument("dataset")
@click.option("--split", default=None, help="Audit this split (neighbours from it too); default: the whole dataset")
@click.option("-k", default=10, show_default=True, type=int, help="Neighbours that vote")
@click.option("--min-agreement", default=0.5, show_default=True, type=float,
              help="Vote share the suggested label needs")
@click.option("--limit", default=20, show_default=True, type=int, help="Suspects to print (all are stored)")
@click.pass_obj
@handle_errors
def labels(obj: Context, dataset: str, split: str | None, k: int, min_agreement: float, limit: int) -> None:
    """Labeled items whose label disagrees with a confident neighbourhood, most suspect first."""
    body = {"split": split, "k": k, "min_agreement": min_agreement, "limit": limit}

    def local(store):
        from service.dataset_audit import audit_labels

        bar, report = _progress(f"audit labels {dataset}")
        try:
            return audit_labels(store, dataset, progress=report, **body)
        finally:
            bar.close()

    out = obj.call("POST", f"/datasets/{dataset}/audit/labels", json=body, local=local)
    if obj.as_json:
        return echo_json(out)
    echo_table(["id", "label", "suggested", "score", "agreement"],
               [[x["id"], x["label"], x["suggested"], x["score"], x["agreement"]] for x in out["items"]])
    click.echo(f"{out['flagged']} of {out['checked']} labeled items flagged ({out['seconds']:.1f} s); all in table "
               f"label_issues, run_at = '{out['run_at']}'", err=True)


@audit.command("duplicates")
@click.argument("dataset")
@click.option("--threshold", default=0.98, show_default=True, type=float, help="Cosine similarity of duplicates")
@click.option("--split", default=None, help="Only this split; default: the whole dataset")
@click.option("--limit", default=20, show_default=True, type=int, help="Groups to print (all are stored)")
@click.pass_obj
@handle_errors
def duplicates(obj: Context, dataset: str, threshold: float, split: str | None, limit: int) -> None:
    """Groups of items at least THRESHOLD similar (exact, every pair), largest first."""
    body = {"threshold": threshold, "split": split, "limit": limit}

    def local(store):
        from service.dataset_audit import find_duplicates

        bar, report = _progress(f"audit duplicates {dataset}")
        try:
            return find_duplicates(store, dataset, progress=report, **body)
        finally:
            bar.close()

    out = obj.call("POST", f"/datasets/{dataset}/audit/duplicates", json=body, local=local)
    if obj.as_json:
        return echo_json(out)
    echo_table(["size", "ids"], [[len(g), " ".join(g)] for g in out["groups"]])
    click.echo(f"{out.get('count', len(out['groups']))} groups, {out['items']} of {out['checked']} items "
               f"({out['seconds']:.1f} s); all in table duplicate_groups, run_at = '{out['run_at']}'", err=True)
