// What the page holds between requests, and the address that names it. State that matters lives
// in the service: the page keeps only the current batch's marks until Enter sends them. The
// address (#d=dataset&s=session&t=view) says what is open, so a reload shows the same state.

export const state = {
  datasets: [],
  dataset: null, // GET /datasets/{name}
  sessions: [], // GET /sessions
  session: null, // GET /sessions/{id}
  readOnly: false, // GET /whoami: this key may only read
  tab: "find",
  batch: [], // the items of the current batch
  batchRound: null, // the round whose classifier chose and scored it
  batchKey: "", // session + round the batch was fetched for
  markOrder: [], // ids in the order they were marked
  undo: [], // [{changes: [{id, before}]}] for marks not sent yet (older steps are the service's)
  busy: false,
  untrained: false, // labels were stored but the round after them failed to train
  findItems: [],
  pred: { mode: "top", offset: 0, total: 0, positives: 0 },
  labels: [], // GET /sessions/{id}/labels: the open session's labels
  mine: new Map(), // item id -> the open session's label of it (kept in step with every write)
  labelsOffset: 0,
  timings: [], // ms from Enter to the next batch with thumbnails on screen
};

/** The open dataset's name, or "" before one is open. */
export const dataset = () => state.dataset?.name || "";

/** Forget the open session and what the Label view held of it. */
export function closeSession() {
  state.session = null;
  document.body.dataset.kind = "binary"; // the controls of binary sessions, until one with classes opens
  state.batch = [];
  state.batchKey = "";
  state.undo = [];
  state.markOrder = [];
  state.untrained = false;
  state.labels = [];
  state.mine = new Map();
}

/** The open session's labels, as GET /sessions/{id}/labels lists them. */
export function setLabels(labels) {
  state.labels = labels;
  state.mine = new Map(labels.map((l) => [l.item_id, labelOf(l)]));
}

/** A label as the page marks it: its score, or in a session with classes its class. */
export const labelOf = (l) => (l.class !== undefined && l.class !== null ? l.class : l.score);

/** Labels stored (score) or removed (undefined) by this page: the list and the map follow. */
export function noteLabels(ids, score) {
  const now = new Date().toISOString();
  for (const id of ids) {
    if (score === undefined || score === null) state.mine.delete(id);
    else state.mine.set(id, score);
  }
  const byId = new Map(state.labels.map((l) => [l.item_id, l]));
  for (const id of ids) {
    if (score === undefined || score === null) byId.delete(id);
    else if (byId.has(id)) byId.get(id)[typeof score === "string" ? "class" : "score"] = score;
    else byId.set(id, { item_id: id, [typeof score === "string" ? "class" : "score"]: score, labeled: now, label: "" });
  }
  state.labels = [...byId.values()];
}

export function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { d: p.get("d"), s: p.get("s"), t: p.get("t") };
}

export function writeHash() {
  const p = new URLSearchParams();
  if (state.dataset) p.set("d", state.dataset.name);
  if (state.session) p.set("s", state.session.id);
  p.set("t", state.tab);
  const hash = `#${p}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}
