// The Label view: the next batch from POST /next, marks kept in the page until Enter sends them
// (POST /labels, then /train, then /next), undo, and the session's progress.

import { api, get, post, seg } from "../api.js";
import { drawCurve } from "../curve.js";
import { TileGrid } from "../grid.js";
import { guard, say } from "../messages.js";
import { dataset, state } from "../state.js";
import { needSession } from "../tabs.js";

const $ = (id) => document.getElementById(id);

export const labelGrid = new TileGrid($("label-grid"), {
  label: "Batch to label", dataset,
  empty: "No batch yet.", onChange: () => updatePending(),
});

function batchParams() {
  const k = Math.max(1, Math.min(200, parseInt($("batch-k").value, 10) || 10));
  $("batch-k").value = k;
  return { k, strategy: $("batch-strategy").value };
}

export async function loadLabelView() {
  if (!needSession("batch-title", labelGrid)) return;
  const key = `${state.session.id}:${state.session.round}`;
  if (state.batchKey === key && state.batch.length) return; // keep this batch and its marks
  await fetchBatch();
}

function requestBatch() {
  return api("POST", `sessions/${seg(state.session.id)}/next`, { json: batchParams() });
}

async function fetchBatch() {
  return showBatch(await requestBatch());
}

/** Show a batch from POST /next; resolves when its thumbnails (or placeholders) are on screen. */
function showBatch(res) {
  state.batch = res.items;
  state.batchKey = `${state.session.id}:${state.session.round}`;
  state.undo = [];
  state.markOrder = [];
  $("batch-title").textContent = res.items.length
    ? `Round ${res.round}: ${res.items.length} items to label (${res.strategy}); scores are the classifier's, threshold ${fmt(state.session.rounds.at(-1)?.threshold)}`
    : "Every item of this dataset is labeled.";
  const shown = labelGrid.setItems(res.items);
  if (state.tab === "label") labelGrid.focus(0);
  renderProgress();
  return shown;
}

export function markTargets(score) {
  const targets = labelGrid.targets();
  if (!targets.length) return;
  const changes = targets.map((it) => ({ id: it.id, before: labelGrid.marks.get(it.id) }));
  for (const it of targets) {
    labelGrid.setMark(it.id, score);
    state.markOrder = state.markOrder.filter((id) => id !== it.id);
    if (score !== undefined) state.markOrder.push(it.id);
  }
  state.undo.push({ changes });
  const current = labelGrid.current();
  const several = labelGrid.selected.size > 1 || (labelGrid.selected.size === 1 && !labelGrid.selected.has(current?.id));
  if (labelGrid.selected.size) labelGrid.clearSelection();
  else labelGrid.refresh();
  // One tile at a time: move on to the next one, as a person labeling a row would.
  if (!several && score !== undefined && labelGrid.focusIndex < labelGrid.tiles.length - 1) {
    labelGrid.focus(labelGrid.focusIndex + 1);
  }
}

export async function undo() {
  const last = state.undo.pop();
  if (last) {
    for (const { id, before } of last.changes.slice().reverse()) {
      labelGrid.setMark(id, before);
      state.markOrder = state.markOrder.filter((x) => x !== id);
      if (before !== undefined) state.markOrder.push(id);
    }
    labelGrid.refresh();
    const index = labelGrid.items.findIndex((it) => it.id === last.changes[0].id);
    if (index >= 0) labelGrid.focus(index);
    say(`Undone: ${last.changes.map((c) => c.id).join(", ")}.`);
    return;
  }
  // Nothing marked in this batch: take back the last label already sent.
  const id = state.sent.pop();
  if (!id) {
    say("Nothing to undo. Earlier labels can be changed or removed in Labels (b).");
    return;
  }
  try {
    await api("DELETE", `sessions/${seg(state.session.id)}/labels/${seg(id)}`);
  } catch (err) {
    state.sent.push(id);
    throw err;
  }
  state.session = await get(`sessions/${seg(state.session.id)}`);
  renderProgress();
  say(`Removed the label of ${id}; the next round trains without it.`);
}

