"""Evaluation reports for kNN, zero-shot and tourney classification.

Accuracy, macro and weighted F1, a per-class table, the confusion matrix, queries/s and the
CIFAR paper's reliability view (accuracy per bin of similarity), as a JSON-ready dict; PNG
plots with matplotlib (Agg backend, no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vectrain.classify import knn, tourney, zeroshot
from vectrain.core.budget import Deadline
from vectrain.core.choices import EvalMethod
from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.storage.query import Query
from vectrain.storage.store import Store

METHODS = tuple(EvalMethod.values())


def metrics(y_true: list[str], y_pred: list[str], confidence=None, bins: int = 10) -> dict:
    """Scores of predictions against the true labels; `confidence` drives the reliability view."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    if not y_true:
        raise BadInput("Nothing to evaluate: no rows with a true label")
    classes = sorted(set(y_true) | set(y_pred))
    index = {c: i for i, c in enumerate(classes)}
    t = np.asarray([index[c] for c in y_true])
    p = np.asarray([index[c] for c in y_pred])
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    present = support > 0  # macro over classes that occur in the truth (sklearn's labels=y_true)
    report = {
        "n": int(len(t)),
        "accuracy": float((t == p).mean()),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "classes": classes,
        "per_class": [
            {
                "label": c,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        ],
        "confusion": cm.tolist(),
    }
    if confidence is not None:
        report["reliability"] = reliability(np.asarray(confidence, dtype=float), t == p, bins)
    return report


def reliability(signal: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """Accuracy per equal-count bin of the signal (kNN: neighbours' mean similarity)."""
    if len(signal) == 0:
        return []
    edges = np.unique(np.quantile(signal, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, signal, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in range(max(len(edges) - 1, 1)):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[min(b + 1, len(edges) - 1)]),
                    "n": int(mask.sum()),
                    "accuracy": float(correct[mask].mean()),
                    "mean_signal": float(signal[mask].mean()),
                }
            )
    return out


def evaluate(store: Store, method: str, dataset: str, deadline: Deadline = Deadline.none(), **options) -> dict:
    """Run one method over a labeled split and score it against the items' labels."""
    if method == "knn":
        split = options.pop("split", "test")
        result = knn.classify(store, dataset, split=split, deadline=deadline, **options)
        pairs = [(t, i["label"], i["similarity"]) for t, i in zip(result["true_labels"], result["items"]) if t]
        extra = {
            "train_rows": result["train_rows"],
            "plan": result["plan"],
            "k": options.get("k", 10),
            "weighting": options.get("weighting", "majority"),
        }
        signal = "mean neighbour similarity"
    elif method in ("zero-shot", "tourney"):
        labelset = options.pop("labelset", None)
        if not labelset:
            raise BadInput(f"{method} needs a labelset")
        split = options.pop("split", None)
        if method == "zero-shot":
            from vectrain.classify import labelsets

            ls, _ = labelsets.for_dataset(store, labelset, dataset)
            result = zeroshot.classify(store, dataset, labelset, split=split, limit=None, top=1, deadline=deadline)
            truth = _true_labels(store, dataset, [i["id"] for i in result["items"]])
            result["true_labels"] = truth
            result["queries_per_second"] = len(truth) / result["seconds"] if result["seconds"] else 0.0
            known = set(ls.labels)
        else:
            result = tourney.classify(store, dataset, labelset, split=split, deadline=deadline, **options)
            from vectrain.classify import labelsets

            known = set(labelsets.get(store, labelset).labels)
        # Items whose true class has no label in the set cannot be right: leave them out, and say so.
        pairs = [(t, i["label"], i["score"]) for t, i in zip(result["true_labels"], result["items"]) if t in known]
        extra = {"labelset": labelset, "skipped_unlabeled_or_unknown_class": len(result["items"]) - len(pairs)}
        signal = "top label similarity"
        if method == "tourney":
            zs = [(t, i["zero_shot_label"]) for t, i in zip(result["true_labels"], result["items"]) if t in known]
            extra["argmax"] = {
                k: v
                for k, v in metrics([a for a, _ in zs], [b for _, b in zs]).items()
                if k in ("accuracy", "macro_f1", "weighted_f1")
            }
            extra["dims"] = result["dims"]
    else:
        raise BadInput(f"Unknown method {method!r}: use one of {', '.join(METHODS)}")
    report = metrics([a for a, _, _ in pairs], [b for _, b, _ in pairs], [c for _, _, c in pairs])
    report.update(
        {
            "method": method,
            "dataset": dataset,
            "split": split,
            "seconds": result["seconds"],
            "queries_per_second": result["queries_per_second"],
            "reliability_signal": signal,
            **extra,
        }
    )
    return report


def _true_labels(store: Store, dataset: str, ids: list[str]) -> list[str]:
    table = store.query_arrow(Query.named("classify.id_labels", db=store.database, items=items_table(dataset)))
    labels = dict(zip(table.column("id").to_pylist(), table.column("label").to_pylist()))
    return [labels.get(i, "") for i in ids]


def plot(report: dict, out_dir: str | Path, prefix: str | None = None) -> list[str]:
    """Confusion matrix and reliability PNGs; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = prefix or f"{report['method']}_{report['dataset']}"
    paths = []
    classes, cm = report["classes"], np.asarray(report["confusion"])
    size = max(4.0, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(classes) <= 20:
        for i in range(len(classes)):
            for j in range(len(classes)):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        str(cm[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black",
                    )
    ax.set_title(f"{report['method']} on {report['dataset']}: accuracy {report['accuracy']:.3f}")
    fig.tight_layout()
    path = out / f"{prefix}_confusion.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(str(path))
    rel = report.get("reliability") or []
    if rel:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = [b["mean_signal"] for b in rel]
        ax.plot(x, [b["accuracy"] for b in rel], marker="o")
        for b in rel:
            ax.annotate(
                str(b["n"]), (b["mean_signal"], b["accuracy"]), fontsize=7, textcoords="offset points", xytext=(0, 5)
            )
        ax.set_xlabel(report.get("reliability_signal", "similarity") + " (bin mean)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{report['method']} on {report['dataset']}: accuracy by similarity")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"{prefix}_reliability.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(str(path))
    return paths
