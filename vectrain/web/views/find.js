// The Find view: search the dataset by text or image, or show a sample; pick examples across
// searches and start a session from them (or from a text prompt).

import { api, post, seg } from "../api.js";
import { TileGrid } from "../grid.js";
import { guard, say } from "../messages.js";
import { loadSessions, openSession } from "../session.js";
import { dataset, state } from "../state.js";
import { showTab } from "../tabs.js";

const $ = (id) => document.getElementById(id);
const FIND_K = 30;

export const findGrid = new TileGrid($("find-grid"), {
  label: "Search results", dataset, moreLikeThis: (item) => moreLikeThis(item), keepSelection: true,
  empty: "Search by text or image, or show a sample.",
  onChange: () => updateSelectedCount(),
});

function showFound(items, title) {
  state.findItems = items;
  $("find-title").textContent = title;
  if (state.tab !== "find") showTab("find", { focus: false });
  const shown = findGrid.setItems(items);
  findGrid.focus(0); // now, not after the thumbnails: keys pressed meanwhile go to the new tiles
  return shown;
}

/** The nearest items to one tile of any grid, shown here (the m key, the tile's button). */
export async function moreLikeThis(item) {
  const res = await guard(() => post(`datasets/${seg(dataset())}/search`,
    { item_id: item.id, k: FIND_K, exclude_ids: [] }));
  if (res) await showFound(res.items, `More like ${item.id}${item.label ? ` (${item.label})` : ""}: ${res.items.length} nearest, best first`);
}

export async function sample() {
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

export function wireFind() {
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
}
