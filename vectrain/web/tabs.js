// The tabs and the views behind them. app.js registers each view (what loads it, its grid, what
// hides it); anything may switch tabs through showTab() without importing the views, so the
// views never import each other.

import { guard, leaveView } from "./messages.js";
import { state, writeHash } from "./state.js";

const $ = (id) => document.getElementById(id);
const TABS = ["find", "label", "results", "labels", "sql", "jobs"];
const views = {}; // tab -> { load(), grid, hide(), label(score), undo() }, each optional

export function addView(tab, view) {
  views[tab] = view;
}

/** The grid of a view (the keys go to it), if it has one. */
export const gridOf = (tab) => views[tab]?.grid;

/** What a label key does in a view: mark(score) (undefined: clear or remove), or nothing. */
export const labelerOf = (tab) => views[tab]?.label;

/** What z does in a view (the Label view undoes its unsent marks first). */
export const undoerOf = (tab) => views[tab]?.undo;

export function showTab(tab, { focus = true } = {}) {
  if (!TABS.includes(tab)) tab = "find";
  state.tab = tab;
  document.body.dataset.tab = tab;
  leaveView(tab);
  for (const t of TABS) {
    $(`view-${t}`).hidden = t !== tab;
    const button = $(`tab-${t}`);
    button.setAttribute("aria-selected", String(t === tab));
    button.tabIndex = t === tab ? 0 : -1;
  }
  writeHash();
  for (const [t, view] of Object.entries(views)) if (t !== tab) view.hide?.();
  const load = views[tab]?.load;
  const ready = load ? guard(load) : Promise.resolve();
  if (focus) {
    // Once the view has loaded, its grid takes the focus, unless the person has moved it.
    const before = document.activeElement;
    ready.then(() => {
      const grid = gridOf(tab);
      const idle = document.activeElement === before || document.activeElement === document.body;
      if (idle && !grid?.hasFocus() && grid?.tiles.length) grid.focus();
    });
  }
  return ready;
}

/** A view of the open session: without one, say where to get one and show nothing. */
export function needSession(gridTitle, grid) {
  if (state.session) return true;
  $(gridTitle).textContent = "No session open: start one in Find (f), or pick one in the Session menu.";
  grid?.setItems([]);
  return false;
}

export function wireTabs() {
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
}
