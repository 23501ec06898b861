// What the page holds between requests, and the address that names it. State that matters lives
// in the service: the page keeps only the current batch's marks until Enter sends them. The
// address (#d=dataset&s=session&t=view) says what is open, so a reload shows the same state.

export const state = {
  datasets: [],
  dataset: null, // GET /datasets/{name}
  sessions: [], // GET /sessions
  session: null, // GET /sessions/{id}
  tab: "find",
  batch: [], // the items of the current batch
  batchKey: "", // session + round the batch was fetched for
  markOrder: [], // ids in the order they were marked (for undo)
  undo: [], // [{changes: [{id, before}]}] for marks not sent yet
  sent: [], // ids of the last sent batch, in marking order (undo reaches them with DELETE)
  busy: false,
  untrained: false, // labels were stored but the round after them failed to train
  findItems: [],
  pred: { mode: "top", offset: 0, total: 0, positives: 0 },
  labels: [],
  labelsOffset: 0,
  timings: [], // ms from Enter to the next batch with thumbnails on screen
};

/** The open dataset's name, or "" before one is open. */
export const dataset = () => state.dataset?.name || "";

/** Forget the open session and what the Label view held of it. */
export function closeSession() {
  state.session = null;
  state.batch = [];
  state.batchKey = "";
  state.undo = [];
  state.sent = [];
  state.markOrder = [];
  state.untrained = false;
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
