// The page's keys, in one place (the help dialog lists them): the focused grid's own keys first,
// then the tab keys, then what the open view does with a key. Keys typed into a field are the
// field's.

import { gradeOfKey } from "./grid.js";
import { guard } from "./messages.js";
import { state } from "./state.js";
import { gridOf, showTab } from "./tabs.js";
import { moreLikeThis } from "./views/find.js";
import { markTargets, submitBatch, undo } from "./views/label.js";
import { relabel } from "./views/labels.js";

const $ = (id) => document.getElementById(id);
const TAB_KEYS = { f: "find", l: "label", r: "results", b: "labels", s: "sql", j: "jobs" };

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable=true]") !== null;
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
  const onButton = e.target.closest("button, a") !== null;
  if ((e.key === "z" && !e.ctrlKey && !e.metaKey && !e.altKey) || ((e.ctrlKey || e.metaKey) && e.key === "z")) {
    if (state.tab === "label") {
      guard(undo);
      e.preventDefault();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (TAB_KEYS[e.key] && !e.shiftKey) {
    if (TAB_KEYS[e.key] !== state.tab) showTab(TAB_KEYS[e.key]);
    e.preventDefault();
    return;
  }
  if (!grid) return;
  if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(e.key) && !grid.hasFocus() && !onButton) {
    grid.focus();
    e.preventDefault();
    return;
  }
  if (e.key === "m" && grid.current()) {
    moreLikeThis(grid.current());
    e.preventDefault();
    return;
  }
  const grade = gradeOfKey(e);
  const clear = e.key === "x" || e.key === "Delete" || e.key === "Backspace";
  if (state.tab === "label") {
    if (grade !== null || clear) {
      markTargets(clear ? undefined : grade);
      e.preventDefault();
    } else if (e.key === "Enter" && !onButton) {
      guard(submitBatch);
      e.preventDefault();
    }
  } else if (state.tab === "labels" && (grade !== null || clear)) {
    guard(() => relabel(clear ? undefined : grade));
    e.preventDefault();
  }
}

export function wireKeys() {
  document.addEventListener("keydown", onKey);
}
