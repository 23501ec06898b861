"""`vectrain session ...`: classifier training sessions.

Every command works on the embedded database or, when a service holds it (or --url is given),
over HTTP against the same endpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from vectrain.cli import session_classes as classes_cli
from vectrain.cli.common import Context, echo_json, echo_table, handle_errors
from vectrain.core.choices import ClassStrategy, Strategy, TrainMode

STRATEGIES = list(dict.fromkeys(Strategy.values() + ClassStrategy.values()))

ESTIMATE_WAIT = 30.0  # seconds `session show` waits for an estimate the service is computing


def _labeling():
    """The labeling modules, imported when a command runs in this process (not for --help, nor
    when a running service answers)."""
    import vectrain.labeling.history
    import vectrain.labeling.labels
    import vectrain.labeling.manage
    import vectrain.labeling.publish
    import vectrain.labeling.sessions

    return vectrain.labeling


@click.group()
def session() -> None:
    """Train a classifier by labeling what vector search shows you."""


@session.command()
@click.argument("dataset")
@click.argument("name")
@click.option("--prompt", help='Start from this text, e.g. "dogs in the snow" (needs a text encoder)')
@click.option("--vector-file", type=click.Path(exists=True, dir_okay=False), help="Start from a vector (.npy)")
@click.option("--positive", "positive_ids", multiple=True, help="Start from these example items (repeatable)")
@click.option(
    "--negative", "negative_ids", multiple=True, help="With --positive: items unlike the ones you want (repeatable)"
)
@click.option(
    "--audit-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of each batch drawn at random to measure the classifier (e.g. 0.2)",
)
@click.option("--classes", help="A multi-class session: its classes, comma-separated (e.g. cat,dog,bird)")
@click.option("--labelset", help="With --classes: start each class from this label set's label of the same name")
@click.option(
    "--example", "examples", multiple=True, metavar="CLASS=ITEM", help="With --classes: an example item (repeatable)"
)
@click.pass_obj
@handle_errors
def create(
    obj: Context,
    dataset: str,
    name: str,
    prompt: str | None,
    vector_file: str | None,
    positive_ids: tuple[str, ...],
    negative_ids: tuple[str, ...],
    audit_rate: float,
    classes: str | None,
    labelset: str | None,
    examples: tuple[str, ...],
) -> None:
    """Create session NAME on DATASET (round 0): binary from a prompt, a vector or examples, or
    multi-class with --classes (from a label set, examples, both or neither)."""
    if classes is not None or labelset or examples:
        return classes_cli.create(obj, dataset, name, classes, labelset, examples, audit_rate, _labeling, _show)
    import numpy as np

    vector = np.load(vector_file).astype(np.float32).ravel().tolist() if vector_file else None
    body = {
        "dataset": dataset,
        "name": name,
        "prompt": prompt,
        "vector": vector,
        "positive_ids": list(positive_ids) or None,
        "negative_ids": list(negative_ids) or None,
        "audit_rate": audit_rate,
    }
    if sum(v is not None for v in (prompt, vector, body["positive_ids"])) != 1:
        raise click.UsageError("give exactly one of --prompt, --vector-file or --positive")
    out = obj.call(
        "POST",
        "/sessions",
        json=body,
        local=lambda store: _labeling().sessions.create_session(
            store,
            dataset,
            name,
            prompt=prompt,
            vector=vector,
            positive_ids=body["positive_ids"],
            negative_ids=body["negative_ids"],
            audit_rate=audit_rate,
            labeler=obj.labeler,
        ),
    )
    _show(obj, out)


@session.command("next")
@click.argument("session_id")
@click.option("-k", default=10, show_default=True, type=int)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="binary: mixed (default), top, boundary, random; multi-class: balanced (default), margin, top, random",
)
@click.option(
    "--audit",
    type=click.IntRange(0),
    default=None,
    help="How many of the k are random audit draws (default: the session's audit rate)",
)
@click.pass_obj
@handle_errors
def next_(obj: Context, session_id: str, k: int, strategy: str | None, audit: int | None) -> None:
    """The next k unlabeled items to label."""
    body = {"k": k, **({"strategy": strategy} if strategy else {}), **({"audit": audit} if audit is not None else {})}
    out = obj.call(
        "POST",
        f"/sessions/{session_id}/next",
        json=body,
        local=lambda store: _labeling().sessions.next_batch(
            store, session_id, k, strategy, audit=audit, labeler=obj.labeler
        ),
    )
    if obj.as_json:
        return echo_json(out)
    if any("margin" in i or "class" in i for i in out["items"]):
        return classes_cli.show_batch(out)
    echo_table(["id", "score", "source", "url"], [[i["id"], i["score"], i["source"], i["url"]] for i in out["items"]])


@session.command()
@click.argument("session_id")
@click.argument("pairs", nargs=-1)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    help='JSON: [{"item_id": ..., "score": ..., "source": ...}] or {"labels": [...]}',
)
@click.option(
    "--source",
    type=click.Choice(["user", "audit", *STRATEGIES]),
    default=None,
    help="How the ITEM=SCORE items were sampled: the `source` the next batch gave them (default user)",
)
@click.option(
    "--round", "round_no", type=click.IntRange(0), default=None, help="The round of the next batch that served them"
)
@click.pass_obj
@handle_errors
def label(
    obj: Context, session_id: str, pairs: tuple[str, ...], path: str | None, source: str | None, round_no: int | None
) -> None:
    """Label items: ITEM=SCORE pairs (score in [-1, 1], e.g. img1=1 img2=-1), or --file. A
    multi-class session: ITEM=CLASS pairs (e.g. img1=cat img2=dog)."""
    if pairs and classes_cli.is_multiclass(obj, session_id, _labeling):
        return classes_cli.label(obj, session_id, pairs, path, source, round_no, _labeling)
    labels = []
    if path:
        data = json.loads(Path(path).read_text())
        labels += data["labels"] if isinstance(data, dict) else data
    for pair in pairs:
        item, eq, score = pair.rpartition("=")
        provenance = {k: v for k, v in (("source", source), ("round", round_no)) if v is not None}
        try:
            labels.append({"item_id": item, "score": float(score), **provenance})
        except ValueError:
            eq = ""
        if not eq or not item:
            raise click.UsageError(f"{pair!r}: write ITEM=SCORE, e.g. photo123=1 or photo456=-1")
    if not labels:
        raise click.UsageError("give ITEM=SCORE pairs or --file")
    out = obj.call(
        "POST",
        f"/sessions/{session_id}/labels",
        json={"labels": labels},
        local=lambda store: _labeling().labels.add_labels(store, session_id, labels, obj.labeler),
    )
    if obj.as_json:
        return echo_json(out)
    c = out["labels"]
    click.echo(
        f"stored {out['stored']}; the session has {c['labeled']} labels "
        f"({c['positives']} positive, {c['negatives']} negative)"
    )


@session.command()
@click.argument("session_id")
@click.option("--mode", type=click.Choice(TrainMode.values()), default=TrainMode.auto.value, show_default=True)
@click.pass_obj
@handle_errors
def train(obj: Context, session_id: str, mode: str) -> None:
    """Train a new round on all labels."""
    out = obj.call(
        "POST",
        f"/sessions/{session_id}/train",
        json={"mode": mode},
        local=lambda store: _labeling().sessions.train_round(store, session_id, mode),
    )
    if obj.as_json:
        return echo_json(out)
    m = out["metrics"]
    if "macro_f1" in m:
        return classes_cli.show_round(out)
    click.echo(
        f"round {out['round']} ({mode}): {m['labeled']} labels, {m['positives']} positive; "
        f"F1 estimated {quality_text(m)}; threshold {out['threshold']:.4f}"
    )


def quality_text(metrics: dict) -> str:
    """A round's estimated F1 with its 95% interval, or the word for why there is none."""
    q = metrics.get("quality") or {}
    if q.get("f1") is None:
        return q.get("message") or "-"
    return f"{q['f1']:.3f} ({q['f1_low']:.2f}-{q['f1_high']:.2f})"


