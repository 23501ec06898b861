// Labels written at once from any view (Find, Results, Labels and the large view), and undo of
// the session's label history. Each key press is one request, so one undo step; the open
// session's labels (state.mine) follow every write, and the views redraw through onChange.

import { ApiError, post, seg } from "./api.js";
import { markText } from "./grid.js";
import { say } from "./messages.js";
import { dataset, noteLabels, state } from "./state.js";

export const READ_ONLY = "Read-only: this API key may only read, so labels cannot be stored. "
  + "Use a key from VECTRAIN_API_KEYS (Forget API key, then enter it).";
const hooks = { onChange: null }; // given by app.js: redraw the grids and the progress panel

export function wireMine(given) {
  Object.assign(hooks, given);
}

/** Why labels cannot be written now, or "" when they can. */
export function cannotLabel() {
  if (!state.session) return "No session open: a label key labels in a session. Start one in Find, or pick one in the Session menu.";
  if (state.session.dataset !== dataset()) return `The open session labels ${state.session.dataset}, not ${dataset()}.`;
  if (state.readOnly) return READ_ONLY;
  return "";
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Store `score` for these items (undefined: remove their labels), as one action. */
export async function writeLabels(ids, score) {
  const why = cannotLabel();
  if (why) {
    say(why);
    return false;
  }
  const sid = seg(state.session.id);
  if (score === undefined) {
    const labeled = ids.filter((id) => state.mine.has(id));
    if (!labeled.length) {
      say(ids.length === 1 ? `${ids[0]} has no label to remove.` : "None of these items has a label to remove.");
      return false;
    }
    const res = await post(`sessions/${sid}/labels/remove`, { item_ids: labeled });
    noteLabels(labeled, undefined);
    state.session.labels = res.labels;
    say(`Removed ${plural(labeled.length, "label")}; z undoes it.`);
  } else {
    const key = typeof score === "string" ? "class" : "score"; // a session with classes labels by class
    const res = await post(`sessions/${sid}/labels`, { labels: ids.map((id) => ({ item_id: id, [key]: score })) });
    noteLabels(ids, score);
    state.session.labels = res.labels;
    const what = ids.length === 1 ? ids[0] : plural(ids.length, "item");
    say(`Labeled ${what} ${markText(score)}; the next round trains with it (z undoes it).`);
  }
  hooks.onChange?.();
  return true;
}

/** Take back this labeler's newest label change in the session (a batch sent with Enter counts as one). */
export async function undoStored() {
  if (!state.session) {
    say("Nothing to undo: no session is open.");
    return null;
  }
  if (state.readOnly) {
    say(READ_ONLY);
    return null;
  }
  let res;
  try {
    res = await post(`sessions/${seg(state.session.id)}/labels/undo`, {});
  } catch (err) {
    if (err instanceof ApiError && err.code === "nothing_to_undo") {
      say(err.message);
      return null;
    }
    throw err;
  }
  // A session with classes restores classes: an item's label is its class (absent: no label).
  const items = res.undone.items.map((it) => (state.session.classes ? { ...it, score: it.class ?? null } : it));
  for (const it of items) noteLabels([it.item_id], it.score ?? undefined);
  state.session.labels = res.labels;
  const restored = items.filter((i) => i.score !== null);
  const what = res.undone.kind === "remove" ? "removal" : "labels";
  const detail = items.length === 1
    ? `${items[0].item_id} is ${restored.length ? markText(restored[0].score) : "unlabeled"} again`
    : `${restored.length} label${restored.length === 1 ? "" : "s"} restored, ${items.length - restored.length} removed`;
  const kept = res.undone.kept?.length
    ? ` ${plural(res.undone.kept.length, "item")} kept the label another labeler gave since.` : "";
  say(`Undone: the ${what} of ${plural(items.length, "item")} (${detail}).${kept}${res.more ? "" : " Nothing earlier to undo."}`);
  hooks.onChange?.();
  return res;
}
