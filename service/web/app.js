// The labeling page. State that matters lives in the service: the page keeps only the current
// batch's marks until Enter sends them (POST /labels, then /train, then /next). The address
// (#d=dataset&s=session&t=view) says what is open, so a reload shows the same state.

import { ApiError, api, auth, download, get, post, seg } from "./api.js";
import { drawCurve } from "./curve.js";
import { TileGrid, el, gradeOfKey, markText } from "./grid.js";
import { JobsView } from "./jobs.js";

const $ = (id) => document.getElementById(id);
const TABS = ["find", "label", "results", "labels", "sql", "jobs"];
const TAB_KEYS = { f: "find", l: "label", r: "results", b: "labels", s: "sql", j: "jobs" };
const FIND_K = 30;
const PRED_PAGE = 40;
const LABELS_PAGE = 100;

const state = {
  datasets: [],
  dataset: null, // GET /datasets/{name}
  sessions: [], // GET /sessions
  session: null, // GET /sessions/{id}
  tab: "find",
  batch: [], // the items of the current batch
  batchKey: "", // session + round the batch was fetched for
  markOrder: [], // ids in the order they were marked (for undo)
  undo: [], // [{changes: [{id, before}]}] for marks not sent yet
  sent: [], // ids of the last sent batch, in marking order (undo reaches them with DELETE)
  busy: false,
  untrained: false, // labels were stored but the round after them failed to train
  findItems: [],
  pred: { mode: "top", offset: 0, total: 0, positives: 0 },
  labels: [],
  labelsOffset: 0,
  timings: [], // ms from Enter to the next batch with thumbnails on screen
};

// -- messages ------------------------------------------------------------------------------
function say(text) {
  $("status").textContent = text;
}

function fail(err) {
  if (err && err.name === "AbortError") return;
  const text = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  $("error-text").textContent = text;
  $("error").hidden = false;
  // The API's refusals are expected and shown; anything else is a bug of this page.
  if (err instanceof ApiError) console.warn(text);
  else console.error(err);
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

/** Run an action; its failure shows the API's message and leaves the page usable. */
async function guard(fn) {
  try {
    clearError();
    return await fn();
  } catch (err) {
    fail(err);
    return undefined;
  }
}

// -- address -------------------------------------------------------------------------------
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { d: p.get("d"), s: p.get("s"), t: p.get("t") };
}

