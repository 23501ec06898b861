// Renaming and deleting a session (PATCH and DELETE /sessions/{id}), each in a small dialog, and
// the exports of the open dataset. What they change elsewhere on the page is given by app.js.

import { api, downloadFile, seg } from "../api.js";
import { explainName, guard, say } from "../messages.js";
import { dataset, state } from "../state.js";

const $ = (id) => document.getElementById(id);
const hooks = { changed: null }; // changed(deletedId|null): the sessions changed; reload them
let target = null; // the session a dialog is about

export function askRename(s) {
  target = s;
  $("rename-title").textContent = `Rename session ${s.name}`;
  $("rename-input").value = s.name;
  $("rename-dialog").showModal();
  $("rename-input").select();
}

export function askDelete(s) {
  target = s;
  $("delete-title").textContent = `Delete session ${s.name}?`;
  $("delete-what").textContent = `Its labels, rounds and predictions go, with the SQL function and view it `
    + `published; the name ${s.name} is free again. This cannot be undone.`;
  $("delete-dialog").showModal();
  $("delete-cancel").focus();
}

async function rename() {
  const name = $("rename-input").value.trim();
  const s = await api("PATCH", `sessions/${seg(target.id)}`, { json: { name } });
  if (state.session?.id === s.id) state.session = { ...state.session, ...s };
  say(`Session ${target.name} is now ${s.name}; its SQL function is ${s.function}.`);
  await hooks.changed(null);
}

async function remove() {
  const out = await api("DELETE", `sessions/${seg(target.id)}`);
  say(`Deleted session ${out.name} (${out.labels} labels); the name ${out.name} is free again.`);
  await hooks.changed(out.id);
}

function exportDataset(format) {
  const vectors = $("export-vectors").checked;
  return downloadFile(`datasets/${seg(dataset())}/export`, { format, vectors }, `${dataset()}.${format}`);
}

export function wireManage(given) {
  Object.assign(hooks, given);
  explainName($("rename-input"), "Use lowercase letters a–z, digits 0–9 and _, starting with a letter (e.g. zeros).");
  $("rename-form").addEventListener("submit", async (e) => {
    if (e.submitter?.value === "cancel") return; // the dialog closes itself
    e.preventDefault();
    $("rename-error").textContent = "";
    try {
      await rename();
      $("rename-dialog").close();
    } catch (err) {
      $("rename-error").textContent = err.message; // in the dialog: the banner is behind it
    }
  });
  $("delete-form").addEventListener("submit", (e) => {
    if (e.submitter?.value !== "delete") return;
    e.preventDefault();
    guard(async () => {
      $("delete-dialog").close();
      await remove();
    }, "delete");
  });
  $("export-parquet").addEventListener("click", () => guard(() => exportDataset("parquet")));
  $("export-dataset-csv").addEventListener("click", () => guard(() => exportDataset("csv")));
}