@session.command()
@click.argument("session_id")
@click.pass_obj
@handle_errors
def apply(obj: Context, session_id: str) -> None:
    """Score the whole dataset and publish the classifier as a SQL function."""
    out = obj.call(
        "POST", f"/sessions/{session_id}/apply", local=lambda store: _labeling().publish.apply(store, session_id)
    )
    if obj.as_json:
        return echo_json(out)
    if out.get("classes"):
        return classes_cli.show_applied(out)
    click.echo(
        f"round {out['round']}: {out['positives']} of {out['items']} items positive "
        f"({out['seconds']:.2f} s). In SQL: {out['example']}"
    )


@session.command()
@click.argument("session_id")
@click.pass_obj
@handle_errors
def undo(obj: Context, session_id: str) -> None:
    """Take back the newest change of the session's labels (a batch, or a removal)."""
    out = obj.call(
        "POST",
        f"/sessions/{session_id}/labels/undo",
        local=lambda store: _labeling().history.undo(store, session_id, obj.labeler),
    )
    if obj.as_json:
        return echo_json(out)
    items = out["undone"]["items"]
    restored = [f"{i['item_id']}={i['score']:g}" for i in items if i["score"] is not None]
    cleared = [i["item_id"] for i in items if i["score"] is None]
    parts = ([f"restored {', '.join(restored[:10])}"] if restored else []) + (
        [f"removed the labels of {', '.join(cleared[:10])}"] if cleared else []
    )
    more = "" if out["more"] else "; nothing earlier to undo"
    click.echo(f"undid a {out['undone']['kind']} of {len(items)} item(s): {'; '.join(parts)}{more}")


