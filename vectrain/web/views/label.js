// The Label view: the next batch from POST /next, marks kept in the page until Enter sends them
// (POST /labels, then /train, then /next), undo (unsent marks here, then the session's label
// history), and the session's progress.

import { api, get, post, seg } from "../api.js";
import { batchLabels, isMulti, renderClassProgress } from "../classes.js";
import { drawCurve } from "../curve.js";
import { refreshEstimate, renderEstimate } from "../estimate.js";
import { TileGrid } from "../grid.js";
import { guard, say } from "../messages.js";
import { READ_ONLY, undoStored } from "../mine.js";
import { dataset, noteLabels, state } from "../state.js";
import { needSession } from "../tabs.js";
import { labelersText } from "../team.js";

const $ = (id) => document.getElementById(id);
const MARK_FIRST = "Mark some tiles first: 1 or + positive, 0 or - negative. Enter then trains a round.";
const MARK_CLASS_FIRST = "Mark some tiles first: 1-9 give a class, a accepts the prediction. Enter then trains a round.";

export const labelGrid = new TileGrid($("label-grid"), {
  label: "Batch to label", dataset,
  empty: "No batch yet.", onChange: () => updatePending(),
});

function batchParams() {
  const k = Math.max(1, Math.min(200, parseInt($("batch-k").value, 10) || 10));
  $("batch-k").value = k;
  // A read key previews batches: new audit draws would be recorded, which it may not do.
  return { k, strategy: $("batch-strategy").value, ...(state.readOnly ? { audit: 0 } : {}) };
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
  // The decision is score > threshold: each tile shows it with the margin, score − threshold.
  // A session with classes: each item comes with its predicted class, probability and margin.
  const threshold = state.session.rounds.find((r) => r.round === res.round)?.threshold ?? 0;
  for (const item of isMulti() ? [] : res.items) {
    item.margin = item.score - threshold;
    item.positive = item.margin > 0;
  }
  state.batch = res.items;
  state.batchRound = res.scored_round ?? res.round; // the round that chose (and predicted) the items
  state.batchKey = `${state.session.id}:${state.session.round}`;
  state.undo = [];
  state.markOrder = [];
  const scoring = typeof res.scored_round === "number" && res.scored_round !== res.round
    ? ` of round ${res.scored_round} (round ${res.round} is being scored)` : "";
  const about = isMulti() ? `pred is the predicted class and its probability${scoring}`
    : `pred is the classifier's decision and its score \u2212 threshold (${fmt(threshold)})`;
  $("batch-title").textContent = res.items.length
    ? `Round ${res.round}: ${res.items.length} items to label (${res.strategy}${leaseText(res)}); ${about}`
    : "Nothing left to label: every item is labeled, or leased to another labeler for now.";
  const shown = labelGrid.setItems(res.items);
  if (state.tab === "label") labelGrid.focus(0);
  renderProgress();
  return shown;
}

/**
 * Mark the selected tiles (or the focused one, or `items`): a score, a class, undefined (clear
 * the mark), or a function of each tile's item (accepting predictions).
 */
export function markTargets(score, items) {
  const targets = items || labelGrid.targets();
  if (!targets.length) return;
  const changes = targets.map((it) => ({ id: it.id, before: labelGrid.marks.get(it.id) }));
  for (const it of targets) {
    const value = typeof score === "function" ? score(it) : score;
    labelGrid.setMark(it.id, value);
    state.markOrder = state.markOrder.filter((id) => id !== it.id);
    if (value !== undefined) state.markOrder.push(it.id);
  }
  state.undo.push({ changes });
  if (items) return labelGrid.refresh(); // from the large view: the focus stays where it is
  const current = labelGrid.current();
  const several = labelGrid.selected.size > 1 || (labelGrid.selected.size === 1 && !labelGrid.selected.has(current?.id));
  if (labelGrid.selected.size) labelGrid.clearSelection();
  else labelGrid.refresh();
  // One tile at a time: move on to the next one, as a person labeling a row would.
  if (!several && score !== undefined && labelGrid.focusIndex < labelGrid.tiles.length - 1) {
    labelGrid.focus(labelGrid.focusIndex + 1);
  }
}

/** The `a` key: each target tile takes its predicted class (a tile without one keeps its mark). */
export function acceptPredictions() {
  markTargets((it) => it.class || labelGrid.marks.get(it.id));
}

/** z: the unsent marks of this batch first, then the session's stored label changes. */
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
  const res = await undoStored();
  if (!res) return;
  state.session = { ...state.session, ...(await get(`sessions/${seg(state.session.id)}`)) };
  renderProgress();
}

