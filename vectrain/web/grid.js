// A grid of item tiles: thumbnail (or a placeholder with id and label), score, mark. Keyboard:
// arrows/Home/End move, Space selects, Shift extends, Ctrl+A selects all, Esc clears. Click
// focuses and selects one (toggles one when picks add up across searches), Shift+click a
// range, Ctrl/Cmd+click toggles one.
// Everything from the API is set as text (textContent), never parsed as HTML.

import { itemInfo, safeHttpUrl, showThumb } from "./api.js";

export const THUMB_SIZE = 128;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** "+1", "+0.5", "-1" with a true minus sign: a mark must be readable without its color. */
export function markText(score) {
  if (typeof score === "string") return score; // a class, in a session with classes
  const s = Number(score);
  const body = Number.isInteger(s) ? String(Math.abs(s)) : String(Math.abs(s)).replace(/^0\./, "0.");
  return (s > 0 ? "+" : s < 0 ? "\u2212" : "\u00b1") + body;
}

/** "pred pos +0.123": the classifier's decision and its margin (score − threshold), whose sign
 *  is the decision; "" when the item has none. */
export function predText(item) {
  // A session with classes: the predicted class and its probability.
  if (item.class) return `pred ${item.class} ${typeof item.score === "number" ? item.score.toFixed(2) : ""}`.trim();
  if (typeof item.margin !== "number") return "";
  const m = item.margin;
  // Below the last digit shown, the decision gives the sign: "+0.000" is positive by a hair.
  const up = Math.abs(m) < 0.0005 ? item.positive : m > 0;
  return `pred ${item.positive ? "pos" : "neg"} ${up ? "+" : "\u2212"}${Math.abs(m).toFixed(3)}`;
}

/** An id as a tile shows it: the file name of a path-like id (the tile's title has it all). */
export function shortId(id) {
  const cut = id.lastIndexOf("/");
  return cut > 0 && id.length > 20 ? `\u2026${id.slice(cut)}` : id;
}

export function markWord(score) {
  if (typeof score === "string") return "as";
  if (score > 0) return score >= 1 ? "positive" : "weak positive";
  if (score < 0) return score <= -1 ? "negative" : "weak negative";
  return "neutral";
}

