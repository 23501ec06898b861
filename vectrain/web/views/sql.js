// The SQL view: read-only queries through POST /sql, shown as a table. A refused or failed
// statement replaces the previous result: its message stands where the table was.

import { post } from "../api.js";
import { el } from "../grid.js";
import { guard } from "../messages.js";

const $ = (id) => document.getElementById(id);

export async function loadSql() {
  $("sql-query").focus();
}

export async function runSql(e) {
  e?.preventDefault();
  const started = performance.now();
  const table = $("sql-table");
  $("sql-error").hidden = true;
  $("sql-info").textContent = "running…";
  let res;
  try {
    res = await post("sql", { query: $("sql-query").value });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    table.replaceChildren();
    $("sql-info").textContent = "";
    $("sql-error").textContent = err.message;
    $("sql-error").hidden = false;
    return;
  }
  const head = el("tr", {}, ...res.columns.map((c, i) => el("th", { scope: "col", title: res.types[i], text: c })));
  const rows = res.rows.map((row) => el("tr", {}, ...row.map((v) => el("td", {
    text: v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v),
  }))));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  $("sql-info").textContent = `${res.rows.length} row${res.rows.length === 1 ? "" : "s"}${res.truncated ? " (truncated at the row limit)" : ""} in ${Math.round(performance.now() - started)} ms`;
}

export function wireSql() {
  $("sql-form").addEventListener("submit", (e) => guard(() => runSql(e)));
  $("sql-query").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) guard(() => runSql(e));
  });
}