export async function submitBatch() {
  if (!state.session) return;
  if (state.busy) { // the last round still finishing (its thumbnails): send when it is done, not never
    state.submitQueued = true;
    return;
  }
  const started = performance.now();
  const labels = isMulti()
    ? batchLabels(state.markOrder, labelGrid.marks, state.batch, state.batchRound)
    : state.markOrder.map((id) => ({ item_id: id, score: labelGrid.marks.get(id) }));
  if (!labels.length && !state.untrained) {
    say(isMulti() ? MARK_CLASS_FIRST : MARK_FIRST);
    return;
  }
  if (state.readOnly) {
    say(READ_ONLY);
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
      for (const l of labels) noteLabels([l.item_id], l.class ?? l.score);
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
      ...state.session, round, labels: stored.labels, labelers: stored.labelers || state.session.labelers,
      rounds: [...state.session.rounds, { round, mode, bias, threshold, metrics }],
    };
    const next = await requestBatch();
    t.push(performance.now());
    await showBatch(next);
    t.push(performance.now());
    // Computed in the background: read when it is there (a session with classes: its own estimate).
    if (isMulti()) refreshSession();
    else refreshEstimate().catch(() => {});
    const ms = Math.round(t[4] - started);
    const step = (i) => Math.round(t[i] - t[i - 1]);
    state.timings.push({ round: trained.round, ms, labels: step(1), train: step(2), next: step(3), thumbnails: step(4) });
    document.body.dataset.lastBatchMs = String(ms);
    $("stat-timing").textContent = `Round ${trained.round} trained; the next batch was on screen ${ms} ms after Enter.`;
    if (isMulti()) {
      say(`Round ${trained.round}: ${state.session.labels.labeled} labels, CV accuracy ${fmt(trained.metrics.accuracy)}.`);
    } else {
      say(`Round ${trained.round}: ${state.session.labels.labeled} labels; F1 from the labels ${quality(trained.metrics).text}.`);
      if (trained.metrics.quality?.pending) followQuality(trained.round);
    }
  } finally {
    state.busy = false;
    document.body.classList.remove("busy");
    $("submit-button").disabled = state.readOnly;
    if (state.submitQueued) {
      state.submitQueued = false;
      submitBatch();
    }
  }
}

/** Read the session again (its estimate) and redraw the progress panel. */
async function refreshSession() {
  const id = state.session.id;
  const s = await get(`sessions/${seg(id)}`).catch(() => null);
  if (s && state.session?.id === id && s.round >= state.session.round) {
    state.session = { ...state.session, ...s };
    renderProgress();
  }
}

function updatePending() {
  const marks = [...labelGrid.marks.values()];
  if (isMulti()) {
    $("stat-pending").textContent = state.batch.length
      ? `${marks.length} of ${state.batch.length} marked, sent on Enter` : "–";
    if (marks.length && $("status").textContent === MARK_CLASS_FIRST) say("");
    return;
  }
  const pos = marks.filter((s) => s > 0).length;
  const neg = marks.filter((s) => s < 0).length;
  $("stat-pending").textContent = state.batch.length
    ? `${marks.length} of ${state.batch.length} marked (${pos}+ ${neg}−), sent on Enter`
    : "–";
  if (marks.length && $("status").textContent === MARK_FIRST) say(""); // the hint is done
}

export function f1Word(f1) {
  if (typeof f1 !== "number") return "";
  if (f1 < 0.7) return "not good";
  if (f1 < 0.85) return "ok";
  if (f1 < 0.95) return "good";
  return "great";
}

/** ", yours for 10 min": a named labeler's batch is leased to them (others get other items). */
const leaseText = (res) => (res.lease_seconds ? `, yours for ${Math.max(1, Math.round(res.lease_seconds / 60))} min` : "");

const fmt = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");

/** A round's quality as the page shows it: the estimated F1 with its 95% interval, or the word
 * saying why there is none yet (e.g. "too few positives to judge"). */
export function quality(metrics) {
  const q = (metrics || {}).quality;
  if (!q) return { text: "after the first round", f1: null, note: "" };
  if (typeof q.f1 !== "number") return { text: q.message || "–", f1: null, note: "" };
  return {
    text: `${q.f1.toFixed(3)} (${q.f1_low.toFixed(2)}–${q.f1_high.toFixed(2)})`,
    f1: q.f1,
    note: `over the whole dataset; 95% interval ${q.f1_low.toFixed(2)} to ${q.f1_high.toFixed(2)}`,
  };
}

/** A large table's round is still scoring when /train answers: read the round again until its
 * quality is stored, and show it (unless a newer round came first). */
async function followQuality(round, tries = 20) {
  for (let i = 0; i < tries; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (!state.session || state.session.round !== round) return;
    const fresh = await get(`sessions/${seg(state.session.id)}`);
    if (state.session?.id !== fresh.id || state.session.round !== round) return;
    const last = fresh.rounds.at(-1);
    if (last.round === round && !last.metrics.quality?.pending) {
      state.session = { ...state.session, rounds: fresh.rounds };
      renderProgress();
      return;
    }
  }
}

export function renderProgress() {
  const s = state.session;
  if (!s) return;
  if (isMulti()) {
    $("stat-round").textContent = String(s.round);
    renderClassProgress(s);
    drawCurve($("curve"), s.rounds, { metric: "accuracy", label: "CV accuracy" });
    updatePending();
    return;
  }
  const last = s.rounds.at(-1) || { metrics: {} };
  const q = quality(last.metrics);
  $("stat-labels").textContent = `${s.labels.labeled} (${s.labels.positives} positive, ${s.labels.negatives} negative)`;
  $("stat-labelers").textContent = labelersText(s.labelers);
  $("stat-round").textContent = String(s.round);
  $("stat-f1").textContent = q.text;
  $("stat-f1").classList.toggle("warning", q.f1 === null && /too few/.test(q.text));
  $("stat-f1-note").textContent = q.note;
  const word = f1Word(q.f1);
  $("stat-f1-word").textContent = word;
  $("stat-f1-word").dataset.word = word.replace(" ", "-");
  $("stat-threshold").textContent = fmt(last.threshold);
  drawCurve($("curve"), s.rounds);
  renderEstimate();
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
  $("accept-button").addEventListener("click", () => {
    acceptPredictions();
    labelGrid.focus();
  });
  $("undo-button").addEventListener("click", () => guard(undo, "undo"));
  $("submit-button").addEventListener("click", () => guard(submitBatch, "enter"));
}
