// Shared helpers for the dialogsearch pages: API calls, safe rendering, banners.
// Every value from a dialog file reaches the DOM through textContent or a text
// node; the one piece of API-made markup (snippets) is parsed, never innerHTML'd.

export const API = "/api/dialog";
const HEX6 = /^[0-9A-Fa-f]{6}$/;
const SVG_NS = "http://www.w3.org/2000/svg";

/** Error raised when the service cannot be reached or answers with no JSON. */
export class Unreachable extends Error {}

/** Error raised for an API error body ({ok:false, error, status}). */
export class ApiFailure extends Error {
  constructor(body) {
    super(body && body.error ? body.error : "The service answered with an error");
    this.body = body;
    this.status = body && body.status;
  }
}

/** GET an API path with query params; resolves to the JSON body or throws. */
export async function apiGet(path, params = {}, { signal } = {}) {
  const url = new URL(API + path, window.location.origin);
  if (params instanceof URLSearchParams) {
    url.search = params.toString();
  } else {
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
  }
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Unreachable("No answer from " + url.pathname);
  }
  let body;
  try {
    // Entry ids have at most 53 bits (dialogfile/identity.py), so JS numbers hold them exactly.
    body = await response.json();
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Unreachable(`Status ${response.status} without a JSON body from ${url.pathname}`);
  }
  if (!response.ok || (body && body.ok === false)) {
    if (response.status >= 502 && response.status <= 504 && !(body && body.error)) {
      throw new Unreachable(`Status ${response.status} from ${url.pathname}`);
    }
    throw new ApiFailure(body);
  }
  hideOffline();
  return body;
}

/** Create an element with a class and optional text (as text, never markup). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Create an SVG element with attributes. */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'", "#x2F": "/", "#47": "/" };

/** Undo the HTML escaping of a snippet's text part; unknown entities stay as typed. */
export function unescapeHtml(text) {
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name) => {
    if (Object.prototype.hasOwnProperty.call(ENTITIES, name)) return ENTITIES[name];
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (Number.isFinite(code) && code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    }
    return whole;
  });
}

/**
 * Turn an API snippet (escaped text with <mark>…</mark>) into DOM nodes.
 * Splits on the two marker tags only; every other piece becomes a text node, so
 * anything else that looks like markup is shown as the characters it is.
 */
export function snippetNodes(snippet) {
  const fragment = document.createDocumentFragment();
  let inside = false;
  for (const part of String(snippet || "").split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") { inside = true; continue; }
    if (part === "</mark>") { inside = false; continue; }
    if (!part) continue;
    const text = document.createTextNode(unescapeHtml(part));
    if (inside) {
      const mark = document.createElement("mark");
      mark.appendChild(text);
      fragment.appendChild(mark);
    } else {
      fragment.appendChild(text);
    }
  }
  return fragment;
}

/** A 6-hex mood colour in upper case, or null when the value is not one. */
export function moodHex(value) {
  if (typeof value !== "string") return null;
  const hex = value.replace(/^#/, "");
  return HEX6.test(hex) ? hex.toUpperCase() : null;
}

/**
 * A small square in the mood's colour (set through the CSSOM, which CSP allows).
 * Colour is never all it says: the hex is in it as text for screen readers, unless
 * `hexShown` (the hex is already written beside it, so the square is decoration).
 */
export function swatch(hex, { hexShown = false } = {}) {
  const node = el("span", "swatch");
  const valid = moodHex(hex);
  if (valid) node.style.backgroundColor = "#" + valid;
  if (valid && !hexShown) node.append(el("span", "visually-hidden", `mood #${valid}`));
  else node.setAttribute("aria-hidden", "true");
  return node;
}

/** Relative luminance of a 6-hex colour (0 dark … 1 light). */
export function luminance(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
}

/** "2026-01-16 07:15" from 20260116071500 (the time left out when it is midnight). */
export function formatTimestamp(value) {
  const digits = String(value ?? "");
  if (!/^\d{14}$/.test(digits)) return digits && digits !== "null" ? digits : "";
  const date = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  const time = digits.slice(8);
  return time === "000000" ? date : `${date} ${digits.slice(8, 10)}:${digits.slice(10, 12)}`;
}

/**
 * A file path that fits its box: the folders are cut in the middle ("lupopedia/do…")
 * while the file name stays, and the whole path is the title (and shows on focus).
 * `suffix` (":14") is kept with the file name.
 */
export function pathLabel(path, suffix = "", className = "path") {
  const text = String(path || "");
  const cut = text.lastIndexOf("/") + 1;
  const label = el("span", className);
  label.title = text + suffix;
  if (cut > 0) label.append(el("span", "path-dir", text.slice(0, cut)));
  label.append(el("span", "path-base", text.slice(cut) + suffix));
  return label;
}

/** A path as text that may wrap after each "/" (a <wbr> there), never inside a name. */
export function wrappablePath(text) {
  const fragment = document.createDocumentFragment();
  String(text || "").split("/").forEach((part, index) => {
    if (index) fragment.append("/", document.createElement("wbr"));
    fragment.append(part);
  });
  return fragment;
}

/** Show or hide the fallback banner for a mode/source string. */
export function showMode(mode) {
  const banner = document.getElementById("mode-banner");
  if (banner) banner.hidden = mode !== "files";
  document.body.dataset.mode = mode || "";
}

/** Show the "service unreachable" banner; `retry` runs when the user asks. */
export function showOffline(detail, retry) {
  const banner = document.getElementById("offline-banner");
  if (!banner) return;
  banner.querySelector(".offline-detail").textContent = detail || "";
  banner.hidden = false;
  const button = document.getElementById("offline-retry");
  button.onclick = retry ? () => retry() : () => window.location.reload();
}

/** Hide the "service unreachable" banner. */
export function hideOffline() {
  const banner = document.getElementById("offline-banner");
  if (banner) banner.hidden = true;
}

/** Ask /health for the mode and show the banner; no answer shows the offline banner. */
export async function checkHealth() {
  let health;
  try {
    // /health answers 503 with the same body when no store can answer: read it anyway.
    const response = await fetch(API + "/health", { headers: { Accept: "application/json" } });
    health = await response.json();
  } catch (err) {
    showOffline("No answer from " + API + "/health", checkHealth);
    return null;
  }
  hideOffline();
  showMode(health.mode);
  if (health.ok === false) {
    showOffline(health.last_error || "No store can answer searches right now.", checkHealth);
  }
  return health;
}

/** Re-check the mode every `seconds` while the page is visible (banner on and off). */
export function watchHealth(seconds = 15) {
  setInterval(() => { if (document.visibilityState === "visible") checkHealth(); }, seconds * 1000);
}

/** `/` focuses the page's main search box from anywhere but a text field. */
export function bindSlashFocus(input) {
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    const typing = active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
    if (typing) return;
    event.preventDefault();
    input.focus();
    input.select();
  });
}

/** Move focus with the arrow keys through `selector` items inside `container`. */
export function bindArrowNavigation(container, selector, { onTop } = {}) {
  container.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const items = Array.from(container.querySelectorAll(selector));
    const index = items.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    const next = event.key === "ArrowDown" ? index + 1 : index - 1;
    if (next < 0) { if (onTop) onTop(); return; }
    if (next < items.length) items[next].focus();
  });
}
