// The Results view: apply the classifier to the whole dataset, browse its predictions by score,
// the SQL that publishes it, and its weights.

import { download, downloadFile, get, post, seg } from "../api.js";
import { isMulti } from "../classes.js";
import { TileGrid, el } from "../grid.js";
import { guard, say } from "../messages.js";
import { writeLabels } from "../mine.js";
import { dataset, state } from "../state.js";
import { needSession, showTab } from "../tabs.js";

const $ = (id) => document.getElementById(id);
const PRED_PAGE = 40;
// Given by wireResults(): what other views do for this one (views do not import each other).
const hooks = {
  moreLikeThis: null, // Find: the nearest items to a tile
  runSql: null, // SQL: run the query in its box
};

export const predGrid = new TileGrid($("pred-grid"), {
  label: "Predictions", dataset, moreLikeThis: (item) => hooks.moreLikeThis(item),
  empty: "Apply the classifier to see its predictions.", yours: (id) => state.mine.get(id),
});

export async function loadResults() {
  if (!needSession("pred-range", predGrid)) return;
  await Promise.all([loadPredictions(), loadSessionSql()]);
}

async function loadPredictions(mode = state.pred.mode, offset) {
  if (isMulti()) return loadClassPredictions(mode, offset);
  const sid = seg(state.session.id);
  state.pred.mode = mode;
  for (const b of document.querySelectorAll("[data-browse]")) b.setAttribute("aria-pressed", String(b.dataset.browse === mode));
  let res;
  try {
    // The first call tells the totals; the mode then decides where to look.
    res = await get(`sessions/${sid}/predictions`, { offset: 0, limit: 1 });
  } catch (err) {
    if (err.status !== 404) throw err;
    $("apply-info").textContent = "Not applied yet: Apply scores every item with the latest round.";
    $("pred-range").textContent = "";
    await predGrid.setItems([]);
    return;
  }
  state.pred.total = res.total;
  state.pred.positives = res.positives;
  const stale = res.round < state.session.round ? ` The classifier is at round ${state.session.round} now: Apply again to update.` : "";
  $("apply-info").textContent = `Round ${res.round}: ${res.positives.toLocaleString()} of ${res.total.toLocaleString()} items positive.${stale}`;
  if (offset === undefined) {
    offset = mode === "top" ? 0
      : mode === "threshold" ? Math.max(0, res.positives - PRED_PAGE / 2)
        : Math.max(0, res.total - PRED_PAGE);
  }
  state.pred.offset = Math.max(0, Math.min(offset, Math.max(0, res.total - 1)));
  const page = await get(`sessions/${sid}/predictions`, { offset: state.pred.offset, limit: PRED_PAGE });
  let items = page.items.map((p) => ({ id: p.id, label: p.label, margin: p.margin, positive: p.positive }));
  if (mode === "bottom") items = items.reverse(); // the most confident negative first
  const end = state.pred.offset + page.items.length;
  $("pred-range").textContent = `ranks ${state.pred.offset + 1}–${end} of ${res.total.toLocaleString()} by score`
    + (mode === "bottom" ? " (shown lowest first)" : "")
    + `; pred is the decision and score \u2212 threshold (${page.threshold.toFixed(3)}); 1, 0 or x labels a tile`;
  await predGrid.setItems(items);
}

/**
 * A session with classes: mode "margin" pages every item by smallest margin (the items the
 * classifier can least decide), any other mode is a class, paged most confident first.
 */
async function loadClassPredictions(mode, offset = 0) {
  const sid = seg(state.session.id);
  if (mode !== "margin" && !state.session.classes.includes(mode)) mode = "margin";
  state.pred.mode = mode;
  $("pred-margin").setAttribute("aria-pressed", String(mode === "margin"));
  $("pred-class").value = mode === "margin" ? "" : mode;
  state.pred.offset = Math.max(0, offset);
  const params = { offset: state.pred.offset, limit: PRED_PAGE, ...(mode === "margin" ? {} : { class: mode }) };
  let page;
  try {
    page = await get(`sessions/${sid}/predictions`, params);
  } catch (err) {
    if (err.status !== 404) throw err;
    $("apply-info").textContent = "Not applied yet: Apply stores every item's class and publishes the classifier.";
    $("pred-range").textContent = "";
    await predGrid.setItems([]);
    return;
  }
  const counts = Object.entries(page.classes).map(([c, n]) => `${c} ${n.toLocaleString()}`).join(", ");
  const stale = page.round < state.session.round ? ` The classifier is at round ${state.session.round} now: Apply again to update.` : "";
  $("apply-info").textContent = `Round ${page.round}: ${counts}.${stale}`;
  const end = state.pred.offset + page.items.length;
  $("pred-range").textContent = `${state.pred.offset + 1}–${end} of ${page.total.toLocaleString()}, `
    + (mode === "margin" ? "smallest margin first" : `predicted ${mode}, most confident first`)
    + "; pred is the predicted class and its probability; 1-9 label a tile";
  await predGrid.setItems(page.items.map((p) => ({ id: p.id, label: p.label, class: p.class, score: p.score })));
}

