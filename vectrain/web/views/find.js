// The Find view: a sample of the dataset, or a search by text, image or a tile ("more like
// this"), narrowed by the filters with exact counts; pick examples across searches and start a
// session from them (or from a text prompt). With a session open, tiles show its label and its
// classifier's prediction, and the label keys label them.

import { api, get, post, seg } from "../api.js";
import { TileGrid } from "../grid.js";
import { explainName, guard, say } from "../messages.js";
import { writeLabels } from "../mine.js";
import { loadSessions, openSession } from "../session.js";
import { dataset, state } from "../state.js";
import { showTab } from "../tabs.js";
import { currentFilter, describeFilter, syncSessionFilters, wireFilters } from "./filters.js";

const $ = (id) => document.getElementById(id);
const FIND_K = 30;
const NAME_RULE = "Name the session with lowercase letters a–z, digits 0–9 and _, starting with a letter "
  + "(e.g. zeros), at most 59 characters and no double _.";
let last = { kind: "sample", offset: 0 }; // what the grid shows, run again when the filters change

const inSession = () => Boolean(state.session && state.session.dataset === dataset());

export const findGrid = new TileGrid($("find-grid"), {
  label: "Search results", dataset, moreLikeThis: (item) => moreLikeThis(item), keepSelection: true,
  empty: "Nothing matches: change the filters, or search by text or image.",
  onChange: () => updateSelectedCount(),
  yours: (id) => (inSession() ? state.mine.get(id) : null),
});

function showFound(items, title) {
  state.findItems = items;
  $("find-title").textContent = title;
  $("find-pages").hidden = last.kind !== "sample";
  if (state.tab !== "find") showTab("find", { focus: false });
  const shown = findGrid.setItems(items);
  findGrid.focus(0); // now, not after the thumbnails: keys pressed meanwhile go to the new tiles
  if (inSession() && items.length) guard(showPredictions); // the tiles do not wait for it
  return shown;
}

/** The open session's classifier on the tiles shown (one request). */
async function showPredictions() {
  const items = findGrid.items;
  const scored = `${state.session.id}:${state.session.round}`;
  const res = await post(`sessions/${seg(state.session.id)}/scores`, { item_ids: items.map((i) => i.id) });
  if (findGrid.items !== items) return; // other tiles are shown now
  findGrid.setPreds(new Map(res.items.map((i) => [i.id, i])));
  findGrid.scored = scored;
}

/** Back in Find: the tiles follow the session (its labels, its latest round's predictions). */
export function refreshFind() {
  syncSessionFilters();
  if (!inSession()) {
    for (const it of findGrid.items) {
      delete it.margin;
      delete it.class;
    }
    findGrid.scored = "";
  }
  findGrid.refresh();
  if (inSession() && findGrid.items.length && findGrid.scored !== `${state.session.id}:${state.session.round}`) {
    return showPredictions();
  }
  return undefined;
}

/** How many items pass the filter, exactly (a browse of one). */
async function matching(filter) {
  return (await post(`datasets/${seg(dataset())}/browse`, { ...filter, limit: 1 })).total;
}

async function runSearch(body, what) {
  const filter = currentFilter();
  const [res, total] = await Promise.all([
    post(`datasets/${seg(dataset())}/search`, { ...body, k: FIND_K, ...(filter ? { filter } : {}) }),
    filter ? matching(filter) : null,
  ]);
  const among = filter ? ` among the ${total.toLocaleString()} items ${describeFilter(filter)}` : "";
  await showFound(res.items, `${what}: ${res.items.length} nearest${among}, best first`);
}

/** The nearest items to one tile of any grid, shown here (the m key, the tile's button). */
export async function moreLikeThis(item) {
  last = { kind: "more", item };
  await guard(() => runSearch({ item_id: item.id, exclude_ids: [] },
    `More like ${item.id}${item.label ? ` (${item.label})` : ""}`));
}

/** A fixed sample of the dataset (the same on every reload) under the filters, paged. */
export async function sample(offset = 0) {
  last = { kind: "sample", offset: Math.max(0, offset) };
  const filter = currentFilter();
  const res = await post(`datasets/${seg(dataset())}/browse`, { ...filter, offset: last.offset, limit: FIND_K });
  const range = res.items.length ? `${res.offset + 1}–${res.offset + res.items.length}` : "none";
  const what = filter ? `${res.total.toLocaleString()} items ${describeFilter(filter)}`
    : `A sample of ${dataset()}: ${res.total.toLocaleString()} items`;
  $("find-prev").disabled = res.offset === 0;
  $("find-next").disabled = res.offset + res.items.length >= res.total;
  await showFound(res.items, `${what}; showing ${range}. Press m on a tile for more like it, v to enlarge it`);
}

