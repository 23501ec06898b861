"""The BENCHMARKS.md section and plot of bench/estimates.py, from its runs."""

from __future__ import annotations

import numpy as np

from bench.report import PLOTS, machine, table

AT = (10, 20, 30, 50)
COST_AT = 100
ARMS = {  # name -> (arm, where the estimate is in a row)
    "new design, new estimator (the service)": ("new", "estimate"),
    "uniform draws, today's estimator": ("today", "old"),
    "uniform draws, new estimator": ("today", "estimate"),
}


def cells(runs, arm, key, quantity="f1"):
    """(run, row, estimate) for every round with an estimate of `quantity`."""
    out = []
    for run_ in runs:
        if arm not in run_:
            continue
        sessions = run_[arm] if arm == "new" else [run_[arm]]
        for rows in sessions:
            for row in rows:
                e = row.get(key)
                if e and "error" not in e and e.get(quantity) is not None and e.get(f"{quantity}_low") is not None:
                    out.append((run_, row, e))
    return out


def covered(row, e, quantity="f1") -> bool:
    truth = row["truth"][quantity]
    return truth is not None and e[f"{quantity}_low"] - 1e-9 <= truth <= e[f"{quantity}_high"] + 1e-9


def summary(sel) -> str:
    if not sel:
        return "-"
    cov = np.mean([covered(r, e) for _, r, e in sel])
    width = np.mean([e["f1_high"] - e["f1_low"] for _, _, e in sel])
    return f"{cov:.3f} / {width:.3f} ({len(sel)})"


def width_at(sel, m):
    w = [e["f1_high"] - e["f1_low"] for _, r, e in sel if r["audited"] == m]
    return float(np.mean(w)) if w else float("nan")


def cover_at(sel, m):
    c = [covered(r, e) for _, r, e in sel if r["audited"] == m]
    return float(np.mean(c)) if c else float("nan")


