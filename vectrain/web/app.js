// The labeling page: wires the views (views/*.js) to the tabs, the header and the keys, then
// opens what the address names. The views do not import each other: what one needs of another
// is given here.

import { auth, get, labeler } from "./api.js";
import { configure } from "./classes.js";
import { wireKeys } from "./keys.js";
import { clearError, fail, guard, say } from "./messages.js";
import { undoStored, wireMine } from "./mine.js";
import { chooseDataset, loadDatasets, loadSessions, openSession, renderSessions, wireSessions } from "./session.js";
import { closeSession, dataset, readHash, state } from "./state.js";
import { addView, gridOf, labelerOf, showTab, undoerOf, wireTabs } from "./tabs.js";
import { askName, useWhoami, wireLabeler } from "./team.js";
import { loadFacets } from "./views/filters.js";
import { findGrid, labelFound, moreLikeThis, refreshFind, sample, wireFind } from "./views/find.js";
import { openItem, wireItem } from "./views/item.js";
import { JobsView } from "./views/jobs.js";
import { labelGrid, loadLabelView, markTargets, renderProgress, undo, wireLabel } from "./views/label.js";
import { labelsGrid, loadLabels, relabel, undoLabels, wireLabels } from "./views/labels.js";
import { askDelete, askRename, wireManage } from "./views/manage.js";
import { labelPreds, loadResults, predGrid, wireResults } from "./views/results.js";
import { loadSql, runSql, wireSql } from "./views/sql.js";

const $ = (id) => document.getElementById(id);
const GRIDS = [findGrid, labelGrid, predGrid, labelsGrid];

const jobsView = new JobsView({
  guard,
  say,
  loaded: (job) => guard(async () => {
    await loadDatasets();
    if (state.dataset) $("dataset-select").value = state.dataset.name;
    if (job.dataset === dataset()) await chooseDataset(job.dataset, { keepSession: true });
  }),
});

/** z outside the Label view: the session's newest label change; the grid shows the result. */
const undoAndRedraw = async () => {
  if (await undoStored()) GRIDS.forEach((g) => g.refresh());
};

addView("find", { grid: findGrid, load: refreshFind, label: labelFound, undo: undoAndRedraw });
addView("label", { grid: labelGrid, load: loadLabelView, label: markTargets, undo });
addView("results", { grid: predGrid, load: loadResults, label: labelPreds, undo: undoAndRedraw });
addView("labels", { grid: labelsGrid, load: loadLabels, label: relabel, undo: undoLabels });
addView("sql", { load: loadSql });
addView("jobs", { load: () => jobsView.show(), hide: () => jobsView.hide() });

/** The large view of a tile, acting as the view it was opened from. */
function open(grid, index) {
  const tab = state.tab;
  const mark = tab === "label" ? (id) => labelGrid.marks.get(id) : (id) => state.mine.get(id);
  return openItem(grid, index, { label: labelerOf(tab), undo: undoerOf(tab), mark });
}
for (const grid of GRIDS) grid.opts.open = (index) => open(grid, index);

/** The sessions changed (renamed, or one deleted): menus, list and what is open follow. */
async function sessionsChanged(deleted) {
  if (deleted && state.session?.id === deleted) {
    closeSession();
    await showTab("find");
  }
  await loadSessions();
  if (state.session) {
    $("session-select").value = state.session.id;
    renderProgress();
  }
}

/** A read key: every control that writes is disabled, and the header says so. */
function showReadOnly() {
  document.body.classList.toggle("read-only", state.readOnly);
  $("read-only").hidden = !state.readOnly;
  for (const node of document.querySelectorAll("[data-write]")) node.disabled = state.readOnly;
}

function wire() {
  wireKeys({ open });
  $("error-close").addEventListener("click", clearError);
  $("help-button").addEventListener("click", () => $("help").showModal());
  wireTabs();
  // A session with classes: a class button labels the open view's tiles as the class's key does.
  const configureKind = () => configure((cls) => {
    const label = labelerOf(state.tab);
    if (label) guard(() => label(cls), "label");
    gridOf(state.tab)?.focus();
  });
  wireSessions({
    renderProgress, sample, configure: configureKind, facets: () => guard(loadFacets), rename: askRename, remove: askDelete,
  });
  wireMine({ onChange: () => { GRIDS.forEach((g) => g.refresh()); renderProgress(); } });
  wireFind();
  wireLabel();
  wireResults({ moreLikeThis, runSql });
  wireLabels();
  wireSql();
  wireItem();
  wireManage({ changed: sessionsChanged });
  // Another name: the open view asks again as it (a Label batch is leased to the name it went to).
  wireLabeler(() => {
    state.batchKey = "";
    guard(() => showTab(state.tab));
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
    guard(start, "start");
  });
  auth.onUnauthorized = (detail) => askKey(detail);
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
  const who = await get("whoami");
  state.readOnly = !who.may_write; // known before anything is shown
  showReadOnly();
  useWhoami(who);
  if (!labeler.fixed && !labeler.name && !state.readOnly) await askName(); // once: the browser keeps it
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
window.addEventListener("hashchange", () => guard(route, "start"));
guard(start, "start");
