"""`vectrain session ...` for multi-class sessions: create with --classes, label ITEM=CLASS, and how
their batches, rounds, applies and sessions print (the commands are in vectrain.cli.session)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vectrain.cli.common import Context, echo_json, echo_table


def create(obj: Context, dataset, name, classes, labelset, examples, audit_rate, labeling, show) -> None:
    if not classes:
        raise click.UsageError("--labelset and --example start a multi-class session: give its --classes a,b,c")
    names = [c.strip() for c in classes.split(",") if c.strip()]
    by_class: dict[str, list[str]] = {}
    for pair in examples:
        cls, eq, item = pair.partition("=")
        if not eq or not cls or not item:
            raise click.UsageError(f"--example {pair!r}: write CLASS=ITEM, e.g. --example cat=img001")
        by_class.setdefault(cls, []).append(item)
    body = {
        "dataset": dataset,
        "name": name,
        "classes": names,
        "labelset": labelset,
        "examples": by_class or None,
        "audit_rate": audit_rate,
    }
    out = obj.call(
        "POST",
        "/sessions",
        json={k: v for k, v in body.items() if v is not None},
        local=lambda store: labeling().sessions.create_session(
            store,
            dataset,
            name,
            classes=names,
            labelset=labelset,
            examples=by_class or None,
            audit_rate=audit_rate,
            labeler=obj.labeler,
        ),
    )
    show(obj, out)


def is_multiclass(obj: Context, session_id: str, labeling) -> bool:
    out = obj.call(
        "GET", f"/sessions/{session_id}", local=lambda store: labeling().sessions.get_session(store, session_id)
    )
    return bool(out.get("classes"))


def label(obj: Context, session_id: str, pairs, path, source, round_no, labeling) -> None:
    labels = []
    if path:
        data = json.loads(Path(path).read_text())
        labels += data["labels"] if isinstance(data, dict) else data
    provenance = {k: v for k, v in (("source", source), ("round", round_no)) if v is not None}
    for pair in pairs:
        item, eq, cls = pair.rpartition("=")
        if not eq or not item or not cls:
            raise click.UsageError(f"{pair!r}: write ITEM=CLASS, e.g. photo123=cat")
        labels.append({"item_id": item, "class": cls, **provenance})
    out = obj.call(
        "POST",
        f"/sessions/{session_id}/labels",
        json={"labels": labels},
        local=lambda store: labeling().labels.add_labels(store, session_id, labels, obj.labeler),
    )
    if obj.as_json:
        return echo_json(out)
    per = ", ".join(f"{c} {n}" for c, n in out["labels"]["per_class"].items())
    click.echo(f"stored {out['stored']}; the session has {out['labels']['labeled']} labels ({per})")


def _num(value, digits=3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def show_batch(out: dict) -> None:
    scored = out.get("scored_round")
    behind = scored not in (None, out["round"])
    note = f" (round {out['round']} is being scored: round {scored} chose)" if behind else ""
    click.echo(f"round {out['round']}, {out['strategy']}{note}")
    echo_table(
        ["id", "class", "score", "margin", "source", "url"],
        [
            [i["id"], i.get("class") or "", _num(i["score"]), _num(i.get("margin")), i["source"], i["url"]]
            for i in out["items"]
        ],
    )


def show_round(out: dict) -> None:
    m = out["metrics"]
    click.echo(
        f"round {out['round']}: {m['labeled']} labels; cross-validated accuracy {m.get('accuracy')}, "
        f"macro F1 {m.get('macro_f1')} ({m.get('cv_folds')} folds)"
    )


def show_applied(out: dict) -> None:
    counts = ", ".join(f"{c} {n}" for c, n in out["classes"].items())
    click.echo(
        f"round {out['round']}: {out['items']} items ({counts}) in {out['seconds']:.2f} s. In SQL: {out['example']}"
    )


def show_session(out: dict) -> None:
    c = out["labels"]
    per = ", ".join(f"{k} {n}" for k, n in c["per_class"].items())
    click.echo(
        f"session {out['id']} '{out['name']}' on {out['dataset']} (from {out['source']}); classes "
        f"{', '.join(out['classes'])}; {c['labeled']} labels ({per}); SQL function {out['function']}"
    )
    echo_table(
        ["round", "mode", "labeled", "accuracy", "macro_f1", "created"],
        [
            [
                r["round"],
                r["mode"],
                r["metrics"].get("labeled"),
                r["metrics"].get("accuracy"),
                r["metrics"].get("macro_f1"),
                r["created"],
            ]
            for r in out["rounds"]
        ],
    )
    est = out.get("estimate")
    if est is None:
        click.echo("estimate: no audit labels yet" + ("" if out.get("audit_rate") else " (create with --audit-rate)"))
        return
    click.echo(
        f"estimate (round {est['round']}, {est['audited']} audit labels, 95% intervals): accuracy on unlabeled items "
        f"{est['accuracy']:.3f} [{est['accuracy_low']:.3f}, {est['accuracy_high']:.3f}]; over all {est['items']} items "
        f"{est['accuracy_all']:.3f} [{est['accuracy_all_low']:.3f}, {est['accuracy_all_high']:.3f}]"
    )
