// The entry page: the entry and its context are server-rendered; this adds the
// cross-references (found through the search API) and keyboard moves.
import {
  ApiFailure, Unreachable, apiGet, bindArrowNavigation, bindSlashFocus, checkHealth, watchHealth, el,
  formatTimestamp, moodHex, pathLabel, showMode, showOffline, snippetNodes, swatch,
} from "./common.js";

const XREF_LIMIT = 10;

const article = document.getElementById("entry");
const xrefBox = document.getElementById("xrefs");
const entryId = article.dataset.entryId;
const file = article.dataset.file;

/** One compact search hit: file and line, speaker → target, mood, date, snippet. */
function hitRow(hit) {
  const li = el("li", "mini");
  const link = el("a", "mini-link");
  link.href = `/entry/${encodeURIComponent(hit.dialog_entry_id)}`;
  const head = el("div", "mini-head");
  // Another file's path is cut in the middle to fit the list; its title holds all of it.
  head.append(hit.dialog_file === file ? el("span", "line-no", `line ${hit.line}`)
    : pathLabel(hit.dialog_file, `:${hit.line}`, "line-no path"));
  head.append(el("span", "speaker", hit.speaker || (hit.format === "section" ? "section" : "—")));
  if (hit.target) head.append(el("span", "arrow", "→"), el("span", "target", hit.target));
  const hex = moodHex(hit.mood_rgb);
  if (hex) head.append(swatch(hex));
  const when = formatTimestamp(hit.timestamp_utc);
  if (when) head.append(el("time", "date", when));
  link.append(head);
  const text = el("p", "mini-text");
  if (hit.snippet) text.append(snippetNodes(hit.snippet));
  else text.textContent = (hit.message || hit.title || hit.body || "").slice(0, 200);
  link.append(text);
  li.append(link);
  return li;
}

/** Search for the file names and ids the server found in this entry. */
async function showCrossReferences() {
  let terms = [];
  try { terms = JSON.parse(article.dataset.xref || "[]"); } catch { terms = []; }
  if (!Array.isArray(terms) || !terms.length) return;
  const q = terms.map((term) => `"${String(term).replace(/"/g, "")}"`).join(" OR ");
  try {
    const answer = await apiGet("/search", { q, per_page: XREF_LIMIT + 1 });
    showMode(answer.source === "files" ? "files" : "database");
    const hits = (answer.hits || []).filter((hit) => String(hit.dialog_entry_id) !== String(entryId)).slice(0, XREF_LIMIT);
    if (!hits.length) {
      xrefBox.replaceChildren(el("p", "muted", "No other entry mentions them."));
      return;
    }
    const list = el("ol", "mini-list");
    list.append(...hits.map(hitRow));
    const more = el("a", "see-all", `All ${Number(answer.total).toLocaleString()} matches in the search →`);
    more.href = "/?" + new URLSearchParams({ q }).toString();
    xrefBox.replaceChildren(list, more);
    bindArrowNavigation(list, "a.mini-link");
  } catch (err) {
    if (err instanceof Unreachable) showOffline(err.message, showCrossReferences);
    const text = err instanceof Unreachable ? "The search service cannot be reached."
      : err instanceof ApiFailure ? err.message : String(err);
    xrefBox.replaceChildren(el("p", "state-error", text));
  }
}

// "← Search" goes back to the results the user came from when there are some.
const back = document.getElementById("back-link");
if (document.referrer) {
  const from = new URL(document.referrer);
  if (from.origin === window.location.origin && from.pathname === "/") back.href = from.pathname + from.search;
}

const context = document.getElementById("context");
if (context && context.tagName === "OL") bindArrowNavigation(context, "a.mini-link");
bindSlashFocus({ focus: () => { window.location.href = "/"; }, select: () => {} });
checkHealth();
watchHealth();
showCrossReferences();