/** A label key on a prediction: label it in the session at once (one undo step). */
export async function labelPreds(score, items) {
  const targets = items || predGrid.targets();
  if (!targets.length) return;
  if (await writeLabels(targets.map((t) => t.id), score)) predGrid.clearSelection();
}

function exportSession(format) {
  return downloadFile(`sessions/${seg(state.session.id)}/export`, { format }, `${state.session.name}.${format}`);
}

async function applyClassifier() {
  const sid = seg(state.session.id);
  $("apply-button").disabled = true;
  try {
    const res = await post(`sessions/${sid}/apply`, {});
    const found = res.classes
      ? Object.entries(res.classes).map(([c, n]) => `${c} ${n.toLocaleString()}`).join(", ")
      : `${res.positives.toLocaleString()} positive`;
    say(`Applied round ${res.round} to ${res.items.toLocaleString()} items (${found}) in ${res.seconds} s; published as ${res.function}.`);
    await Promise.all([loadPredictions(isMulti() ? "margin" : "top"), loadSessionSql()]);
  } finally {
    $("apply-button").disabled = false;
  }
}

async function loadSessionSql() {
  const res = await get(`sessions/${seg(state.session.id)}/sql`);
  $("sql-function").textContent = res.function;
  $("sql-view").textContent = res.view;
  $("sql-published").textContent = res.published
    ? `published from round ${res.round}; use them in any query, e.g. the example below.`
    : `not published yet (round ${res.round}): Apply publishes it.`;
  $("sql-statements").textContent = res.statements.map((s) => `${s.trim()};`).join("\n\n");
  $("sql-example").textContent = res.example;
}

async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (e.g. plain http on another host): the selection way.
    const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error(`Could not copy: select the ${what} and copy it by hand.`);
  }
  say(`Copied the ${what} to the clipboard.`);
}

/** given: moreLikeThis(item) and runSql() of the other views (see hooks). */
export function wireResults(given) {
  Object.assign(hooks, given);
  $("apply-button").addEventListener("click", () => guard(applyClassifier, "apply"));
  for (const b of document.querySelectorAll("[data-browse]")) {
    b.addEventListener("click", () => guard(() => loadPredictions(b.dataset.browse)));
  }
  $("pred-margin").addEventListener("click", () => guard(() => loadPredictions("margin")));
  $("pred-class").addEventListener("change", (e) => guard(() => loadPredictions(e.target.value || "margin")));
  $("pred-prev").addEventListener("click", () => guard(() => loadPredictions(state.pred.mode, state.pred.offset - PRED_PAGE)));
  $("pred-next").addEventListener("click", () => guard(() => loadPredictions(state.pred.mode, state.pred.offset + PRED_PAGE)));
  $("copy-sql").addEventListener("click", () => guard(() => copyText($("sql-statements").textContent, "SQL")));
  $("run-example").addEventListener("click", () => guard(async () => {
    $("sql-query").value = $("sql-example").textContent;
    await showTab("sql", { focus: false });
    await hooks.runSql();
  }));
  $("export-csv").addEventListener("click", () => guard(() => exportSession("csv")));
  $("export-jsonl").addEventListener("click", () => guard(() => exportSession("jsonl")));
  $("weights-npy").addEventListener("click", () => guard(() =>
    download(`sessions/${seg(state.session.id)}/weights`, { format: "npy" }, "weights.npy")));
  $("weights-json").addEventListener("click", () => guard(() =>
    download(`sessions/${seg(state.session.id)}/weights`, {}, `${state.session.name}.json`)));
}
