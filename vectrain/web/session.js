// What is open: the dataset and the session, chosen in the header's menus, in the Find view's
// list of sessions, or by the address.

import { get, seg } from "./api.js";
import { el } from "./grid.js";
import { fail, guard } from "./messages.js";
import { closeSession, dataset, setLabels, state, writeHash } from "./state.js";
import { showTab } from "./tabs.js";

const $ = (id) => document.getElementById(id);
// Given by wireSessions(): this module imports no view (the views import it).
const hooks = {
  renderProgress: null, // the Label view's progress panel, drawn for the opened session
  sample: null, // the Find view's sample of a newly chosen dataset
  facets: null, // the Find view's filter menus of a newly chosen dataset
  rename: null, // the rename dialog for a session
  remove: null, // the delete dialog for a session
  configure: null, // the page's controls for the opened session's kind (classes.js)
};

export async function loadDatasets() {
  state.datasets = await get("datasets");
  const select = $("dataset-select");
  select.replaceChildren(...state.datasets.map((d) =>
    el("option", { value: d.name, text: `${d.name} (${d.rows.toLocaleString()} items)` })));
  if (!state.datasets.length) {
    fail(new Error("No datasets yet: load one in Jobs (j), or with `vectrain load demo`."));
  }
}

export async function chooseDataset(name, { keepSession = false } = {}) {
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
  await hooks.facets();
  if (!$("sql-query").value) {
    $("sql-query").value = `SELECT label, count() AS n FROM ${d.table} GROUP BY label ORDER BY label`;
  }
  writeHash();
}

export async function loadSessions() {
  state.sessions = await get("sessions");
  renderSessions();
}

export function renderSessions() {
  const mine = state.sessions.filter((s) => s.dataset === dataset());
  const select = $("session-select");
  select.replaceChildren(el("option", { value: "", text: mine.length ? "— open a session —" : "— none yet —" }),
    ...mine.map((s) => el("option", { value: s.id, text: s.name })));
  select.value = state.session?.id || "";
  const list = $("session-list");
  list.replaceChildren(...mine.map((s) => el("li", { "data-session": s.id },
    el("button", { type: "button", text: s.name, title: `Open ${s.name}`, onclick: () => guard(() => openSession(s.id)) }),
    el("span", { class: "muted", text: `${s.classes ? ` ${s.classes.length} classes,` : ""} from ${s.source.replace("_", " ")}, ${String(s.created).slice(0, 16)} ` }),
    el("button", { type: "button", class: "small", "data-write": "", text: "Rename", "aria-label": `Rename ${s.name}`,
      onclick: () => hooks.rename(s) }),
    el("button", { type: "button", class: "small", "data-write": "", text: "Delete", "aria-label": `Delete ${s.name}`,
      onclick: () => hooks.remove(s) }))));
  for (const b of list.querySelectorAll("[data-write]")) b.disabled = state.readOnly;
  if (!mine.length) list.append(el("li", { class: "muted", text: "None yet." }));
}

export async function openSession(id, tab = "label") {
  const [s, labels] = await Promise.all([get(`sessions/${seg(id)}`), get(`sessions/${seg(id)}/labels`)]);
  if (!state.dataset || state.dataset.name !== s.dataset) await chooseDataset(s.dataset, { keepSession: true });
  if (state.session?.id !== s.id) closeSession();
  state.session = s;
  setLabels(labels.labels);
  renderSessions();
  hooks.configure();
  hooks.renderProgress();
  await showTab(tab);
}

/** The header's menus. given: what the views do for this module (see hooks). */
export function wireSessions(given) {
  Object.assign(hooks, given);
  $("dataset-select").addEventListener("change", (e) => guard(async () => {
    await chooseDataset(e.target.value);
    await hooks.sample();
  }));
  $("session-select").addEventListener("change", (e) => guard(async () => {
    if (e.target.value) await openSession(e.target.value);
    else {
      closeSession();
      await showTab("find");
    }
  }));
}
