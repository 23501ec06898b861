// The Jobs view: long work running in the service (loads, zero-shot, apply, eval, index builds)
// with a progress bar each, a Cancel button while one runs, and a form that starts a load: a
// folder or file under the service's load roots, or an uploaded features file.
// Everything from the API is set as text (textContent), never parsed as HTML.

import { api, get, seg } from "../api.js";
import { el } from "../grid.js";
import { explainName } from "../messages.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 600;
const ENDED = new Set(["done", "failed", "cancelled"]);
const SOURCE_HINTS = {
  images: "a folder of images: [split/]label/file (train/, test/, val/ name the split)",
  features: "an .npz (vectors, ids, ...) or .parquet (id, vector, ...) file, or upload one below",
  cifar10: "the CIFAR-10 python archive (.tar.gz) or its extracted folder",
  cifar100: "the CIFAR-100 python archive (.tar.gz) or its extracted folder",
  unsplash: "the Unsplash Lite photos.tsv000 (with a folder of <photo_id>.jpg in Images)",
  demo: "scikit-learn's handwritten digits: no path",
};

const count = (n) => (n === null || n === undefined ? "?" : Number(n).toLocaleString());

function seconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export class JobsView {
  /**
   * @param {object} hooks  guard(fn): run an action, showing its error; say(text): a status line;
   *   loaded(job): a load ended (the page refreshes its datasets)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.visible = false;
    this.jobs = [];
    this.timer = null;
    this.seenActive = new Set(); // ids seen queued or running: their end is announced once
    this.options = null;
    $("load-form").addEventListener("submit", (e) => {
      e.preventDefault();
      hooks.guard(() => this.startLoad(), "load");
    });
    $("load-source").addEventListener("change", () => this.showSourceHint());
    explainName($("load-dataset"), "Name the dataset with lowercase letters a–z, digits 0–9 and _, starting with a letter (e.g. photos).");
    $("job-list").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-cancel]");
      if (button) hooks.guard(() => this.cancel(button.dataset.cancel));
    });
  }

  async show() {
    this.visible = true;
    if (!this.options) await this.loadOptions();
    await this.refresh();
  }

  hide() {
    this.visible = false;
  }

  async loadOptions() {
    this.options = await get("loads");
    const roots = this.options.roots;
    $("load-roots").textContent = roots.length
      ? `Paths are on the service's machine, under ${roots.join(", ")} (a relative path starts at ${roots[0]}).`
      : "This service reads no folders for the page (VECTRAIN_LOAD_ROOTS is not set): upload a features file.";
    $("load-path").disabled = !roots.length;
    $("load-images").disabled = !roots.length;
    const mb = this.options.max_upload_bytes / (1024 * 1024);
    $("load-file-note").textContent = `up to ${mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`}`;
    this.showSourceHint();
  }

  showSourceHint() {
    const source = $("load-source").value;
    $("load-source-hint").textContent = SOURCE_HINTS[source] || "";
    $("load-file").disabled = source !== "features";
    $("load-images-row").hidden = source !== "unsplash";
  }

  /** Read the jobs, redraw, and poll again while the view is open or a job is running. */
  async refresh() {
    clearTimeout(this.timer);
    this.timer = null;
    try {
      this.jobs = await get("jobs", { limit: 30 });
      this.render();
      for (const job of this.jobs) {
        if (!ENDED.has(job.state)) this.seenActive.add(job.id);
        else if (this.seenActive.delete(job.id)) this.ended(job);
      }
    } finally {
      if (this.visible || this.jobs.some((j) => !ENDED.has(j.state))) {
        this.timer = setTimeout(() => this.hooks.guard(() => this.refresh()), POLL_MS);
      }
    }
  }

  ended(job) {
    const what = `${job.kind} of ${job.dataset}`;
    if (job.state === "done") this.hooks.say(`Job ${job.id} (${what}) done: ${job.message}`);
    else this.hooks.say(`Job ${job.id} (${what}) ${job.state}: ${job.error || job.message}`);
    if (job.kind === "load") this.hooks.loaded(job);
  }

  render() {
    const list = $("job-list");
    if (!this.jobs.length) {
      list.replaceChildren(el("li", { class: "muted", text: "No jobs yet." }));
      return;
    }
    list.replaceChildren(...this.jobs.map((job) => this.row(job)));
  }

  row(job) {
    const known = job.total !== null && job.total !== undefined && job.total > 0;
    const bar = el("progress", { max: known ? job.total : undefined, value: known ? job.done : undefined,
      "aria-label": `${job.kind} of ${job.dataset}: ${known ? `${count(job.done)} of ${count(job.total)}` : job.state}` });
    if (job.state === "done" && !known) {
      bar.max = 1;
      bar.value = 1;
    }
    const numbers = [known ? `${count(job.done)} of ${count(job.total)}` : job.done ? count(job.done) : ""];
    if (job.state === "running" && job.rows_per_second) numbers.push(`${count(Math.round(job.rows_per_second))} rows/s`);
    if (job.state === "running" && job.eta_seconds !== null) numbers.push(`about ${seconds(job.eta_seconds)} left`);
    const text = job.error || job.message || "";
    return el("li", { class: "job", "data-id": job.id, "data-state": job.state },
      el("div", { class: "job-head" },
        el("strong", { text: `${job.kind} ${job.dataset}` }),
        el("span", { class: "job-state", text: job.state }),
        el("span", { class: "muted small", text: `${job.id} · ${String(job.created).replace("T", " ").slice(0, 19)}` }),
        ENDED.has(job.state) || job.cancel_requested ? null
          : el("button", { type: "button", "data-cancel": job.id, text: "Cancel",
            "aria-label": `Cancel job ${job.id} (${job.kind} of ${job.dataset})` })),
      bar,
      el("div", { class: "small job-numbers", text: numbers.filter(Boolean).join(" · ") }),
      text ? el("div", { class: `small job-message${job.error ? " job-error" : ""}`, text }) : null);
  }

  async cancel(id) {
    const job = await api("DELETE", `jobs/${seg(id)}`);
    this.hooks.say(`Job ${id}: ${job.message}`);
    await this.refresh();
  }

  async startLoad() {
    const name = $("load-dataset").value.trim();
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
      throw new Error("Name the dataset: lowercase letters, digits and _, starting with a letter (e.g. photos).");
    }
    const source = $("load-source").value;
    const form = new FormData();
    form.append("source", source);
    const path = $("load-path").value.trim();
    const file = source === "features" ? $("load-file").files[0] : undefined;
    if (path) form.append("path", path);
    if (file) form.append("file", file, file.name);
    if (!path && !file && source !== "demo") {
      throw new Error(source === "features" ? "Give a path under the load roots, or choose a features file to upload."
        : "Give the path of what to load, under the load roots.");
    }
    const images = $("load-images").value.trim();
    if (source === "unsplash" && images) form.append("images", images);
    const encoder = $("load-encoder").value.trim();
    if (encoder) form.append("encoder", encoder);
    const job = await api("POST", `datasets/${seg(name)}/load`, { form });
    this.hooks.say(`Loading ${name} as job ${job.id}.`);
    $("load-file").value = "";
    this.seenActive.add(job.id);
    await this.refresh();
  }
}
