// Who labels: the name this page labels as (a named API key's, or the one the person gave once,
// kept in this browser), shown in the header; and the per-labeler counts and agreement as text.

import { labeler } from "./api.js";
import { explainName } from "./messages.js";

const $ = (id) => document.getElementById(id);
const NAME_RULE = "1 to 64 letters, digits, spaces and . _ @ + - (starting with a letter or digit)";

/** From GET /whoami: a named key fixes the name; else the stored one is sent as a header. */
export function useWhoami(who) {
  labeler.fixed = Boolean(who.named_key);
  labeler.named = who.named_key ? who.labeler : "";
  showLabeler();
}

export function showLabeler() {
  $("labeler-box").hidden = false;
  $("labeler-name").textContent = labeler.name || "no name";
  $("labeler-change").hidden = labeler.fixed;
  $("labeler-box").title = labeler.fixed ? "The API key carries this name" : "Kept in this browser";
}

/** Ask for a name (once: it is kept); resolves with it. Cancel keeps the one there was. */
export function askName(reason) {
  const dialog = $("name-dialog");
  $("name-reason").textContent = reason
    || "Labels record who gave them, and next batches are leased to you so two people never label the same items.";
  $("name-input").value = labeler.name;
  return new Promise((resolve) => {
    dialog.onclose = () => {
      const value = $("name-input").value.trim();
      if (dialog.returnValue === "save" && value) labeler.name = value;
      showLabeler();
      resolve(labeler.name);
    };
    if (!dialog.open) dialog.showModal();
    $("name-input").focus();
  });
}

/** The header's "Change" button; `changed()` runs after a new name is kept. */
export function wireLabeler(changed) {
  explainName($("name-input"), NAME_RULE);
  $("labeler-change").addEventListener("click", async () => {
    const before = labeler.name;
    if ((await askName("Labels you give from now on record this name.")) !== before) changed();
  });
}

/** "alice 34 · bob 20": the session's labels per labeler (their answers). */
export function labelersText(labelers) {
  if (!labelers?.length) return "–";
  return labelers.map((l) => `${l.labeler || "no name"} ${l.answers}`).join(" · ");
}

/** One pair's agreement as a sentence, honest about too few items. */
export function agreementText(pair) {
  const who = pair.labelers.map((n) => n || "no name").join(" & ");
  if (pair.kappa === null || pair.kappa === undefined) {
    return `${who}: ${pair.agreed} of ${pair.items} both labeled agree (${pair.reason})`;
  }
  const f = (v) => v.toFixed(2);
  return `${who}: κ ${f(pair.kappa)} [${f(pair.kappa_low)}, ${f(pair.kappa_high)}], ${pair.agreed} of ${pair.items} agree`;
}
