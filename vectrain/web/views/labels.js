// The Labels view: everything labeled in the open session, newest first, each with the dataset's
// label and the classifier's current prediction; relabel or remove (one undo step per key). Its
// review list: the items two labelers answered differently, with each answer and their agreement.

import { get, post, seg } from "../api.js";
import { CLASS, isMulti, REVIEW } from "../classes.js";
import { markText, TileGrid } from "../grid.js";
import { guard } from "../messages.js";
import { undoStored, writeLabels } from "../mine.js";
import { dataset, setLabels, state } from "../state.js";
import { needSession } from "../tabs.js";
import { agreementText } from "../team.js";

const $ = (id) => document.getElementById(id);
const LABELS_PAGE = 100;

export const labelsGrid = new TileGrid($("labels-grid"), {
  label: "Labels of this session", dataset, empty: "No labels yet.", yours: (id) => state.mine.get(id),
});

export async function loadLabels() {
  if (!needSession("labels-range", labelsGrid)) return;
  const res = await get(`sessions/${seg(state.session.id)}/labels`);
  setLabels(res.labels);
  await renderLabels();
}

function shownLabels() {
  const filter = $("labels-filter").value;
  const keep = (l) => filter === "all"
    || (isMulti() ? CLASS + l.class === filter : filter === "pos" ? l.score > 0 : l.score < 0); // classes: by class
  return state.labels
    .filter(keep)
    .sort((a, b) => (a.labeled < b.labeled ? 1 : a.labeled > b.labeled ? -1 : a.item_id.localeCompare(b.item_id)));
}

async function renderLabels() {
  const review = $("labels-filter").value === REVIEW;
  $("labels-agreement").hidden = !review;
  if (review) return renderReview();
  const shown = shownLabels();
  state.labelsOffset = Math.max(0, Math.min(state.labelsOffset, Math.max(0, shown.length - 1)));
  const page = shown.slice(state.labelsOffset, state.labelsOffset + LABELS_PAGE);
  $("labels-range").textContent = shown.length
    ? `${state.labelsOffset + 1}–${state.labelsOffset + page.length} of ${shown.length}, newest first`
    : "";
  const ready = labelsGrid.setItems(page.map((l) => ({ id: l.item_id, label: l.label })));
  if (page.length) await showPredictions(page.map((l) => l.item_id));
  return ready;
}

/** The items labelers answered differently, each with every answer, and their agreement. */
async function renderReview() {
  const res = await get(`sessions/${seg(state.session.id)}/disagreements`);
  $("labels-agreement").textContent = res.agreement.length
    ? `Agreement: ${res.agreement.map(agreementText).join("; ")}.`
    : "Agreement: no item has been labeled by two labelers yet.";
  $("labels-range").textContent = res.disagreements
    ? `${res.items.length} of ${res.disagreements} items labeled differently (of ${res.shared} labeled by two or more); `
      + "the newest answer is the session's label: relabel to settle one"
    : `No disagreements among the ${res.shared} items labeled by two or more.`;
  const note = (answers) => answers.map((a) => `${a.labeler || "no name"} ${a.class ?? markText(a.score)}`).join(" · ");
  const ready = labelsGrid.setItems(res.items.map((i) => ({ id: i.item_id, label: i.label, note: note(i.answers) })));
  if (res.items.length) await showPredictions(res.items.map((i) => i.item_id));
  return ready;
}

/** The current round's prediction beside each label on the page (one request). */
async function showPredictions(ids) {
  const res = await post(`sessions/${seg(state.session.id)}/scores`, { item_ids: ids });
  labelsGrid.setPreds(new Map(res.items.map((i) => [i.id, i])));
}

/** A label key: relabel the targets (undefined: remove their labels), one action for all. */
export async function relabel(score, items) {
  const targets = items || labelsGrid.targets();
  if (!targets.length) return;
  const index = labelsGrid.focusIndex;
  if (!(await writeLabels(targets.map((t) => t.id), score))) return;
  // Keep the order stable while relabeling: marks change in place, removals re-render.
  if (score === undefined || $("labels-filter").value === REVIEW) await renderLabels(); // the answers change
  else labelsGrid.clearSelection();
  if (!items) labelsGrid.focus(index);
}

/** z: take back the session's newest label change; the restored labels come back in place. */
export async function undoLabels() {
  if (await undoStored()) await loadLabels();
}

export function wireLabels() {
  $("labels-filter").addEventListener("change", () => { state.labelsOffset = 0; guard(renderLabels); });
  for (const b of document.querySelectorAll("[data-relabel]")) {
    b.addEventListener("click", () => guard(() => relabel(Number(b.dataset.relabel)), "label"));
  }
  $("remove-label").addEventListener("click", () => guard(() => relabel(undefined), "label"));
  $("labels-undo").addEventListener("click", () => guard(undoLabels, "undo"));
  $("labels-prev").addEventListener("click", () => { state.labelsOffset -= LABELS_PAGE; guard(renderLabels); });
  $("labels-next").addEventListener("click", () => {
    if (state.labelsOffset + LABELS_PAGE < state.labels.length) state.labelsOffset += LABELS_PAGE;
    guard(renderLabels);
  });
}
