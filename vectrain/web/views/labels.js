// The Labels view: everything labeled in the open session, newest first; relabel or remove.

import { api, get, post, seg } from "../api.js";
import { TileGrid, markText } from "../grid.js";
import { guard, say } from "../messages.js";
import { dataset, state } from "../state.js";
import { needSession } from "../tabs.js";

const $ = (id) => document.getElementById(id);
const LABELS_PAGE = 100;
// Given by wireLabels(): the Label view's progress panel, redrawn after a change of labels.
const hooks = { renderProgress: null };

export const labelsGrid = new TileGrid($("labels-grid"), {
  label: "Labels of this session", dataset, empty: "No labels yet.",
});

export async function loadLabels() {
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

export async function relabel(score) {
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
  hooks.renderProgress();
}

/** given: renderProgress() of the Label view (see hooks). */
export function wireLabels(given) {
  Object.assign(hooks, given);
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
}
