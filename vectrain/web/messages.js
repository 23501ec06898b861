// The status line and the error banner: every action runs through guard(), so a refusal of the
// API shows its own message and the page stays usable. An error stays until it is dismissed,
// replaced by another error, or the same action (its `source`) succeeds: background work (the
// Jobs view's polling) never clears it. A status line belongs to the view it was said in.

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
const shown = { error: null, statusTab: null }; // the error's source; the view the status was said in

export function say(text, tab = document.body.dataset.tab) {
  $("status").textContent = text;
  shown.statusTab = tab || null;
}

/** A new view is open: a status line said in another view is stale there. */
export function leaveView(tab) {
  if (shown.statusTab && shown.statusTab !== tab) say("", tab);
}

export function fail(err, source = null) {
  if (err && err.name === "AbortError") return;
  const text = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  $("error-text").textContent = text;
  $("error").hidden = false;
  shown.error = source;
  // The API's refusals are expected and shown; anything else is a bug of this page.
  if (err instanceof ApiError) console.warn(text);
  else console.error(err);
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
  shown.error = null;
}

/**
 * Run an action; its failure shows the API's message and leaves the page usable. `source` names
 * the action: when it succeeds, an error it showed before is cleared (it was replaced).
 */
export async function guard(fn, source = null) {
  try {
    const out = await fn();
    if (source && shown.error === source) clearError();
    return out;
  } catch (err) {
    fail(err, source);
    return undefined;
  }
}

/** A name field's rule in words: the browser's own "Please match the requested format" says nothing. */
export function explainName(input, rule) {
  input.addEventListener("invalid", () => {
    if (input.validity.patternMismatch || input.validity.tooLong) input.setCustomValidity(rule);
  });
  input.addEventListener("input", () => input.setCustomValidity(""));
}
