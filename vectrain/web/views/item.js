// The large view of one item: the bigger image (?size=), its full id, url and metadata, the
// dataset's label, your label and the classifier's prediction. The label keys label it as in
// the view it was opened from, z undoes, arrows walk that view's tiles, Esc closes.

import { get, post, safeHttpUrl, seg, showThumb } from "../api.js";
import { el, gradeOfKey, markText, markWord, predText } from "../grid.js";
import { classOfKey, isMulti } from "../classes.js";
import { fail } from "../messages.js";
import { dataset, state } from "../state.js";

const $ = (id) => document.getElementById(id);
const LARGE = 512; // px on the long side; at most VECTRAIN_THUMBNAIL_MAX_SIZE (1024 by default)
const open = { grid: null, index: 0, label: null, undo: null, mark: null, token: 0 };

/**
 * Show tile `index` of `grid`. label(score, items): what a label key does in that view;
 * undo(): what z does; mark(id): the label shown (the Label view's unsent mark, else yours).
 */
export function openItem(grid, index, { label, undo, mark }) {
  if (!grid.items.length) return;
  Object.assign(open, { grid, index, label, undo, mark });
  if (!$("item-view").open) $("item-view").showModal();
  return act(render);
}

function item() {
  return open.grid.items[open.index];
}

async function render() {
  const it = item();
  open.id = it.id;
  const token = ++open.token; // a newer render wins over this one's late answers
  const name = dataset();
  $("item-id").textContent = it.id;
  $("item-position").textContent = `${open.index + 1} of ${open.grid.items.length}`;
  $("item-label").textContent = it.label || "–";
  for (const id of ["item-split", "item-url"]) $(id).replaceChildren("…");
  $("item-meta").textContent = "";
  $("item-status").textContent = "";
  showLabels(it);
  const img = $("item-img");
  img.hidden = false;
  $("item-noimage").hidden = true;
  img.removeAttribute("src");
  img.alt = it.label ? `${it.id} (${it.label})` : it.id;
  showThumb(img, name, it.id, LARGE, it.url)
    .then((ok) => ok || showThumb(img, name, it.id, undefined, it.url)) // a service with a smaller maximum
    .then((ok) => {
      if (token !== open.token) return;
      img.hidden = !ok;
      $("item-noimage").hidden = ok;
      img.classList.toggle("pixelated", ok && img.naturalWidth < 128);
    });
  const info = await get(`datasets/${seg(name)}/items/${seg(it.id)}/meta`);
  if (token !== open.token) return;
  $("item-label").textContent = info.label || "(none)";
  $("item-split").textContent = info.split || "(none)";
  const link = safeHttpUrl(info.url);
  $("item-url").replaceChildren(link
    ? el("a", { href: link, target: "_blank", rel: "noopener noreferrer", text: info.url })
    : el("span", { text: info.url || "(none)" }));
  $("item-meta").textContent = JSON.stringify(info.meta, null, 2);
  if (typeof it.margin !== "number" && state.session && state.session.dataset === name) {
    const scored = await post(`sessions/${seg(state.session.id)}/scores`, { item_ids: [it.id] });
    if (token !== open.token || !scored.items.length) return;
    const { margin, positive, score } = scored.items[0];
    Object.assign(it, { margin, positive, score, class: scored.items[0].class });
    showLabels(it);
  }
}

/** Your label and the prediction, redrawn after a label key. */
function showLabels(it) {
  const mark = open.mark(it.id);
  $("item-yours").textContent = !state.session ? "no session open"
    : mark === undefined ? "none yet" : `${markText(mark)} (${markWord(mark)})`;
  $("item-pred").textContent = predText(it) || (state.session ? "…" : "no session open");
}

function move(to) {
  const n = open.grid.items.length;
  open.index = Math.max(0, Math.min(n - 1, to));
  open.grid.focus(open.index);
  return render();
}

async function labelShown(score) {
  await open.label(score, [item()]);
  showLabels(item());
}

/** Run an action of the dialog; what it says (or its error) shows in the dialog, above the page. */
async function act(fn, source = null) {
  try {
    const before = $("status").textContent;
    await fn();
    const said = $("status").textContent;
    if (said !== before || source) $("item-status").textContent = said;
  } catch (err) {
    fail(err, source);
    $("item-status").textContent = err.message;
  }
}

function onKey(e) {
  if (e.target.closest("input, textarea, select")) return;
  // A session with classes: 1-9 give a class, a accepts the predicted one.
  const accept = isMulti() && e.key === "a" && !e.ctrlKey && !e.metaKey && !e.altKey && item().class;
  const grade = accept ? item().class : isMulti() ? classOfKey(e) : gradeOfKey(e);
  const clear = e.key === "x" || e.key === "Delete" || e.key === "Backspace";
  const moves = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1, Home: -Infinity, End: Infinity };
  if (grade !== null || clear) act(() => labelShown(clear ? undefined : grade), "label");
  else if (e.key in moves && !e.shiftKey) act(() => move(open.index + moves[e.key]));
  else if ((e.key === "z" && !e.altKey) || ((e.ctrlKey || e.metaKey) && e.key === "z")) {
    act(async () => {
      await open.undo();
      showLabels(item());
    }, "undo");
  } else if (e.key === "v" || (e.key === "Enter" && !e.target.closest("button"))) $("item-view").close();
  else return;
  e.preventDefault();
  e.stopPropagation();
}

export function wireItem() {
  const dialog = $("item-view");
  dialog.addEventListener("keydown", onKey);
  // Back to the item shown, by id: the grid may have been redrawn in another order meanwhile.
  dialog.addEventListener("close", () => {
    const at = open.grid?.items.findIndex((it) => it.id === open.id) ?? -1;
    open.grid?.focus(at >= 0 ? at : open.index);
  });
  $("item-prev").addEventListener("click", () => act(() => move(open.index - 1)));
  $("item-next").addEventListener("click", () => act(() => move(open.index + 1)));
  for (const b of dialog.querySelectorAll("[data-item-grade]")) {
    const v = b.dataset.itemGrade;
    b.addEventListener("click", () => act(() => labelShown(v === "clear" ? undefined : Number(v)), "label"));
  }
}
