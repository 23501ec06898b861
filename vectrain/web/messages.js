// The status line and the error banner: every action runs through guard(), so a refusal of the
// API shows its own message and the page stays usable.

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);

export function say(text) {
  $("status").textContent = text;
}

export function fail(err) {
  if (err && err.name === "AbortError") return;
  const text = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  $("error-text").textContent = text;
  $("error").hidden = false;
  // The API's refusals are expected and shown; anything else is a bug of this page.
  if (err instanceof ApiError) console.warn(text);
  else console.error(err);
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

/** Run an action; its failure shows the API's message and leaves the page usable. */
export async function guard(fn) {
  try {
    clearError();
    return await fn();
  } catch (err) {
    fail(err);
    return undefined;
  }
}
