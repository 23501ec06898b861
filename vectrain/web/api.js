// The REST API as the page uses it: the same public endpoints any frontend calls. JSON in and
// out, the API key when the service asks for one, and errors carrying the API's own message.

const KEY_STORE = "vectrain.apiKey";
// The API lives at the root the page is served from (this file is /static/api.js).
const ROOT = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code || "";
  }
}

export const auth = {
  required: false, // from GET /health: the service was started with API keys
  onUnauthorized: null, // called with the API's message when a request gets 401
  get key() {
    try {
      return localStorage.getItem(KEY_STORE) || "";
    } catch {
      return "";
    }
  },
  set key(value) {
    try {
      if (value) localStorage.setItem(KEY_STORE, value);
      else localStorage.removeItem(KEY_STORE);
    } catch {
      /* storage disabled: the key lasts for this page only */
    }
    clearThumbs();
  },
};

const NAME_STORE = "vectrain.labeler";

/** Who this page labels as. With a named API key the service knows (GET /whoami); else the
 *  name the person gave once, kept in this browser and sent with every request. */
export const labeler = {
  fixed: false, // the API key carries the name: the page shows it and cannot change it
  named: "", // the key's name, when fixed
  get name() {
    if (this.fixed) return this.named;
    try {
      return localStorage.getItem(NAME_STORE) || "";
    } catch {
      return this.session || "";
    }
  },
  set name(value) {
    this.session = value;
    try {
      if (value) localStorage.setItem(NAME_STORE, value);
      else localStorage.removeItem(NAME_STORE);
    } catch {
      /* storage disabled: the name lasts for this page only */
    }
  },
};

/** One path segment, encoded: ids may contain '/', '?', '#' or spaces. */
export const seg = (value) => encodeURIComponent(String(value));

export function apiUrl(path, params) {
  const url = new URL(path, ROOT);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
  }
  return url;
}

function headers(extra) {
  const out = { ...extra };
  if (auth.key) out.Authorization = `Bearer ${auth.key}`;
  if (!labeler.fixed && labeler.name) out["X-Vectrain-Labeler"] = labeler.name;
  return out;
}

async function errorOf(res) {
  let detail = `${res.status} ${res.statusText || "error"}`;
  let code = "";
  try {
    const body = await res.json();
    if (body && body.detail !== undefined) {
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
    code = (body && body.code) || "";
  } catch {
    /* not JSON: keep the status line */
  }
  if (res.status === 401 && auth.onUnauthorized) auth.onUnauthorized(detail);
  return new ApiError(res.status, detail, code);
}

/**
 * Call the API. `json` is sent as a JSON body, `form` as multipart; `raw` returns the Response.
 * Throws ApiError with the API's `detail` (or a message saying the service is unreachable).
 */
export async function api(method, path, { json, form, params, raw, signal } = {}) {
  const init = { method, signal, headers: headers() };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  let res;
  try {
    res = await fetch(apiUrl(path, params), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `Cannot reach the vectrain service at ${ROOT.origin} (${err.message}). Is it running?`);
  }
  if (!res.ok) throw await errorOf(res);
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, params) => api("GET", path, { params });
export const post = (path, json) => api("POST", path, { json });

/** Only http(s) urls become links or image sources; anything else is shown as text. */
export function safeHttpUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// -- thumbnails ------------------------------------------------------------------------------
// Without keys an <img src> loads the image endpoint directly (the browser caches it by ETag).
// With keys <img> cannot send the header: fetch it, keep a blob URL (bounded cache).
const THUMB_CACHE = 600;
const thumbs = new Map(); // key -> Promise<string|null> (a blob URL, or null for "no image")
const revoke = (promise) => promise.then((u) => u && u.startsWith("blob:") && URL.revokeObjectURL(u));

function clearThumbs() {
  for (const promise of thumbs.values()) revoke(promise);
  thumbs.clear();
}

export function imageUrl(dataset, id, size) {
  return apiUrl(`datasets/${seg(dataset)}/items/${seg(id)}/image`, { size });
}

async function fetchThumb(dataset, id, size, fallbackUrl) {
  let res;
  try {
    res = await fetch(imageUrl(dataset, id, size), { headers: headers(), redirect: "manual" });
  } catch {
    return null;
  }
  // A redirect to the item's own http(s) url: never forward the key there, load it directly.
  if (res.type === "opaqueredirect") return safeHttpUrl(fallbackUrl);
  if (res.status === 401 && auth.onUnauthorized) auth.onUnauthorized("The API key was refused");
  if (!res.ok || !(res.headers.get("content-type") || "").startsWith("image/")) return null;
  return URL.createObjectURL(await res.blob());
}

/**
 * Show an item's thumbnail in `img`. Resolves true when an image is on screen, false when the
 * item has none (the caller shows a placeholder).
 */
export function showThumb(img, dataset, id, size, fallbackUrl) {
  return new Promise((resolve) => {
    const done = (ok) => {
      img.onload = img.onerror = null;
      resolve(ok);
    };
    const load = (src) => {
      if (!src) return done(false);
      img.onload = () => done(true);
      img.onerror = () => done(false);
      img.src = src;
      if (img.complete && img.naturalWidth > 0) done(true);
    };
    if (!auth.required) return load(imageUrl(dataset, id, size).href);
    const key = `${dataset}\u0000${id}\u0000${size}`;
    if (!thumbs.has(key)) {
      thumbs.set(key, fetchThumb(dataset, id, size, fallbackUrl));
      if (thumbs.size > THUMB_CACHE) {
        const [oldest, promise] = thumbs.entries().next().value;
        thumbs.delete(oldest);
        revoke(promise);
      }
    }
    thumbs.get(key).then(load);
  });
}

// -- item details (a placeholder's label) ----------------------------------------------------
const items = new Map();

export function itemInfo(dataset, id) {
  const key = `${dataset}\u0000${id}`;
  if (!items.has(key)) {
    // `/meta` names any item, even one whose id ends in `/image`.
    items.set(key, get(`datasets/${seg(dataset)}/items/${seg(id)}/meta`).catch(() => null));
    if (items.size > 5000) items.delete(items.keys().next().value);
  }
  return items.get(key);
}

/**
 * Download a file from the API. Without keys the browser follows a plain link and streams it to
 * disk (a dataset export may be large); with keys it must be fetched with the header first.
 */
export async function downloadFile(path, params, fallbackName) {
  if (auth.required) return download(path, params, fallbackName);
  const a = document.createElement("a");
  a.href = apiUrl(path, params).href;
  a.download = "";
  document.body.append(a);
  a.click();
  a.remove();
  return undefined;
}

/** Download a response body as a file (works with the API key, unlike a plain link). */
export async function download(path, params, fallbackName) {
  const res = await api("GET", path, { params, raw: true });
  const disposition = res.headers.get("content-disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = match ? match[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
