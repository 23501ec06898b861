// Sessions with classes (one pass, many classes): the classes with keys 1-9 and a picker beyond
// nine, the marks a class key gives, and what the page shows differently for such a session. The
// body's data-kind ("multi" or "binary") shows the controls of the open session's kind (style.css).

import { el } from "./grid.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const KEYED = 9;

const STRATEGIES = {
  binary: [
    ["mixed", "mixed: likely positives + hard negatives"],
    ["top", "top: most likely positives"],
    ["boundary", "boundary: nearest the threshold"],
    ["random", "random"],
  ],
  multi: [
    ["balanced", "balanced: hard items, classes with few labels first"],
    ["margin", "margin: smallest gap between two classes"],
    ["top", "top: each class's most confident"],
    ["random", "random"],
  ],
};

/** The open session has classes. */
export const isMulti = () => Boolean(state.session?.classes?.length);
export const classes = () => state.session?.classes || [];

/**
 * What a key does in a session with classes: {cls} for 1-9 (the class in that place), {accept}
 * for `a` (each tile's predicted class), {pick} for `c` (the picker, beyond nine); else null.
 */
export function classKey(e) {
  if (!isMulti() || e.ctrlKey || e.metaKey || e.altKey) return null;
  if (/^[1-9]$/.test(e.key)) {
    const cls = classes()[Number(e.key) - 1];
    return cls === undefined ? null : { cls };
  }
  if (e.key === "a") return { accept: true };
  if (e.key === "c" && classes().length > KEYED) return { pick: true };
  return null;
}

/** A bar of class buttons (the first nine with their key) and, beyond nine, a picker. */
function renderBar(bar, onClass) {
  const list = classes();
  const buttons = list.slice(0, KEYED).map((cls, i) => el("button", {
    type: "button", title: `${cls} (${i + 1})`, "data-class": cls, onclick: () => onClass(cls),
  }, el("kbd", { text: String(i + 1) }), ` ${cls}`));
  bar.replaceChildren(...buttons);
  if (list.length > KEYED) {
    const picker = el("select", { class: "class-picker", "aria-label": "More classes (c)" },
      el("option", { value: "", text: `more classes (c): ${list.length - KEYED}` }),
      ...list.slice(KEYED).map((cls) => el("option", { value: cls, text: cls })));
    picker.addEventListener("change", () => {
      if (picker.value) onClass(picker.value);
      picker.value = "";
    });
    bar.append(picker);
  }
}

/** Focus the picker of classes beyond nine (the `c` key). */
export function focusPicker() {
  $("class-bar").querySelector(".class-picker")?.focus();
}

/** The class a digit key gives (1-9: the class in that place), or null. */
export function classOfKey(e) {
  const key = classKey(e);
  return key && key.cls !== undefined ? key.cls : null;
}

/** The Labels filter's review list: not a class name (class names are trimmed). */
export const REVIEW = " review";
export const CLASS = "class:"; // a class's filter value: a class may be named "all"

/**
 * Show the page for the open session's kind. label(cls): what a class button does (labels the
 * focused or selected tiles of the open view, as the class's key does).
 */
export function configure(label) {
  const multi = isMulti();
  document.body.dataset.kind = multi ? "multi" : "binary";
  const strategy = $("batch-strategy");
  const wanted = STRATEGIES[multi ? "multi" : "binary"];
  if (strategy.options[0]?.value !== wanted[0][0]) {
    strategy.replaceChildren(...wanted.map(([value, text]) => el("option", { value, text })));
  }
  const filter = $("labels-filter");
  const options = multi
    ? [["all", "all"], ...classes().map((c) => [CLASS + c, c]), [REVIEW, "labeled differently (review)"]]
    : [["all", "all"], ["pos", "positives"], ["neg", "negatives"], [REVIEW, "labeled differently (review)"]];
  filter.replaceChildren(...options.map(([value, text]) => el("option", { value, text })));
  if (!multi) return;
  renderBar($("class-bar"), label);
  $("pred-class").replaceChildren(el("option", { value: "", text: "— a class —" }),
    ...classes().map((c) => el("option", { value: c, text: c })));
}

/** The session's labels in one line: "12 (cat 5, dog 4, bird 3)". */
export function labelSummary(labels) {
  const per = Object.entries(labels.per_class || {}).map(([c, n]) => `${c} ${n}`).join(", ");
  return `${labels.labeled} (${per})`;
}

/** The progress panel's numbers of a session with classes. */
export function renderClassProgress(session) {
  const last = session.rounds.at(-1) || { metrics: {} };
  const m = last.metrics;
  $("stat-labels").textContent = labelSummary(session.labels);
  $("stat-accuracy").textContent = typeof m.accuracy === "number"
    ? `${m.accuracy.toFixed(3)} (macro F1 ${m.macro_f1.toFixed(3)}, ${m.cv_folds} folds)`
    : "after a round with labels of two classes";
  const est = session.estimate;
  $("stat-estimate").textContent = est && typeof est.accuracy === "number"
    ? `${est.accuracy.toFixed(3)} [${est.accuracy_low.toFixed(3)}, ${est.accuracy_high.toFixed(3)}] from ${est.audited} audit labels`
    : "needs audit labels (audit_rate)";
}

/** A batch's labels as the API takes them: each marked item with its class and provenance. */
export function batchLabels(ids, marks, items, round) {
  const byId = new Map(items.map((it) => [it.id, it]));
  return ids.map((id) => ({ item_id: id, class: marks.get(id), source: byId.get(id)?.source, round }));
}