/** The filters changed: run what the grid shows again with them. */
function refilter() {
  syncSessionFilters();
  if (last.kind === "more") return moreLikeThis(last.item);
  if (last.kind === "text") return guard(() => runSearch({ text: last.text }, `“${last.text}”`));
  return guard(() => sample(0));
}

/** A label key on Find's tiles: label them in the open session at once (one undo step). */
export async function labelFound(score, items) {
  const targets = items || findGrid.targets();
  if (!targets.length) return;
  if (await writeLabels(targets.map((t) => t.id), score)) findGrid.refresh();
}

function updateSelectedCount() {
  const n = findGrid.selected.size;
  $("selected-count").textContent = `the selected tiles (${n})`;
}

async function startSession(e) {
  e.preventDefault();
  const name = $("session-name").value.trim();
  const from = document.querySelector("input[name=start-from]:checked").value;
  const fromPrompt = from === "prompt";
  const body = { dataset: dataset(), name };
  const audit = Number($("start-audit").value || 0);
  if (!(audit >= 0 && audit <= 0.9)) throw new Error("The audit share is a number from 0 to 0.9, e.g. 0.3.");
  if (audit > 0) body.audit_rate = audit;
  if (from === "classes") {
    body.classes = $("start-classes").value.split(",").map((c) => c.trim()).filter(Boolean);
    if (body.classes.length < 2) throw new Error("Type two or more classes, comma-separated, e.g. “cat, dog, bird”.");
    if ($("start-labelset").value) body.labelset = $("start-labelset").value;
  } else if (fromPrompt) {
    body.prompt = $("start-prompt").value.trim();
    if (!body.prompt) throw new Error("Type a prompt to start from, e.g. “photos of dogs”.");
  } else {
    body.positive_ids = [...findGrid.selected];
    if (!body.positive_ids.length) {
      throw new Error("Select a few tiles first (click, Shift+click or Space): they start the session as positives.");
    }
  }
  const s = await api("POST", "sessions", { json: body });
  await loadSessions();
  await openSession(s.id);
  say(`Session ${s.name} started from ${s.source.replace("_", " ")}.`);
}

export function wireFind() {
  $("text-search").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const text = $("text-query").value.trim();
      if (!text) throw new Error("Type something to search for.");
      last = { kind: "text", text };
      await runSearch({ text }, `“${text}”`);
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
      last = { kind: "image" };
      const res = await api("POST", `datasets/${seg(dataset())}/search/image`, { form });
      const note = currentFilter() ? " (the filters do not apply to an uploaded image)" : "";
      await showFound(res.items, `Like ${file.name}: ${res.items.length} nearest, best first${note}`);
    });
  });
  $("sample-button").addEventListener("click", () => guard(() => sample(0)));
  $("find-prev").addEventListener("click", () => guard(() => sample(last.offset - FIND_K)));
  $("find-next").addEventListener("click", () => guard(() => sample(last.offset + FIND_K)));
  $("start-form").addEventListener("submit", (e) => guard(() => startSession(e), "start"));
  explainName($("session-name"), NAME_RULE);
  $("start-prompt").addEventListener("focus", () => { $("start-prompt-radio").checked = true; });
  $("start-classes").addEventListener("focus", () => {
    $("start-classes-radio").checked = true;
    guard(loadLabelsets);
  });
  wireFilters(refilter);
}

/** The label sets a session with classes may start from (each class takes its label's vector). */
async function loadLabelsets() {
  const select = $("start-labelset");
  if (select.dataset.loaded === dataset()) return;
  const sets = (await get("labelsets")).filter((s) => s.dim === state.dataset?.dim);
  const keep = select.value;
  select.replaceChildren(select.options[0], ...sets.map((s) => {
    const option = document.createElement("option");
    option.value = s.name;
    option.textContent = `${s.name} (${s.labels.length} labels)`;
    return option;
  }));
  select.value = sets.some((s) => s.name === keep) ? keep : "";
  select.dataset.loaded = dataset();
}