export class TileGrid {
  /**
   * @param {HTMLElement} root  an empty element; becomes the listbox
   * @param {object} opts  label: accessible name; dataset(): current dataset name;
   *   moreLikeThis(item): optional button per tile; empty: text when there are no items;
 *   yours(id): the session's label of an item, shown as the tile's mark and "you ..." (else the
 *   grid's own marks: the Label view's unsent ones); open(index): the large view of a tile;
 *   keepSelection: selected ids survive setItems (picking examples across several searches)
   */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.items = [];
    this.marks = new Map(); // id -> score shown on the tile
    this.selected = new Set();
    this.focusIndex = 0;
    this.anchor = null;
    this.tiles = [];
    root.classList.add("grid");
    root.setAttribute("role", "listbox");
    root.setAttribute("aria-multiselectable", "true");
    root.setAttribute("aria-label", opts.label);
  }

  /** Replace the items; resolves when every thumbnail (or placeholder) is on screen. */
  setItems(items, { marks } = {}) {
    this.items = items;
    this.marks = new Map(marks || []);
    if (!this.opts.keepSelection) this.selected.clear(); // else picks add up across searches
    this.anchor = null;
    this.focusIndex = Math.min(this.focusIndex, Math.max(0, items.length - 1));
    this.root.replaceChildren();
    this.tiles = items.map((item, i) => this.tile(item, i));
    if (!items.length) {
      this.root.append(el("p", { class: "empty", text: this.opts.empty || "Nothing here yet." }));
    } else {
      this.root.append(...this.tiles.map((t) => t.node));
    }
    this.refresh();
    return Promise.all(this.tiles.map((t) => t.ready));
  }

  tile(item, index) {
    const dataset = this.opts.dataset();
    const img = el("img", { alt: "", decoding: "async", draggable: "false" });
    const thumb = el("div", { class: "thumb" }, img);
    const caption = el("div", { class: "cap" },
      el("span", { class: "pred", title: "the classifier: its decision and score − threshold" }),
      this.opts.yours ? el("span", { class: "yours", title: "your label in this session" }) : null);
    if (item.label) caption.append(el("span", { class: "label", title: "label in the dataset", text: item.label }));
    caption.append(el("span", { class: "id", title: item.id, text: shortId(item.id) }));
    if (item.note) caption.append(el("span", { class: "answers", title: "each labeler's answer", text: item.note }));
    const mark = el("span", { class: "mark", "aria-hidden": "true" });
    const check = el("span", { class: "check", "aria-hidden": "true", text: "\u2713" });
    const node = el("div", { class: "tile", role: "option", tabindex: "-1", "data-id": item.id },
      thumb, caption, mark, check);
    if (this.opts.open) {
      node.append(el("button", {
        type: "button", class: "enlarge", tabindex: "-1", title: "Large view (v)", "aria-label": `Large view of ${item.id}`,
        text: "\u2922", onclick: (e) => { e.stopPropagation(); this.opts.open(index); },
      }));
      node.addEventListener("dblclick", () => this.opts.open(index));
    }
    if (this.opts.moreLikeThis) {
      node.append(el("button", {
        type: "button", class: "more", tabindex: "-1", title: "More like this (m)", text: "More like this",
        onclick: (e) => { e.stopPropagation(); this.opts.moreLikeThis(item); },
      }));
    }
    const link = safeHttpUrl(item.url);
    if (link) {
      node.append(el("a", { class: "open", href: link, target: "_blank", rel: "noopener noreferrer",
        tabindex: "-1", title: link, text: "\u2197" }));
    }
    node.addEventListener("mousedown", (e) => { if (e.shiftKey) e.preventDefault(); }); // no text selection
    node.addEventListener("click", (e) => this.onClick(e, index));
    const ready = showThumb(img, dataset, item.id, THUMB_SIZE, item.url).then((ok) => {
      if (ok) {
        img.alt = item.label ? `${item.id} (${item.label})` : item.id;
        if (img.naturalWidth && img.naturalWidth < 64) img.classList.add("pixelated");
        return;
      }
      img.remove();
      const ph = el("div", { class: "placeholder", title: "no image for this item" },
        el("span", { text: item.id }), el("span", { class: "ph-label", text: item.label || "" }));
      thumb.append(ph);
      node.classList.add("no-image");
      if (!item.label) {
        itemInfo(dataset, item.id).then((info) => {
          if (info && info.label) ph.lastChild.textContent = info.label;
        });
      }
    });
    return { node, item, ready };
  }

  // -- state -> DOM ----------------------------------------------------------------------------
  refresh() {
    const yours = this.opts.yours;
    this.tiles.forEach((t, i) => {
      // yours(id): undefined when the session has no label of the item, null without a session.
      const score = yours ? yours(t.item.id) : this.marks.get(t.item.id);
      const marked = score !== undefined && score !== null;
      t.node.classList.toggle("marked", marked);
      t.node.classList.toggle("pos", marked && score > 0);
      t.node.classList.toggle("neg", marked && score < 0);
      t.node.querySelector(".mark").textContent = marked ? markText(score) : "";
      const pred = predText(t.item);
      t.node.querySelector(".pred").textContent = pred;
      if (yours) t.node.querySelector(".yours").textContent = score === null ? "" : `you ${marked ? markText(score) : "\u2013"}`;
      const sel = this.selected.has(t.item.id);
      t.node.setAttribute("aria-selected", String(sel));
      t.node.tabIndex = i === this.focusIndex ? 0 : -1;
      const parts = [t.item.id];
      if (t.item.label) parts.push(`label ${t.item.label}`);
      if (pred) parts.push(pred.replace("pred", "predicted"));
      if (marked) parts.push(`${yours ? "your label" : "marked"} ${markWord(score)} ${markText(score)}`);
      t.node.setAttribute("aria-label", parts.join(", "));
    });
    if (this.opts.onChange) this.opts.onChange();
  }

  /** Predictions arrived for some items (id -> {margin, positive}): show them. */
  setPreds(preds) {
    for (const t of this.tiles) {
      const p = preds.get(t.item.id);
      if (p) Object.assign(t.item, { margin: p.margin, positive: p.positive, class: p.class, score: p.score });
    }
    this.refresh();
  }

  setMark(id, score) {
    if (score === undefined) this.marks.delete(id);
    else this.marks.set(id, score);
  }

  focus(index = this.focusIndex) {
    if (!this.tiles.length) return;
    this.focusIndex = Math.max(0, Math.min(index, this.tiles.length - 1));
    this.refresh();
    this.tiles[this.focusIndex].node.focus({ preventScroll: false });
  }

  hasFocus() {
    return this.root.contains(document.activeElement);
  }

  current() {
    return this.tiles[this.focusIndex]?.item || null;
  }

  /** The tiles a key acts on: the selection if there is one, else the focused tile. */
  targets() {
    if (this.selected.size) return this.items.filter((it) => this.selected.has(it.id));
    const it = this.current();
    return it ? [it] : [];
  }

  clearSelection() {
    this.selected.clear();
    this.anchor = null;
    this.refresh();
  }

  selectRange(from, to) {
    const [a, b] = from < to ? [from, to] : [to, from];
    for (let i = a; i <= b; i++) this.selected.add(this.items[i].id);
  }

  columns() {
    if (this.tiles.length < 2) return 1;
    const top = this.tiles[0].node.offsetTop;
    const n = this.tiles.findIndex((t) => t.node.offsetTop !== top);
    return n === -1 ? this.tiles.length : n;
  }

  // -- input ---------------------------------------------------------------------------------
  onClick(e, index) {
    const id = this.items[index].id;
    if (e.shiftKey && this.anchor !== null) {
      if (!(e.ctrlKey || e.metaKey)) this.selected.clear();
      this.selectRange(this.anchor, index);
    } else if (e.ctrlKey || e.metaKey || this.opts.keepSelection) {
      if (this.selected.has(id)) this.selected.delete(id);
      else this.selected.add(id);
      this.anchor = index;
    } else {
      const only = this.selected.size === 1 && this.selected.has(id);
      this.selected.clear();
      if (!only) this.selected.add(id);
      this.anchor = index;
    }
    this.focus(index);
  }

  /** Movement and selection keys; returns true when the key was used. */
  onKey(e) {
    if (e.target !== this.root && !e.target.classList?.contains("tile")) return false;
    if (e.altKey) return false;
    const n = this.tiles.length;
    if (!n) return false;
    const cols = this.columns();
    const moves = {
      ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols,
      Home: -n, End: n,
    };
    if (e.key in moves && !e.ctrlKey && !e.metaKey) {
      const to = Math.max(0, Math.min(n - 1, this.focusIndex + moves[e.key]));
      if (e.shiftKey) {
        if (this.anchor === null) this.anchor = this.focusIndex;
        this.selected.clear();
        this.selectRange(this.anchor, to);
      }
      this.focus(to);
      e.preventDefault();
      return true;
    }
    if (e.key === " " && !e.ctrlKey && !e.metaKey) {
      const id = this.items[this.focusIndex].id;
      if (this.selected.has(id)) this.selected.delete(id);
      else this.selected.add(id);
      this.anchor = this.focusIndex;
      this.refresh();
      e.preventDefault();
      return true;
    }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a") {
      this.items.forEach((it) => this.selected.add(it.id));
      this.refresh();
      e.preventDefault();
      return true;
    }
    if (e.key === "Escape" && this.selected.size) {
      this.clearSelection();
      e.preventDefault();
      return true;
    }
    return false;
  }
}

/**
 * The label a key gives: 1 or + positive, 0 or - negative; with Shift on the digit keys a
 * graded +0.5 / -0.5. Returns null for any other key.
 */
export function gradeOfKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (e.key === "1" || e.key === "+") return 1;
  if (e.key === "0" || e.key === "-") return -1;
  if (e.shiftKey && (e.code === "Digit1" || e.code === "Numpad1")) return 0.5;
  if (e.shiftKey && (e.code === "Digit0" || e.code === "Numpad0" || e.code === "Minus")) return -0.5;
  return null;
}
