"""`vectrain eval ...`: evaluate zero-shot, kNN and tourney classification."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vectrain.cli.common import Context, echo_json, echo_table, handle_errors
from vectrain.core.choices import Weighting


@click.group("eval")
def eval_group() -> None:
    """Evaluate classifiers over a dataset's splits."""


def _run(obj: Context, method: str, dataset: str, body: dict) -> dict:
    def local(store):
        from vectrain.classify.evaluation import evaluate

        return evaluate(store, method, dataset, **{k: v for k, v in body.items() if v is not None})

    return obj.call("POST", f"/eval/{method}", json={"dataset": dataset, **body}, local=local)


def _show(obj: Context, report: dict, out: str | None) -> None:
    if out:
        from vectrain.classify.evaluation import plot

        prefix = f"{report['method'].replace('-', '_')}_{report['dataset']}"
        report["plots"] = plot(report, out, prefix)
        path = Path(out) / f"{prefix}.json"
        path.write_text(json.dumps(report, indent=2, default=str))
        report["report"] = str(path)
    if obj.as_json:
        return echo_json(report)
    click.echo(
        f"{report['method']} on {report['dataset']} ({report['n']} items): accuracy {report['accuracy']:.4f}, "
        f"macro F1 {report['macro_f1']:.4f}, weighted F1 {report['weighted_f1']:.4f}, "
        f"{report['queries_per_second']:,.0f} queries/s"
    )
    if "argmax" in report:
        a = report["argmax"]
        click.echo(
            f"zero-shot argmax on the same items: accuracy {a['accuracy']:.4f}, weighted F1 {a['weighted_f1']:.4f}"
        )
    echo_table(
        ["label", "precision", "recall", "f1", "support"],
        [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in report["per_class"]],
    )
    click.echo(f"\naccuracy by {report['reliability_signal']}:")
    echo_table(
        ["from", "to", "n", "accuracy"],
        [[b["low"], b["high"], b["n"], b["accuracy"]] for b in report.get("reliability", [])],
    )
    for p in report.get("plots", []):
        click.echo(f"wrote {p}", err=True)


@eval_group.command("knn")
@click.argument("dataset")
@click.option("--split", default="test", show_default=True, help="Split to classify and score")
@click.option("--train-split", default="train", show_default=True, help="Labeled split that votes")
@click.option("-k", default=10, show_default=True, type=int)
@click.option("--weighting", type=click.Choice(Weighting.values()), default=Weighting.majority.value, show_default=True)
@click.option("--ann", is_flag=True, help="One HNSW query per item instead of the exact batch plan")
@click.option(
    "--stages",
    default=None,
    help="Comma-separated datasets holding the same items encoded differently (e.g. "
    "cifar_pixels,cifar_clip_l6,cifar_clip): one row each, as the CIFAR paper compared",
)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Write JSON and PNG plots here")
@click.pass_obj
@handle_errors
def eval_knn(
    obj: Context,
    dataset: str,
    split: str,
    train_split: str,
    k: int,
    weighting: str,
    ann: bool,
    stages: str | None,
    out: str | None,
) -> None:
    """kNN: the train split votes on the split's items; scored against their labels."""
    body = {"split": split, "train_split": train_split, "k": k, "weighting": weighting, "exact": not ann}
    if not stages:
        return _show(obj, _run(obj, "knn", dataset, body), out)
    rows = []
    for name in [s.strip() for s in stages.split(",") if s.strip()]:
        report = _run(obj, "knn", name, body)
        encoder = obj.call("GET", f"/datasets/{name}", local=lambda store, name=name: store.registry.get(name))[
            "encoder"
        ]
        rows.append(
            {
                "dataset": name,
                "encoder": encoder,
                "accuracy": report["accuracy"],
                "weighted_f1": report["weighted_f1"],
                "seconds": report["seconds"],
                "queries_per_second": report["queries_per_second"],
                "n": report["n"],
            }
        )
        if out:
            from vectrain.classify.evaluation import plot

            plot(report, out, f"knn_{name}")
    result = {"method": "knn", "stages": rows}
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "knn_stages.json").write_text(json.dumps(result, indent=2))
    if obj.as_json:
        return echo_json(result)
    echo_table(
        ["dataset", "encoder", "n", "accuracy", "weighted_f1", "seconds", "queries/s"],
        [
            [r["dataset"], r["encoder"], r["n"], r["accuracy"], r["weighted_f1"], r["seconds"], r["queries_per_second"]]
            for r in rows
        ],
    )


@eval_group.command("zero-shot")
@click.argument("dataset")
@click.option("--labelset", required=True, help="Label set to classify with")
@click.option("--split", default=None, help="Only this split (default: every row)")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Write JSON and PNG plots here")
@click.pass_obj
@handle_errors
def eval_zero_shot(obj: Context, dataset: str, labelset: str, split: str | None, out: str | None) -> None:
    """Zero-shot in the database; items whose class has no label in the set are left out."""
    _show(obj, _run(obj, "zero-shot", dataset, {"labelset": labelset, "split": split}), out)


@eval_group.command("tourney")
@click.argument("dataset")
@click.option("--labelset", required=True)
@click.option("--split", default=None)
@click.option("--dims", default=64, show_default=True, type=int, help="Dimensions compared per class pair")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", type=click.Path(file_okay=False), default=None)
@click.pass_obj
@handle_errors
def eval_tourney(
    obj: Context, dataset: str, labelset: str, split: str | None, dims: int, seed: int, out: str | None
) -> None:
    """Pairwise tourney, reported next to the zero-shot argmax on the same items."""
    _show(obj, _run(obj, "tourney", dataset, {"labelset": labelset, "split": split, "dims": dims, "seed": seed}), out)
