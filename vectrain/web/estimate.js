// The estimate panel of the Label view: the classifier's F1, precision, recall and positives over
// the whole dataset with 95% intervals (GET /sessions/{id} "estimate"), and the stop rule. The
// service computes a round's estimate in the background after training; while it does
// ("estimating"), the panel shows the previous one and reads the session again shortly.

import { get, seg } from "./api.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;
const POLL_TRIES = 75; // 30 s, then the next round's reading catches up
let polling = null;
let reading = false; // refreshEstimate is reading the session

const num = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");
const span = (e, name, digits = 3) => (e[name] === null ? "undefined"
  : `${num(e[name], digits)} (${num(e[`${name}_low`], digits)}–${num(e[`${name}_high`], digits)})`);

/** Draw the panel from the open session. */
export function renderEstimate() {
  const s = state.session;
  if (!s) return;
  const e = s.estimate;
  const panel = $("estimate-panel");
  panel.dataset.round = e ? String(e.round) : "";
  panel.dataset.estimating = String(Boolean(s.estimating));
  const waiting = s.estimating ? ` Computing the estimate of round ${s.round}…` : "";
  if (s.estimating && !reading) refreshEstimate().catch(() => {}); // e.g. a session just opened
  if (!e) {
    $("estimate-f1").textContent = "–";
    $("estimate-details").hidden = true;
    $("estimate-rule").textContent = "";
    $("estimate-note").textContent = (!s.audit_rate && !s.estimating
      ? "No audit labels: start a session with an audit share (e.g. 0.3) to measure it over the whole dataset."
      : "Appears once enough audit labels are in and a round has trained on the rest.") + waiting;
    return;
  }
  $("estimate-f1").textContent = span(e, "f1");
  $("estimate-details").hidden = false;
  $("estimate-precision").textContent = span(e, "precision");
  $("estimate-recall").textContent = span(e, "recall");
  $("estimate-positives").textContent = `${span(e, "positives", 0)} of ${e.items.toLocaleString()}`;
  $("estimate-rule").textContent = e.stop_reason;
  $("estimate-rule").dataset.stop = String(e.stop);
  const from = e.audited === null ? "every item labeled" : `${e.audited} audit labels`;
  $("estimate-note").textContent = `Round ${e.round}'s classifier, from ${from}; 95% intervals.${waiting}`;
}

/** Read the session again until its estimate is for the latest round (after a training round). */
export async function refreshEstimate() {
  const id = state.session?.id;
  if (!id) return;
  clearTimeout(polling);
  reading = true;
  try {
    for (let tries = 0; tries < POLL_TRIES; tries++) {
      const s = await get(`sessions/${seg(id)}`);
      if (state.session?.id !== id) return; // another session was opened meanwhile
      state.session = { ...state.session, estimate: s.estimate, estimating: s.estimating, audit_rate: s.audit_rate };
      renderEstimate();
      if (!s.estimating) return;
      await new Promise((done) => { polling = setTimeout(done, POLL_MS); });
    }
  } finally {
    reading = false;
  }
}