@session.command()
@click.argument("session_id")
@click.argument("name")
@click.pass_obj
@handle_errors
def rename(obj: Context, session_id: str, name: str) -> None:
    """Rename a session; its published SQL function and view move to the new name."""
    out = obj.call(
        "PATCH",
        f"/sessions/{session_id}",
        json={"name": name},
        local=lambda store: _labeling().manage.rename_session(store, session_id, name),
    )
    if obj.as_json:
        return echo_json(out)
    click.echo(f"session {out['id']} is now '{out['name']}' (SQL function {out['function']})")


@session.command("delete")
@click.argument("session_id")
@click.pass_obj
@handle_errors
def delete_session(obj: Context, session_id: str) -> None:
    """Delete a session: labels, rounds, predictions and its published SQL; the name is free again."""
    out = obj.call(
        "DELETE",
        f"/sessions/{session_id}",
        local=lambda store: _labeling().manage.delete_session(store, session_id),
    )
    if obj.as_json:
        return echo_json(out)
    click.echo(f"deleted session {out['id']} '{out['name']}' on {out['dataset']} ({out['labels']} labels)")


@session.command()
@click.argument("session_id", required=False)
@click.pass_obj
@handle_errors
def show(obj: Context, session_id: str | None) -> None:
    """A session's rounds and label counts (all sessions without an id)."""
    if session_id is None:
        rows = obj.call("GET", "/sessions", local=lambda store: _labeling().sessions.list_sessions(store))
        if obj.as_json:
            return echo_json(rows)
        return echo_table(
            ["id", "name", "dataset", "source", "created"],
            [[r["id"], r["name"], r["dataset"], r["source"], r["created"]] for r in rows],
        )
    out = obj.call("GET", f"/sessions/{session_id}", local=lambda store: _settled(store, session_id))
    waited = time.monotonic()
    while out.get("estimating") and time.monotonic() - waited < ESTIMATE_WAIT:  # the service computes it
        time.sleep(0.3)
        out = obj.call("GET", f"/sessions/{session_id}", local=lambda store: _settled(store, session_id))
    _show(obj, out)


def _settled(store, session_id: str) -> dict:
    """The session with its newest estimate: in this process, wait for it to be computed."""
    from vectrain.labeling import background

    out = _labeling().sessions.get_session(store, session_id)
    if out.get("estimating") and background.settle(600):
        out = _labeling().sessions.get_session(store, session_id)
    return out


def _show(obj: Context, out: dict) -> None:
    if obj.as_json:
        return echo_json(out)
    if out.get("classes"):
        return classes_cli.show_session(out)
    c = out["labels"]
    click.echo(
        f"session {out['id']} '{out['name']}' on {out['dataset']} (from {out['source']}); "
        f"{c['labeled']} labels ({c['positives']} positive, {c['negatives']} negative); "
        f"SQL function {out['function']}"
    )
    echo_table(
        ["round", "mode", "labeled", "F1 estimated", "threshold", "created"],
        [
            [
                r["round"],
                r["mode"],
                r["metrics"].get("labeled"),
                quality_text(r["metrics"]),
                r["threshold"],
                r["created"],
            ]
            for r in out["rounds"]
        ],
    )
    click.echo(estimate_line(out))


def estimate_line(out: dict) -> str:
    """The session's estimate over the whole dataset, in one line (or why there is none)."""
    est = out.get("estimate")
    if est is None:
        if out.get("estimating"):
            return f"estimate: being computed for round {out['round']}"
        if not out.get("audit_rate"):
            return "estimate: no audit labels (create with --audit-rate, or next --audit N)"
        return "estimate: not enough audit labels yet"

    def span(name, fmt="{:.3f}"):
        if est[name] is None:
            return f"{name} undefined"
        return f"{name} {fmt.format(est[name])} [{fmt.format(est[name + '_low'])}, {fmt.format(est[name + '_high'])}]"

    audited = "every item labeled" if est["audited"] is None else f"{est['audited']} audit labels"
    return (
        f"estimate (round {est['round']}, {audited}, 95% intervals): {span('f1')}; "
        f"{span('precision')}; {span('recall')}; {span('positives', '{:.0f}')} of {est['items']} items. "
        f"{'Stop: ' if est['stop'] else 'Keep labeling: '}{est['stop_reason']}"
    )
