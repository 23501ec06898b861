// The labeling page: wires the views (views/*.js) to the tabs, the header and the keys, then
// opens what the address names. The views do not import each other: what one needs of another
// is given here.

import { auth, get } from "./api.js";
import { wireKeys } from "./keys.js";
import { clearError, fail, guard, say } from "./messages.js";
import { chooseDataset, loadDatasets, loadSessions, openSession, renderSessions, wireSessions } from "./session.js";
import { closeSession, dataset, readHash, state } from "./state.js";
import { addView, showTab, wireTabs } from "./tabs.js";
import { findGrid, moreLikeThis, sample, wireFind } from "./views/find.js";
import { JobsView } from "./views/jobs.js";
import { labelGrid, loadLabelView, renderProgress, wireLabel } from "./views/label.js";
import { labelsGrid, loadLabels, wireLabels } from "./views/labels.js";
import { loadResults, predGrid, wireResults } from "./views/results.js";
import { loadSql, runSql, wireSql } from "./views/sql.js";

const $ = (id) => document.getElementById(id);

const jobsView = new JobsView({
  guard,
  say,
  loaded: (job) => guard(async () => {
    await loadDatasets();
    if (state.dataset) $("dataset-select").value = state.dataset.name;
    if (job.dataset === dataset()) await chooseDataset(job.dataset, { keepSession: true });
  }),
});

addView("find", { grid: findGrid });
addView("label", { grid: labelGrid, load: loadLabelView });
addView("results", { grid: predGrid, load: loadResults });
addView("labels", { grid: labelsGrid, load: loadLabels });
addView("sql", { load: loadSql });
addView("jobs", { load: () => jobsView.show(), hide: () => jobsView.hide() });

function wire() {
  wireKeys();
  $("error-close").addEventListener("click", clearError);
  $("help-button").addEventListener("click", () => $("help").showModal());
  wireTabs();
  wireSessions({ renderProgress, sample });
  wireFind();
  wireLabel();
  wireResults({ moreLikeThis, runSql });
  wireLabels({ renderProgress });
  wireSql();

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
