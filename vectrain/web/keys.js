// The page's keys, in one place (the help dialog lists them): the focused grid's own keys first,
// then the tab keys, then what the open view does with a key. Keys typed into a field are the
// field's; a key with no meaning in the open view says so on the status line.

import { classKey, classOfKey, focusPicker, isMulti } from "./classes.js";
import { gradeOfKey } from "./grid.js";
import { guard, say } from "./messages.js";
import { state } from "./state.js";
import { gridOf, labelerOf, showTab, undoerOf } from "./tabs.js";
import { moreLikeThis } from "./views/find.js";
import { acceptPredictions, submitBatch } from "./views/label.js";

const $ = (id) => document.getElementById(id);
const TAB_KEYS = { f: "find", l: "label", r: "results", b: "labels", s: "sql", j: "jobs" };
const NAMES = { find: "Find", label: "Label", results: "Results", labels: "Labels", sql: "SQL", jobs: "Jobs" };
const hooks = { open: null }; // open(grid, index): the large view of a tile (given by app.js)

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable=true]") !== null;
}

function pointless(e, why) {
  say(`${e.key === " " ? "Space" : e.key}: ${why} (? lists the keys).`);
  e.preventDefault();
}

function onKey(e) {
  if (document.querySelector("dialog[open]")) return; // the dialog has the keys
  if (typing(e.target)) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  const grid = gridOf(state.tab);
  if (grid?.hasFocus() && grid.onKey(e)) return;
  if (e.key === "?") {
    $("help").showModal();
    e.preventDefault();
    return;
  }
  const onButton = e.target.closest("button, a, summary") !== null;
  const view = NAMES[state.tab];
  if ((e.key === "z" && !e.ctrlKey && !e.metaKey && !e.altKey) || ((e.ctrlKey || e.metaKey) && e.key === "z")) {
    const undo = undoerOf(state.tab);
    if (undo) guard(undo, "undo");
    else pointless(e, `nothing to undo in ${view}`);
    e.preventDefault();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (TAB_KEYS[e.key] && !e.shiftKey) {
    if (TAB_KEYS[e.key] !== state.tab) showTab(TAB_KEYS[e.key]);
    e.preventDefault();
    return;
  }
  if (isMulti() && !onButton && onClassKey(e, grid)) return;
  const grade = isMulti() ? classOfKey(e) : gradeOfKey(e); // a session with classes: 1-9 give a class
  const clear = e.key === "x" || e.key === "Delete" || e.key === "Backspace";
  const tiles = grid?.tiles.length > 0;
  if (grid && tiles && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(e.key)
    && !grid.hasFocus() && !onButton) {
    grid.focus();
    e.preventDefault();
  } else if (e.key === "m" && grid) {
    if (grid.current()) moreLikeThis(grid.current());
    else pointless(e, "no tile to find more like");
    e.preventDefault();
  } else if (e.key === "v" || (e.key === "Enter" && !onButton && state.tab !== "label" && grid)) {
    if (grid && grid.current()) hooks.open(grid, grid.focusIndex);
    else pointless(e, grid ? "no tile to enlarge" : `no tiles in ${view}`);
    e.preventDefault();
  } else if (grade !== null || clear) {
    const label = labelerOf(state.tab);
    if (!label) pointless(e, `nothing to label in ${view}`);
    else if (!tiles) pointless(e, "no tile to label");
    else guard(() => label(clear ? undefined : grade), "label");
    e.preventDefault();
  } else if (e.key === "Enter" && state.tab === "label" && !onButton) {
    guard(submitBatch, "enter");
    e.preventDefault();
  } else if (e.key.length === 1 && e.key !== " " && !onButton) {
    pointless(e, `no meaning in ${view}`);
  }
}

/** A session with classes: `a` accepts the predicted classes (Label), `c` picks a class beyond nine. */
function onClassKey(e, grid) {
  const key = classKey(e);
  if (!key || key.cls !== undefined) return false;
  if (key.pick) focusPicker();
  else if (state.tab !== "label") pointless(e, "a accepts the predictions of a batch: in Label (l)");
  else if (!grid?.tiles.length) pointless(e, "no tile to label");
  else acceptPredictions();
  e.preventDefault();
  return true;
}

export function wireKeys(given) {
  Object.assign(hooks, given);
  document.addEventListener("keydown", onKey);
}
