// The Find view's filters: the dataset's label and split (from GET .../facets, with their
// counts), and, with a session open, labeled or not in it and a range of its classifier's
// margin. They narrow the sample (POST .../browse) and every search; counts are exact.

import { get, seg } from "../api.js";
import { el } from "../grid.js";
import { dataset, state } from "../state.js";

const $ = (id) => document.getElementById(id);
const ANY = "";

/** Fill the label and split menus for the open dataset (their counts in the menu). */
export async function loadFacets() {
  const name = dataset();
  if (!name) return;
  const facets = await get(`datasets/${seg(name)}/facets`);
  if (name !== dataset()) return; // another dataset was chosen meanwhile
  const fill = (select, values, what) => {
    const keep = select.value;
    select.replaceChildren(el("option", { value: ANY, text: `any ${what}` }),
      ...values.map((f) => el("option", { value: `=${f.value}`, text: `${f.value || "(none)"} (${f.count.toLocaleString()})` })));
    select.value = [...select.options].some((o) => o.value === keep) ? keep : ANY;
  };
  fill($("f-label"), facets.labels, "label");
  fill($("f-split"), facets.splits, "split");
  syncSessionFilters();
}

/** Labeled and the margin are about the open session: usable only with one. */
export function syncSessionFilters() {
  const on = Boolean(state.session && state.session.dataset === dataset());
  for (const id of ["f-labeled", "f-min", "f-max"]) $(id).disabled = !on;
  $("f-session-note").textContent = on ? `(session ${state.session.name})` : "(open a session to filter by its labels and predictions)";
}

function number(id) {
  const text = $(id).value.trim();
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${$(id).getAttribute("aria-label")}: give a number, e.g. 0 or -0.5.`);
  return value;
}

/** The filter of the API (POST .../browse, search's `filter`), or null when nothing is chosen. */
export function currentFilter() {
  const f = {};
  if ($("f-label").value !== ANY) f.label = $("f-label").value.slice(1);
  if ($("f-split").value !== ANY) f.split = $("f-split").value.slice(1);
  if (!$("f-labeled").disabled) {
    if ($("f-labeled").value !== "any") f.labeled = $("f-labeled").value;
    const low = number("f-min");
    const high = number("f-max");
    if (low !== undefined) f.margin_min = low;
    if (high !== undefined) f.margin_max = high;
    if (low !== undefined && high !== undefined && low > high) {
      throw new Error(`The prediction range runs from ${low} to ${high}: the first number must be the smaller.`);
    }
  }
  if (f.labeled || f.margin_min !== undefined || f.margin_max !== undefined) f.session = state.session.id;
  return Object.keys(f).length ? f : null;
}

/** The filter in words, after "N items" in the title above the tiles. */
export function describeFilter(f) {
  if (!f) return "";
  const parts = [];
  if (f.label !== undefined) parts.push(`with label ${f.label || "(none)"}`);
  if (f.split !== undefined) parts.push(`in split ${f.split || "(none)"}`);
  if (f.labeled) parts.push(f.labeled === "yes" ? "labeled in this session" : "not labeled in this session");
  if (f.margin_min !== undefined && f.margin_max !== undefined) parts.push(`with pred ${f.margin_min} to ${f.margin_max}`);
  else if (f.margin_min !== undefined) parts.push(`with pred \u2265 ${f.margin_min}`);
  else if (f.margin_max !== undefined) parts.push(`with pred \u2264 ${f.margin_max}`);
  return parts.join(", ");
}

export function clearFilters() {
  for (const id of ["f-label", "f-split"]) $(id).value = ANY;
  $("f-labeled").value = "any";
  $("f-min").value = "";
  $("f-max").value = "";
}

/** onChange(): run the Find view's listing again with the filters. */
export function wireFilters(onChange) {
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    onChange();
  });
  for (const id of ["f-label", "f-split", "f-labeled"]) $(id).addEventListener("change", onChange);
  $("f-clear").addEventListener("click", () => {
    clearFilters();
    onChange();
  });
}