export async function submitBatch() {
  if (state.busy || !state.session) return;
  const started = performance.now();
  const labels = state.markOrder.map((id) => ({ item_id: id, score: labelGrid.marks.get(id) }));
  if (!labels.length && !state.untrained) {
    say("Mark some tiles first: 1 or + positive, 0 or - negative. Enter then trains a round.");
    return;
  }
  state.busy = true;
  document.body.classList.add("busy");
  $("submit-button").disabled = true;
  try {
    const sid = seg(state.session.id);
    const t = [performance.now()];
    // Labels sent but not trained on (the training failed): Enter trains without new marks.
    const stored = labels.length ? await post(`sessions/${sid}/labels`, { labels }) : { labels: state.session.labels };
    t.push(performance.now());
    if (labels.length) {
      state.sent = labels.map((l) => l.item_id);
      state.markOrder = [];
      state.undo = [];
      state.untrained = true;
    }
    say(`Sent ${labels.length} labels; training…`);
    const trained = await post(`sessions/${sid}/train`, { mode: "auto" });
    state.untrained = false;
    t.push(performance.now());
    // The answers of /labels and /train are the new state: no need to read the session again.
    const { round, mode, bias, threshold, metrics } = trained;
    state.session = {
      ...state.session, round, labels: stored.labels,
      rounds: [...state.session.rounds, { round, mode, bias, threshold, metrics }],
    };
    const next = await requestBatch();
    t.push(performance.now());
    await showBatch(next);
    t.push(performance.now());
    const ms = Math.round(t[4] - started);
    const step = (i) => Math.round(t[i] - t[i - 1]);
    state.timings.push({ round: trained.round, ms, labels: step(1), train: step(2), next: step(3), thumbnails: step(4) });
    document.body.dataset.lastBatchMs = String(ms);
    $("stat-timing").textContent = `Round ${trained.round} trained; the next batch was on screen ${ms} ms after Enter.`;
    say(`Round ${trained.round}: ${state.session.labels.labeled} labels, CV F1 ${fmt(trained.metrics.cv_f1)}.`);
  } finally {
    state.busy = false;
    document.body.classList.remove("busy");
    $("submit-button").disabled = false;
  }
}

function updatePending() {
  const marks = [...labelGrid.marks.values()];
  const pos = marks.filter((s) => s > 0).length;
  const neg = marks.filter((s) => s < 0).length;
  $("stat-pending").textContent = state.batch.length
    ? `${marks.length} of ${state.batch.length} marked (${pos}+ ${neg}−), sent on Enter`
    : "–";
}

export function f1Word(f1) {
  if (typeof f1 !== "number") return "";
  if (f1 < 0.7) return "not good";
  if (f1 < 0.85) return "ok";
  if (f1 < 0.95) return "good";
  return "great";
}

const fmt = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");

export function renderProgress() {
  const s = state.session;
  if (!s) return;
  const last = s.rounds.at(-1) || { metrics: {} };
  const f1 = last.metrics.cv_f1;
  $("stat-labels").textContent = `${s.labels.labeled} (${s.labels.positives} positive, ${s.labels.negatives} negative)`;
  $("stat-round").textContent = String(s.round);
  $("stat-f1").textContent = typeof f1 === "number" ? f1.toFixed(3)
    : s.round ? "needs positives and negatives" : "after the first round";
  const word = f1Word(f1);
  $("stat-f1-word").textContent = word;
  $("stat-f1-word").dataset.word = word.replace(" ", "-");
  $("stat-threshold").textContent = fmt(last.threshold);
  drawCurve($("curve"), s.rounds);
  updatePending();
}

async function fetchBatchKeepingMarks() {
  if (!state.session || state.tab !== "label") return;
  const marks = new Map(labelGrid.marks);
  await fetchBatch();
  // Marks of items still in the new batch survive a change of k or strategy.
  for (const [id, score] of marks) {
    if (state.batch.some((it) => it.id === id)) {
      labelGrid.setMark(id, score);
      state.markOrder.push(id);
    }
  }
  labelGrid.refresh();
}

export function wireLabel() {
  $("batch-k").addEventListener("change", () => guard(fetchBatchKeepingMarks));
  $("batch-strategy").addEventListener("change", () => guard(fetchBatchKeepingMarks));
  for (const b of document.querySelectorAll("[data-grade]")) {
    b.addEventListener("click", () => {
      markTargets(b.dataset.grade === "clear" ? undefined : Number(b.dataset.grade));
      labelGrid.focus();
    });
  }
  $("grade-slider").addEventListener("input", (e) => { $("grade-value").textContent = e.target.value; });
  $("grade-slider").addEventListener("change", (e) => {
    markTargets(Number(e.target.value));
  });
  $("undo-button").addEventListener("click", () => guard(undo));
  $("submit-button").addEventListener("click", () => guard(submitBatch));
}