function writeHash() {
  const p = new URLSearchParams();
  if (state.dataset) p.set("d", state.dataset.name);
  if (state.session) p.set("s", state.session.id);
  p.set("t", state.tab);
  const hash = `#${p}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

// -- grids ---------------------------------------------------------------------------------
const dataset = () => state.dataset?.name || "";
const findGrid = new TileGrid($("find-grid"), {
  label: "Search results", dataset, moreLikeThis: (item) => moreLikeThis(item), keepSelection: true,
  empty: "Search by text or image, or show a sample.",
  onChange: () => updateSelectedCount(),
});
const labelGrid = new TileGrid($("label-grid"), {
  label: "Batch to label", dataset,
  empty: "No batch yet.", onChange: () => updatePending(),
});
const predGrid = new TileGrid($("pred-grid"), {
  label: "Predictions", dataset, moreLikeThis: (item) => moreLikeThis(item),
  empty: "Apply the classifier to see its predictions.",
  markText: (score) => (score > 0 ? "pos" : "neg"),
  markAria: (score) => (score > 0 ? "predicted positive" : "predicted negative"),
});
const labelsGrid = new TileGrid($("labels-grid"), {
  label: "Labels of this session", dataset, empty: "No labels yet.",
});
const GRIDS = { find: findGrid, label: labelGrid, results: predGrid, labels: labelsGrid };
const jobsView = new JobsView({
  guard,
  say,
  loaded: (job) => guard(async () => {
    await loadDatasets();
    if (state.dataset) $("dataset-select").value = state.dataset.name;
    if (job.dataset === dataset()) await chooseDataset(job.dataset, { keepSession: true });
  }),
});

// -- views ---------------------------------------------------------------------------------
function showTab(tab, { focus = true } = {}) {
  if (!TABS.includes(tab)) tab = "find";
  state.tab = tab;
  for (const t of TABS) {
    $(`view-${t}`).hidden = t !== tab;
    const button = $(`tab-${t}`);
    button.setAttribute("aria-selected", String(t === tab));
    button.tabIndex = t === tab ? 0 : -1;
  }
  writeHash();
  if (tab !== "jobs") jobsView.hide();
  const loaders = { label: loadLabelView, results: loadResults, labels: loadLabels, sql: loadSql,
    jobs: () => jobsView.show() };
  const ready = loaders[tab] ? guard(loaders[tab]) : Promise.resolve();
  if (focus) {
    // Once the view has loaded, its grid takes the focus, unless the person has moved it.
    const before = document.activeElement;
    ready.then(() => {
      const idle = document.activeElement === before || document.activeElement === document.body;
      if (idle && !GRIDS[tab]?.hasFocus() && GRIDS[tab]?.tiles.length) GRIDS[tab].focus();
    });
  }
  return ready;
}

function needSession(gridTitle, grid) {
  if (state.session) return true;
  $(gridTitle).textContent = "No session open: start one in Find (f), or pick one in the Session menu.";
  grid?.setItems([]);
  return false;
}

// -- datasets and sessions ----------------------------------------------------------------
async function loadDatasets() {
  state.datasets = await get("datasets");
  const select = $("dataset-select");
  select.replaceChildren(...state.datasets.map((d) =>
    el("option", { value: d.name, text: `${d.name} (${d.rows.toLocaleString()} items)` })));
  if (!state.datasets.length) {
    fail(new Error("No datasets yet: load one in Jobs (j), or with `vectrain load demo`."));
  }
}

async function chooseDataset(name, { keepSession = false } = {}) {
  const info = state.datasets.find((d) => d.name === name) || state.datasets[0];
  if (!info) return;
  state.dataset = await get(`datasets/${seg(info.name)}`);
  $("dataset-select").value = state.dataset.name;
  const d = state.dataset;
  const index = { building: " · index building (search scans meanwhile)", missing: " · index missing (search scans)" };
  $("dataset-info").textContent = `${d.rows.toLocaleString()} items · ${d.encoder} · ${d.dim}-d · table ${d.table}`
    + (index[d.index] || "");
  const hasText = d.encoder.startsWith("clip");
  $("text-query").disabled = !hasText;
  $("start-prompt").disabled = !hasText;
  $("start-prompt-radio").disabled = !hasText;
  $("text-search-note").textContent = hasText ? "" : `(needs a CLIP dataset; ${d.name} uses ${d.encoder})`;
  if (!keepSession && state.session && state.session.dataset !== d.name) closeSession();
  renderSessions();
  if (!$("sql-query").value) {
    $("sql-query").value = `SELECT label, count() AS n FROM ${d.table} GROUP BY label ORDER BY label`;
  }
  writeHash();
}

async function loadSessions() {
  state.sessions = await get("sessions");
  renderSessions();
}

function renderSessions() {
  const mine = state.sessions.filter((s) => s.dataset === dataset());
  const select = $("session-select");
  select.replaceChildren(el("option", { value: "", text: mine.length ? "— open a session —" : "— none yet —" }),
    ...mine.map((s) => el("option", { value: s.id, text: s.name })));
  select.value = state.session?.id || "";
  const list = $("session-list");
  list.replaceChildren(...mine.map((s) => el("li", {},
    el("button", { type: "button", text: s.name, onclick: () => guard(() => openSession(s.id)) }),
    el("span", { class: "muted", text: ` from ${s.source.replace("_", " ")}, ${String(s.created).slice(0, 16)}` }))));
  if (!mine.length) list.append(el("li", { class: "muted", text: "None yet." }));
}

function closeSession() {
  state.session = null;
  state.batch = [];
  state.batchKey = "";
  state.undo = [];
  state.sent = [];
  state.markOrder = [];
  state.untrained = false;
}

async function openSession(id, tab = "label") {
  const s = await get(`sessions/${seg(id)}`);
  if (!state.dataset || state.dataset.name !== s.dataset) await chooseDataset(s.dataset, { keepSession: true });
  if (state.session?.id !== s.id) closeSession();
  state.session = s;
  renderSessions();
  renderProgress();
  await showTab(tab);
}

// -- find ----------------------------------------------------------------------------------
function showFound(items, title) {
  state.findItems = items;
  $("find-title").textContent = title;
  if (state.tab !== "find") showTab("find", { focus: false });
  const shown = findGrid.setItems(items);
  findGrid.focus(0); // now, not after the thumbnails: keys pressed meanwhile go to the new tiles
  return shown;
}

async function moreLikeThis(item) {
  const res = await guard(() => post(`datasets/${seg(dataset())}/search`,
    { item_id: item.id, k: FIND_K, exclude_ids: [] }));
  if (res) await showFound(res.items, `More like ${item.id}${item.label ? ` (${item.label})` : ""}: ${res.items.length} nearest, best first`);
}

async function sample() {
  // A fixed sample (the same on every reload) through the read-only SQL endpoint.
  const table = state.dataset.table;
  if (!/^[A-Za-z0-9_]+$/.test(table)) throw new Error(`Unexpected table name ${table}`);
  const res = await post("sql", {
    query: `SELECT id, url, label FROM ${table} ORDER BY cityHash64(id) LIMIT ${FIND_K}`,
  });
  const items = res.rows.map(([id, url, label]) => ({ id, url, label }));
  await showFound(items, `A sample of ${dataset()}: press m on a tile (or its button) for more like it`);
}

function updateSelectedCount() {
  const n = findGrid.selected.size;
  $("selected-count").textContent = `the selected tiles (${n})`;
}

async function startSession(e) {
  e.preventDefault();
  const name = $("session-name").value.trim();
  const fromPrompt = document.querySelector("input[name=start-from]:checked").value === "prompt";
  const body = { dataset: dataset(), name };
  if (fromPrompt) {
    body.prompt = $("start-prompt").value.trim();
    if (!body.prompt) throw new Error("Type a prompt to start from, e.g. “photos of dogs”.");
  } else {
    body.positive_ids = [...findGrid.selected];
    if (!body.positive_ids.length) {
      throw new Error("Select a few tiles first (click, Shift+click or Space): they start the session as positives.");
    }
  }
  const s = await api("POST", "sessions", { json: body });
  say(`Session ${s.name} started from ${s.source.replace("_", " ")}.`);
  await loadSessions();
  await openSession(s.id);
}

// -- label ---------------------------------------------------------------------------------
function batchParams() {
  const k = Math.max(1, Math.min(200, parseInt($("batch-k").value, 10) || 10));
  $("batch-k").value = k;
  return { k, strategy: $("batch-strategy").value };
}

async function loadLabelView() {
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

function markTargets(score) {
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

async function undo() {
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

async function submitBatch() {
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

function renderProgress() {
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

// -- results -------------------------------------------------------------------------------
async function loadResults() {
  if (!needSession("pred-range", predGrid)) return;
  await Promise.all([loadPredictions(), loadSessionSql()]);
}

async function loadPredictions(mode = state.pred.mode, offset) {
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
  let items = page.items.map((p) => ({ id: p.id, score: p.score, positive: p.positive }));
  if (mode === "bottom") items = items.reverse(); // the most confident negative first
  const end = state.pred.offset + page.items.length;
  $("pred-range").textContent = `ranks ${state.pred.offset + 1}–${end} of ${res.total.toLocaleString()} by score`
    + (mode === "bottom" ? " (shown lowest first)" : "");
  await predGrid.setItems(items, { marks: items.map((p) => [p.id, p.positive ? 1 : -1]) });
}

async function applyClassifier() {
  const sid = seg(state.session.id);
  $("apply-button").disabled = true;
  try {
    const res = await post(`sessions/${sid}/apply`, {});
    say(`Applied round ${res.round}: ${res.positives.toLocaleString()} of ${res.items.toLocaleString()} positive in ${res.seconds} s; published as ${res.function}.`);
    await Promise.all([loadPredictions("top"), loadSessionSql()]);
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

// -- labels --------------------------------------------------------------------------------
async function loadLabels() {
  if (!needSession("labels-range", labelsGrid)) return;
  const res = await get(`sessions/${seg(state.session.id)}/labels`);
  state.labels = res.labels;
  await renderLabels();
}

function renderLabels() {
  const filter = $("labels-filter").value;
  const shown = state.labels
    .filter((l) => filter === "all" || (filter === "pos" ? l.score > 0 : l.score < 0))
    .sort((a, b) => (a.labeled < b.labeled ? 1 : a.labeled > b.labeled ? -1 : a.item_id.localeCompare(b.item_id)));
  state.labelsOffset = Math.max(0, Math.min(state.labelsOffset, Math.max(0, shown.length - 1)));
  const page = shown.slice(state.labelsOffset, state.labelsOffset + LABELS_PAGE);
  $("labels-range").textContent = shown.length
    ? `${state.labelsOffset + 1}–${state.labelsOffset + page.length} of ${shown.length}, newest first`
    : "";
  return labelsGrid.setItems(page.map((l) => ({ id: l.item_id })),
    { marks: page.map((l) => [l.item_id, l.score]) });
}

async function relabel(score) {
  const targets = labelsGrid.targets();
  if (!targets.length) return;
  const sid = seg(state.session.id);
  if (score === undefined) {
    for (const it of targets) await api("DELETE", `sessions/${sid}/labels/${seg(it.id)}`);
    state.labels = state.labels.filter((l) => !targets.some((t) => t.id === l.item_id));
    say(`Removed ${targets.length} label${targets.length > 1 ? "s" : ""}; the next round trains without them.`);
  } else {
    await post(`sessions/${sid}/labels`, { labels: targets.map((t) => ({ item_id: t.id, score })) });
    for (const l of state.labels) if (targets.some((t) => t.id === l.item_id)) l.score = score;
    say(`Relabeled ${targets.length} as ${markText(score)}; the next round trains with it.`);
  }
  const index = labelsGrid.focusIndex;
  // Keep the order stable while relabeling: marks change in place, removals re-render.
  if (score === undefined) await renderLabels();
  else {
    for (const it of targets) labelsGrid.setMark(it.id, score);
    labelsGrid.clearSelection();
  }
  labelsGrid.focus(index);
  state.session = await get(`sessions/${sid}`);
  renderProgress();
}

// -- SQL -----------------------------------------------------------------------------------
async function loadSql() {
  $("sql-query").focus();
}

async function runSql(e) {
  e?.preventDefault();
  const started = performance.now();
  const res = await post("sql", { query: $("sql-query").value });
  const table = $("sql-table");
  const head = el("tr", {}, ...res.columns.map((c, i) => el("th", { scope: "col", title: res.types[i], text: c })));
  const rows = res.rows.map((row) => el("tr", {}, ...row.map((v) => el("td", {
    text: v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v),
  }))));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  $("sql-info").textContent = `${res.rows.length} row${res.rows.length === 1 ? "" : "s"}${res.truncated ? " (truncated at the row limit)" : ""} in ${Math.round(performance.now() - started)} ms`;
}

// -- keyboard ------------------------------------------------------------------------------
function typing(target) {
  return target.closest("input, textarea, select, [contenteditable=true]") !== null;
}

function onKey(e) {
  if (document.querySelector("dialog[open]")) return; // the dialog has the keys
  if (typing(e.target)) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  const grid = GRIDS[state.tab];
  if (grid?.hasFocus() && grid.onKey(e)) return;
  if (e.key === "?") {
    $("help").showModal();
    e.preventDefault();
    return;
  }
  const onButton = e.target.closest("button, a") !== null;
  if ((e.key === "z" && !e.ctrlKey && !e.metaKey && !e.altKey) || ((e.ctrlKey || e.metaKey) && e.key === "z")) {
    if (state.tab === "label") {
      guard(undo);
      e.preventDefault();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (TAB_KEYS[e.key] && !e.shiftKey) {
    if (TAB_KEYS[e.key] !== state.tab) showTab(TAB_KEYS[e.key]);
    e.preventDefault();
    return;
  }
  if (!grid) return;
  if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(e.key) && !grid.hasFocus() && !onButton) {
    grid.focus();
    e.preventDefault();
    return;
  }
  if (e.key === "m" && grid.current()) {
    moreLikeThis(grid.current());
    e.preventDefault();
    return;
  }
  const grade = gradeOfKey(e);
  const clear = e.key === "x" || e.key === "Delete" || e.key === "Backspace";
  if (state.tab === "label") {
    if (grade !== null || clear) {
      markTargets(clear ? undefined : grade);
      e.preventDefault();
    } else if (e.key === "Enter" && !onButton) {
      guard(submitBatch);
      e.preventDefault();
    }
  } else if (state.tab === "labels" && (grade !== null || clear)) {
    guard(() => relabel(clear ? undefined : grade));
    e.preventDefault();
  }
}

// -- wiring --------------------------------------------------------------------------------
function wire() {
  document.addEventListener("keydown", onKey);
  $("error-close").addEventListener("click", clearError);
  $("help-button").addEventListener("click", () => $("help").showModal());
  for (const t of TABS) $(`tab-${t}`).addEventListener("click", () => showTab(t));
  // The tab list: Left/Right (Home/End) move between the views, as in any tab list.
  document.querySelector(".tabs").addEventListener("keydown", (e) => {
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -TABS.length, End: TABS.length };
    if (!(e.key in moves)) return;
    const i = Math.max(0, Math.min(TABS.length - 1, TABS.indexOf(state.tab) + moves[e.key]));
    e.preventDefault();
    e.stopPropagation();
    showTab(TABS[i], { focus: false });
    $(`tab-${TABS[i]}`).focus();
  });
  $("dataset-select").addEventListener("change", (e) => guard(async () => {
    await chooseDataset(e.target.value);
    await sample();
  }));
  $("session-select").addEventListener("change", (e) => guard(async () => {
    if (e.target.value) await openSession(e.target.value);
    else {
      closeSession();
      await showTab("find");
    }
  }));
  $("text-search").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const text = $("text-query").value.trim();
      if (!text) throw new Error("Type something to search for.");
      const res = await post(`datasets/${seg(dataset())}/search`, { text, k: FIND_K });
      await showFound(res.items, `“${text}”: ${res.items.length} nearest, best first`);
    });
  });
  $("image-search").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const file = $("image-file").files[0];
      if (!file) throw new Error("Choose an image file first.");
      const form = new FormData();
      form.append("file", file);
      form.append("k", String(FIND_K));
      const res = await api("POST", `datasets/${seg(dataset())}/search/image`, { form });
      await showFound(res.items, `Like ${file.name}: ${res.items.length} nearest, best first`);
    });
  });
  $("sample-button").addEventListener("click", () => guard(sample));
  $("start-form").addEventListener("submit", (e) => guard(() => startSession(e)));
  $("start-prompt").addEventListener("focus", () => { $("start-prompt-radio").checked = true; });

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

  $("apply-button").addEventListener("click", () => guard(applyClassifier));
  for (const b of document.querySelectorAll("[data-browse]")) {
    b.addEventListener("click", () => guard(() => loadPredictions(b.dataset.browse)));
  }
  $("pred-prev").addEventListener("click", () => guard(() => loadPredictions(state.pred.mode, state.pred.offset - PRED_PAGE)));
  $("pred-next").addEventListener("click", () => guard(() => loadPredictions(state.pred.mode, state.pred.offset + PRED_PAGE)));
  $("copy-sql").addEventListener("click", () => guard(() => copyText($("sql-statements").textContent, "SQL")));
  $("run-example").addEventListener("click", () => guard(async () => {
    $("sql-query").value = $("sql-example").textContent;
    await showTab("sql", { focus: false });
    await runSql();
  }));
  $("weights-npy").addEventListener("click", () => guard(() =>
    download(`sessions/${seg(state.session.id)}/weights`, { format: "npy" }, "weights.npy")));
  $("weights-json").addEventListener("click", () => guard(() =>
    download(`sessions/${seg(state.session.id)}/weights`, {}, `${state.session.name}.json`)));

  $("labels-filter").addEventListener("change", () => { state.labelsOffset = 0; guard(renderLabels); });
  for (const b of document.querySelectorAll("[data-relabel]")) {
    b.addEventListener("click", () => guard(() => relabel(Number(b.dataset.relabel))));
  }
  $("remove-label").addEventListener("click", () => guard(() => relabel(undefined)));
  $("labels-prev").addEventListener("click", () => { state.labelsOffset -= LABELS_PAGE; guard(renderLabels); });
  $("labels-next").addEventListener("click", () => {
    if (state.labelsOffset + LABELS_PAGE < state.labels.length) state.labelsOffset += LABELS_PAGE;
    guard(renderLabels);
  });

  $("sql-form").addEventListener("submit", (e) => guard(() => runSql(e)));
  $("sql-query").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) guard(() => runSql(e));
  });

  $("forget-key").addEventListener("click", () => {
    auth.key = "";
    say("Forgot the API key.");
    askKey("The key was forgotten. Enter one to go on.");
  });
  $("key-form").addEventListener("submit", () => {
    auth.key = $("key-input").value.trim();
    $("key-input").value = "";
    $("forget-key").hidden = !auth.key;
    guard(start);
  });
  auth.onUnauthorized = (detail) => askKey(detail);
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

function askKey(reason) {
  const dialog = $("key-dialog");
  $("key-reason").textContent = reason || "This service needs an API key.";
  if (!dialog.open) dialog.showModal();
}

// -- start ---------------------------------------------------------------------------------
async function start() {
  document.body.dataset.ready = "false"; // until this start has routed (it moves the focus)
  const health = await get("health");
  auth.required = Boolean(health.auth);
  $("forget-key").hidden = !(auth.required && auth.key);
  $("foot").textContent = `vectrain ${health.version} · ${health.engine} · database ${health.database}`;
  if (auth.required && !auth.key) {
    askKey("This service needs an API key (the service was started with VECTRAIN_API_KEYS).");
    return;
  }
  await loadDatasets();
  await loadSessions();
  await route();
  document.body.dataset.ready = "true";
}

/** Open what the address names: a session (and its view), or a dataset. */
async function route() {
  const want = readHash();
  if (want.d && !state.datasets.some((d) => d.name === want.d)) await loadDatasets();
  if (want.s && !state.sessions.some((s) => s.id === want.s)) await loadSessions();
  const session = want.s && state.sessions.find((s) => s.id === want.s);
  if (want.s && !session) fail(new Error(`No session ${want.s} in this service; pick one in the Session menu.`));
  const name = session ? session.dataset : want.d || state.dataset?.name || state.datasets[0]?.name;
  if (!state.dataset || state.dataset.name !== name) {
    await chooseDataset(name, { keepSession: Boolean(session) });
    if (!state.dataset) {
      await showTab("jobs"); // nothing to search yet: the page opens where data is loaded
      return;
    }
    await sample();
  }
  if (session) await openSession(session.id, want.t || "label");
  else {
    if (state.session) closeSession();
    renderSessions();
    await showTab(want.t && want.t !== "label" ? want.t : "find");
  }
}

// Exposed for tests and the curious: the timings measured after each Enter.
window.vectrain = { state, timings: state.timings };

wire();
// A pasted link or the back button changes only the hash; writeHash() uses replaceState,
// which fires no event, so this runs only for addresses a person typed or navigated to.
window.addEventListener("hashchange", () => guard(route));
guard(start);