def cost(runs, arm):
    def audited(r):
        rows = r[arm][0] if arm == "new" else r[arm]
        return rows[min(COST_AT // 10, len(rows)) - 1]["heldout_f1"]

    d = [r["baseline"][-1]["heldout_f1"] - audited(r) for r in runs]
    return float(np.mean(d)), float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0, len(d)


def stop_check(runs, share):
    """The stop rule's projected width after 50 labels (recomputed from each stored estimate by
    the service's stop_rule) against the width measured 5 rounds (50 labels) later."""
    from vectrain.labeling.estimators import stop_rule

    projected, actual = [], []
    for run_ in runs:
        for rows in run_["new"]:
            for i, row in enumerate(rows[:-5]):
                e, later = row.get("estimate"), rows[i + 5].get("estimate")
                if e and later and e.get("f1") is not None and later.get("f1_low") is not None:
                    projected.append(stop_rule(e, more_audit=50 * share, more_labels=50)["width_after"])
                    actual.append(later["f1_high"] - later["f1_low"])
    return np.asarray(projected), np.asarray(actual)


def shares(others) -> str:
    """Other audit shares, measured the same way: coverage, widths and the audit's cost."""
    if not others:
        return ""
    rows = []
    for args, runs in others:
        sel = cells(runs, "new", "estimate")
        c, se, n = cost(runs, "new")
        share = sum(args.schedule) / (10 * len(args.schedule))
        rows.append(
            [f"{share:.2f} ({', '.join(map(str, args.schedule))})", f"{np.mean([covered(r, e) for _, r, e in sel]):.3f}",
             f"{cover_at(sel, 30):.3f} / {cover_at(sel, 50):.3f}",
             f"{width_at(sel, 30):.3f} (at {int(30 / share)} labels)", f"{width_at(sel, 50):.3f} (at {int(50 / share)} labels)",
             f"{c:+.4f} +- {se:.4f}", f"seeds {args.seeds}, {args.reps} session(s) each, {args.rounds} rounds"]
        )  # fmt: skip
    return (
        "\n\nThe same sessions by audit share (same seeds, the service's design; a lower share reaches 30 "
        "and 50 audit labels later, with a better classifier, and costs the training set less):\n\n"
        + table(
            [
                "audit share",
                "coverage",
                "coverage @30 / @50 audit labels",
                "width @30",
                "width @50",
                f"cost @{COST_AT} labels",
                "runs",
            ],
            rows,
        )  # fmt: skip
    )


def command(args) -> str:
    return (
        f"`.venv/bin/python -m bench.estimates --seeds {' '.join(map(str, args.seeds))} --reps {args.reps} "
        f"--rounds {args.rounds} --schedule {' '.join(map(str, args.schedule))}"
        f"{' --no-today' if args.no_today else ''} --out {args.out} --no-write`"
    )


def report(runs, args, seconds, others=(), names=()) -> str:
    new = cells(runs, "new", "estimate")
    at_rows = []
    for name, (arm, key) in ARMS.items():
        sel = cells(runs, arm, key)
        at_rows.append([name] + [summary([c for c in sel if c[1]["audited"] == m]) for m in AT] + [summary(sel)])
    cov_all = np.mean([covered(r, e) for _, r, e in new])
    w30, w50 = width_at(new, 30), width_at(new, 50)
    c_new, se_new, n_pairs = cost(runs, "new")
    c_today, se_today, _ = cost(runs, "today") if all("today" in r for r in runs) else (float("nan"), 0.0, 0)
    other = [
        [q, f"{np.mean([covered(r, e, q) for _, r, e in cells(runs, 'new', 'estimate', q)]):.3f}"]
        for q in ("precision", "recall", "positives")
    ]
    projected, actual = stop_check(runs, sum(args.schedule) / (10 * len(args.schedule)))
    at_least = [(r["truth"]["f1"] >= e["f1_at_least"] - 1e-9) for _, r, e in new if e.get("f1_at_least") is not None]
    waits = [r["background_seconds"] for run_ in runs for rows in run_["new"] for r in rows]
    acceptance = [
        ["coverage of the true whole-dataset F1, sessions x rounds with an estimate", f"{cov_all:.3f}", ">= 0.90",
         _met(cov_all >= 0.90)],
        ["mean width of the 95% F1 interval at 30 audit labels", f"{w30:.3f}", "<= 0.25", _met(w30 <= 0.25)],
        ["mean width at 50 audit labels", f"{w50:.3f}", "<= 0.15", _met(w50 <= 0.15)],
        [f"audit cost: held-out F1 at {COST_AT} labels, no-audit baseline minus audited session "
         f"(mean of {n_pairs} pairs +- standard error)", f"{c_new:+.4f} +- {se_new:.4f}", "<= 0.01", _met(c_new <= 0.01)],
    ]  # fmt: skip
    per_class = []
    for cls in dict.fromkeys(r["class"] for r in runs):
        mine = [c for c in new if c[0]["class"] == cls]
        last = [rows[-1] for r in runs if r["class"] == cls for rows in r["new"] if rows[-1].get("estimate")]
        per_class.append(
            [cls, next(r["start"] for r in runs if r["class"] == cls), f"{np.mean([covered(r, e) for _, r, e in mine]):.3f}",
             f"{width_at(mine, 30):.3f}", f"{width_at(mine, 50):.3f}",
             f"{np.mean([r['truth']['f1'] for r in last]):.3f}", f"{np.mean([r['estimate']['f1'] for r in last]):.3f}"]
        )  # fmt: skip
    plot = PLOTS / args.plot
    _plot(runs, plot)
    return (
        "## Audit estimates: do the intervals hold the truth, how narrow, and what does the audit cost? "
        "(`bench/estimates.py`)\n\n"
        f"Food-101 CLIP ViT-B/32 embeddings (../shared/data), {machine()}; all ten classes; split seeds "
        f"{args.seeds} (the estimator's constants were tuned on seeds 0-4: in a numpy simulation of these sessions, "
        "the stop rule's exponent on the service's own runs); 80% of each class in "
        "the database (1,600 items, 160 positives), 20% held out. Sessions start from the class's ImageNet prompt "
        "embedding (4 classes) or two random positive examples (6), and run 10 oracle labels a round "
        f"({', '.join(map(str, args.schedule))} of them audit draws, in turn), the rest `mixed`, one `auto` training round after each, {args.rounds} rounds; "
        f"{args.reps} audited session(s) per class and seed by the service's design, "
        + ("" if args.no_today else "one with uniform draws (today's design) measured by both estimators, ")
        + "and a no-audit baseline. The estimate is read from "
        f"`GET /sessions/{{id}}` after each round's background step. {seconds:.0f} s in all.\n\n"
        + table(["acceptance", "value", "target", "met"], acceptance)
        + "\n\nCoverage of the true whole-dataset F1 / mean width of the 95% interval (cells), by audit labels:\n\n"
        + table(
            ["design and estimator"] + [f"{m} audit labels" for m in AT] + ["every round with an estimate"], at_rows
        )
        + "\n\nThe service's other intervals over the same cells (coverage): "
        + ", ".join(f"{q} {v}" for q, v in other)
        + f'. The stop rule\'s one-sided bound ("F1 is at least X") held in {np.mean(at_least):.3f} of '
        f'{len(at_least)} rounds. Its projection "another 50 labels would narrow it by about Y": projected width '
        f"{projected.mean():.3f} against {actual.mean():.3f} measured 5 rounds later (mean over {len(actual)} "
        f"rounds; median absolute error {np.median(np.abs(projected - actual)):.3f}). The audit's cost with uniform "
        f"draws: {c_today:+.4f} +- {se_today:.4f}. The background step (predictor fit, 1,600 items scored, "
        f"estimate) took {np.mean(waits) * 1000:.0f} ms a round on average (max {np.max(waits) * 1000:.0f} ms), "
        "after the training round had answered."
        + (shares([(args, runs), *others]) if others else "")
        + "\n\nPer class (the service's sessions):\n\n"
        + table(
            [
                "class",
                "start",
                "coverage",
                "width @30",
                "width @50",
                f"true F1 @{args.rounds * 10}",
                f"estimate @{args.rounds * 10}",
            ],
            per_class,
        )  # fmt: skip
        + f"\n\n![estimates](bench/plots/{plot.name})\n\n"
        "Reading it. The width follows the errors left to find (in the per-class table, the weaker the classifier, "
        "the wider its intervals), and a surprise (a "
        "positive drawn where the predictor was sure of a negative, weighted by its small probability) can move "
        "a session's estimate far for a round or two while its interval widens to match. "
        "The audit's cost is what its labels would have taught the classifier: it grows with the audit share, "
        "not with the design (uniform draws cost as much).\n\n"
        + "Commands: "
        + ", ".join(command(a) for a in [args, *(o[0] for o in others)])
        + (f", then `.venv/bin/python -m bench.estimates --render {' '.join(names)}`" if names else "")
    )


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for name, (arm, key) in ARMS.items():
        sel = cells(runs, arm, key)
        ms = sorted({r["audited"] for _, r, _ in sel})
        axes[0].plot(ms, [width_at(sel, m) for m in ms], "o-", ms=3, label=name)
        axes[1].plot(ms, [np.mean([covered(r, e) for _, r, e in sel if r["audited"] == m]) for m in ms], "o-", ms=3)
    axes[0].set(title="mean width of the 95% F1 interval", xlabel="audit labels", ylim=(0, 1))
    axes[0].legend(fontsize=7)
    axes[1].axhline(0.95, color="gray", lw=0.8, ls="--")
    axes[1].set(title="coverage of the true F1", xlabel="audit labels", ylim=(0.5, 1.02))
    for ax, cls in zip(axes[2:], [runs[0]["class"], runs[min(5, len(runs) - 1)]["class"]]):
        run_ = next(r for r in runs if r["class"] == cls)
        rows = run_["new"][0]
        est = [r for r in rows if r.get("estimate")]
        x = [r["labels"] for r in est]
        ax.fill_between(x, [r["estimate"]["f1_low"] for r in est], [r["estimate"]["f1_high"] for r in est], alpha=0.25,
                        label="95% interval")  # fmt: skip
        ax.plot(x, [r["estimate"]["f1"] for r in est], "o-", ms=3, label="estimate")
        ax.plot(x, [r["estimate"]["f1_at_least"] for r in est], "v", ms=3, color="tab:green", label="at least (95%)")
        ax.plot([r["labels"] for r in rows], [r["truth"]["f1"] for r in rows], "k--", lw=1.2, label="true F1")
        old = [r for r in run_.get("today", []) if r.get("old") and r["old"].get("f1") is not None]
        ax.plot(
            [r["labels"] for r in old],
            [r["old"]["f1_low"] for r in old],
            ":",
            color="tab:red",
            label="today's interval",
        )
        ax.plot([r["labels"] for r in old], [r["old"]["f1_high"] for r in old], ":", color="tab:red")
        ax.set(title=f"{cls} (seed {run_['seed']})", xlabel="labels", ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
