// The search page: state in the URL, debounced as-you-type search, scope tabs, facets,
// folded copies, paging. What an answer's parts look like is in search_parts.js.
import {
  ApiFailure, Unreachable, apiGet, bindArrowNavigation, bindSlashFocus, checkHealth, watchHealth,
  el, hideOffline, moodHex, pathLabel, showMode, showOffline, swatch,
} from "./common.js";
import {
  DEFAULT_SCOPE, NAME_FACETS, SCOPES, bindTabKeys, facetItem, formatFiltered, hitItem, nameKey,
  scopeCounts, updateScopeTabs,
} from "./search_parts.js";
import { followIndex } from "./freshness.js";

const DEBOUNCE_MS = 150;
const PER_PAGE = 20;
const FACETS = ["speaker", "target", "mood", "file", "format"];
const FACET_LABELS = { speaker: "Speaker", target: "Target", mood: "Mood", file: "File", format: "Format" };
const DATES = ["from", "to"];
const SORTS = ["relevance", "newest", "oldest"];
const FACET_SHOWN = 8;
/** What the summary counts in each scope: [one, many]. */
const SCOPE_UNITS = { entries: ["entry", "entries"], text: ["text section", "text sections"], all: ["match", "matches"] };

const input = document.getElementById("q");
const form = document.getElementById("search-form");
const sortSelect = document.getElementById("sort");
const fromInput = document.getElementById("from");
const toInput = document.getElementById("to");
const summary = document.getElementById("summary");
const chips = document.getElementById("chips");
const facetsBox = document.getElementById("facets");
const resultsList = document.getElementById("results");
const stateBox = document.getElementById("state");
const correctedBox = document.getElementById("corrected");
const partialBox = document.getElementById("partial");
const pager = document.getElementById("pager");
const pageInfo = document.getElementById("page-info");
const scopeTabs = document.getElementById("scope-tabs");
const resultsPanel = document.getElementById("results-panel");
const folding = document.getElementById("folding");
const foldToggle = document.getElementById("fold-toggle");
const resultsArea = document.getElementById("results-area");

let state = readState();
let requestSeq = 0;          // incremented per request; only the latest may render
let controller = null;       // aborts the previous in-flight request
let debounceTimer = null;
let lastKeyAt = -Infinity;   // performance.now() of the last keystroke
let typingEntryPushed = false; // the first keystroke of a typing run pushes a history entry
const expandedFacets = new Set();

/** The page state from the URL's query string; facet filters hold lists of values. */
function readState() {
  const params = new URLSearchParams(window.location.search);
  const next = { q: params.get("q") || "", page: Math.max(1, parseInt(params.get("page"), 10) || 1) };
  for (const name of FACETS) next[name] = [...new Set(params.getAll(name).filter(Boolean))];
  for (const name of DATES) next[name] = params.get(name) || "";
  const sort = params.get("sort") || "";
  next.sort = SORTS.includes(sort) ? sort : "";
  next.typos = params.get("typos") === "off" ? "off" : "";
  const scope = params.get("scope") || "";
  next.scope = SCOPES.includes(scope) && scope !== DEFAULT_SCOPE ? scope : ""; // "" is the default
  next.collapse = params.get("collapse") === "off" ? "off" : "";
  return next;
}

/** The URL's query string for a state (empty values and defaults left out). */
function stateQuery(s) {
  const params = new URLSearchParams();
  if (s.q) params.set("q", s.q);
  for (const name of FACETS) for (const value of s[name]) params.append(name, value);
  for (const name of DATES) if (s[name]) params.set(name, s[name]);
  if (s.sort && s.sort !== "relevance") params.set("sort", s.sort);
  if (s.scope) params.set("scope", s.scope);
  if (s.collapse) params.set("collapse", s.collapse);
  if (s.page > 1) params.set("page", String(s.page));
  if (s.typos) params.set("typos", s.typos);
  const text = params.toString();
  return text ? "?" + text : window.location.pathname;
}

/** Put the state in the URL: a new history entry (push) or in place (replace). */
function writeUrl(push) {
  const url = stateQuery(state);
  if (url === window.location.search || (url === window.location.pathname && !window.location.search)) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

/** Copy the state into the form controls. */
function syncControls() {
  if (input.value !== state.q) input.value = state.q;
  sortSelect.value = state.sort || "relevance";
  fromInput.value = state.from.length >= 10 ? state.from.slice(0, 10) : "";
  toInput.value = state.to.length >= 10 ? state.to.slice(0, 10) : "";
  document.title = state.q ? `${state.q} · dialogsearch` : "dialogsearch";
}

/** API parameters for the current state (URLSearchParams: facets may repeat). */
function apiParams() {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const name of FACETS) for (const value of state[name]) params.append(name, value);
  for (const name of DATES) if (state[name]) params.set(name, state[name]);
  params.set("sort", state.sort || (state.q.trim() ? "relevance" : "newest"));
  if (state.scope) params.set("scope", state.scope);
  if (state.collapse) params.set("collapse", state.collapse);
  params.set("page", String(state.page));
  params.set("per_page", String(PER_PAGE));
  params.set("facets", FACETS.join(","));
  if (state.typos) params.set("typos", state.typos);
  return params;
}

/** Whether any filter is set. */
function hasFilters() {
  return FACETS.some((name) => state[name].length) || DATES.some((name) => state[name]);
}

/** Run the search for the current state; stale answers are dropped. */
async function runSearch() {
  clearTimeout(debounceTimer);
  const seq = ++requestSeq;
  if (controller) controller.abort();
  controller = new AbortController();
  const startedAt = performance.now();
  resultsList.parentElement.classList.add("loading");
  resultsList.parentElement.setAttribute("aria-busy", "true");
  renderChips();
  try {
    const answer = await apiGet("/search", apiParams(), { signal: controller.signal });
    if (seq !== requestSeq) return;
    render(answer);
    document.dispatchEvent(new CustomEvent("dialogsearch:rendered", {
      detail: { q: state.q, seq, total: answer.total, ms: performance.now() - startedAt },
    }));
  } catch (err) {
    if (err.name === "AbortError" || seq !== requestSeq) return;
    renderFailure(err);
    document.dispatchEvent(new CustomEvent("dialogsearch:rendered", {
      detail: { q: state.q, seq, error: err.message, ms: performance.now() - startedAt },
    }));
  } finally {
    if (seq === requestSeq) {
      resultsList.parentElement.classList.remove("loading");
      resultsList.parentElement.removeAttribute("aria-busy");
    }
  }
}

/** Debounced search after a keystroke. */
// Leading and trailing debounce: the first key after a pause searches at once
// (nothing is in flight to waste), keys typed in a burst wait until it pauses.
function scheduleSearch() {
  const now = performance.now();
  const idle = now - lastKeyAt > DEBOUNCE_MS;
  lastKeyAt = now;
  clearTimeout(debounceTimer);
  if (idle) runSearch();
  else debounceTimer = setTimeout(runSearch, DEBOUNCE_MS);
}

function render(answer) {
  hideOffline();
  showMode(answer.source === "files" ? "files" : answer.source || "database");
  const hits = Array.isArray(answer.hits) ? answer.hits : [];
  const total = Number(answer.total) || 0;
  renderSummary(answer, total);
  const counts = scopeCounts(answer);
  updateScopeTabs(scopeTabs, resultsPanel, {
    scope: currentScope(),
    counts,
    estimated: answer.facets_exact === false,
    shown: !formatFiltered(state) && (answer.scopes != null || answer.scope === "all"),
  });
  renderCorrected(answer.corrected || {});
  renderPartial(answer.partial);
  shownAnswer(answer);
  renderHits(hits);
  resultsList.dataset.q = state.q; // which query the list shows (tests wait for it)
  renderFacets(answer.facets || {}, answer.facets_exact !== false);
  renderPager(total, Number(answer.page) || state.page, Number(answer.per_page) || PER_PAGE);
  if (!hits.length) renderEmpty(total, counts);
  else stateBox.hidden = true;
}

/** The scope the page shows: the URL's, else dialog entries. */
function currentScope() {
  return state.scope || DEFAULT_SCOPE;
}

/** "N entries in T ms", how many copies were folded, and the link that shows or folds them. */
function renderSummary(answer, total) {
  const took = answer.took_ms !== undefined ? ` in ${Number(answer.took_ms).toLocaleString()} ms` : "";
  const about = answer.total_exact === false ? "about " : "";
  const [one, many] = formatFiltered(state) ? SCOPE_UNITS[DEFAULT_SCOPE] : SCOPE_UNITS[currentScope()];
  summary.textContent = `${about}${total.toLocaleString()} ${total === 1 ? one : many}${took}`;
  const folded = Number(answer.folded) || 0;
  if (state.collapse) summary.append(" · copies shown");
  else if (folded > 0) summary.append(` · ${folded.toLocaleString()} ${folded === 1 ? "copy" : "copies"} folded`);
  if (answer.source === "files") summary.append(el("span", "source-tag", "from files"));
  renderFolding(folded);
}

/** "— show all" when copies were folded, "— fold copies" while they are shown. */
// The link stays the same node while its words change: a keyboard keeps its place.
function renderFolding(folded) {
  const hadFocus = folding.contains(document.activeElement);
  if (state.collapse) {
    foldToggle.textContent = "fold copies";
    foldToggle.removeAttribute("aria-label");
    foldToggle.href = stateQuery({ ...state, page: 1, collapse: "" });
  } else {
    foldToggle.textContent = "show all";
    foldToggle.setAttribute("aria-label", "Show all copies");
    foldToggle.href = stateQuery({ ...state, page: 1, collapse: "off" });
  }
  folding.hidden = !state.collapse && folded <= 0;
  if (folding.hidden && hadFocus) input.focus();
}

/** q with each corrected word replaced (quoted text left alone, a prefix's `*` kept). */
function correctedText(q, corrected) {
  return q.replace(/"[^"]*"?|[^\s"()]+/g, (segment) => {
    if (segment.startsWith('"')) return segment;
    const stars = segment.match(/\*+$/)?.[0] || "";
    const word = segment.slice(0, segment.length - stars.length);
    return Object.hasOwn(corrected, word) ? corrected[word] + stars : segment;
  });
}

/** "Showing results for <corrected> — search instead for <q>" when words were corrected. */
function renderCorrected(corrected) {
  if (!Object.keys(corrected).length) {
    correctedBox.hidden = true;
    correctedBox.replaceChildren();
    return;
  }
  const instead = el("a", "search-instead", state.q);
  instead.href = stateQuery({ ...state, page: 1, typos: "off" });
  correctedBox.replaceChildren(
    "Showing results for ", el("strong", null, correctedText(state.q, corrected)),
    " — search instead for ", instead,
  );
  correctedBox.hidden = false;
}

/** What the search budget left out of a search too broad to answer in full (or nothing). */
function renderPartial(partial) {
  partialBox.hidden = !partial;
  partialBox.textContent = partial ? partial.message : "";
}

function renderHits(hits) {
  resultsList.replaceChildren(...hits.map(hitItem));
}

/** Facet values as [{value, count, variants}] whatever shape the API used. */
function facetValues(raw) {
  if (!raw) return [];
  if (Array.isArray(raw)) {
    return raw.map((item) => (Array.isArray(item)
      ? { value: item[0], count: item[1] }
      : { value: item.value, count: item.count, variants: item.variants })).filter((item) => item.value !== null && item.value !== undefined && item.value !== "");
  }
  return Object.entries(raw).map(([value, count]) => ({ value, count }));
}

/** Whether two values of a facet are one: a name in any spelling is the same person. */
function sameValue(name, a, b) {
  return NAME_FACETS.includes(name) ? nameKey(a) === nameKey(b) : String(a) === String(b);
}

/** Whether a facet value is among the filter's values. */
function isActive(name, value) {
  return state[name].some((chosen) => sameValue(name, chosen, value));
}

function renderFacets(facets, exact) {
  const groups = FACETS.map((name) => {
    const values = facetValues(facets[name]);
    for (const value of state[name]) {
      if (!values.some((item) => sameValue(name, item.value, value))) values.unshift({ value, count: 0 });
    }
    const group = el("section", "facet");
    group.dataset.facet = name;
    const heading = el("h2", "facet-title", FACET_LABELS[name]);
    group.append(heading);
    if (!values.length) {
      group.append(el("p", "muted small", "no values"));
      return group;
    }
    const list = el("ul", "facet-values");
    const expanded = expandedFacets.has(name);
    values.forEach((item, index) => {
      const li = facetItem(name, item, index, { exact, pressed: isActive(name, String(item.value)) });
      if (!expanded && index >= FACET_SHOWN && !isActive(name, String(item.value))) li.hidden = true;
      list.append(li);
    });
    group.append(list);
    if (values.length > FACET_SHOWN) {
      const more = el("button", "link-button facet-more", expanded ? "Show fewer" : `Show all ${values.length}`);
      more.type = "button";
      more.dataset.toggle = name;
      group.append(more);
    }
    return group;
  });
  showFacetGroups(groups);
}

/** Put the facet groups in place; a focused value keeps the focus on its new button. */
// Without this, a value pressed from the keyboard is drawn anew and the focus falls
// back to the start of the page: the keyboard loses its place.
function showFacetGroups(groups) {
  const { facet, value } = facetsBox.contains(document.activeElement) ? document.activeElement.dataset : {};
  facetsBox.replaceChildren(...groups);
  if (!facet || value === undefined) return;
  const again = [...facetsBox.querySelectorAll("button[data-facet]")]
    .find((button) => button.dataset.facet === facet && button.dataset.value === value);
  if (again) again.focus();
}

function chip(name, value) {
  const li = el("li");
  const button = el("button", "chip");
  button.type = "button";
  button.dataset.remove = name;
  button.dataset.value = value;
  button.append(el("span", "chip-name", name + ":"));
  // A mood reads as its hex (#FF6600) beside its swatch, to the eye and to a screen reader.
  const hex = name === "mood" ? moodHex(value) : null;
  const shown = hex ? "#" + hex : value;
  if (hex) button.append(swatch(hex, { hexShown: true }));
  button.append(name === "file" ? pathLabel(value, "", "chip-value path") : el("span", "chip-value", shown));
  button.append(el("span", "chip-x", "×"));
  button.setAttribute("aria-label", `Remove filter ${name} ${shown}`);
  if (name === "file") button.title = value;
  li.append(button);
  return li;
}

function renderChips() {
  const items = [];
  for (const name of FACETS) for (const value of state[name]) items.push(chip(name, value));
  for (const name of DATES) if (state[name]) items.push(chip(name, state[name]));
  if (items.length > 1) {
    const li = el("li");
    const clear = el("button", "link-button", "Clear all");
    clear.type = "button";
    clear.dataset.remove = "*";
    li.append(clear);
    items.push(li);
  }
  chips.replaceChildren(...items);
}

function renderPager(total, page, perPage) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  pager.hidden = pages <= 1;
  pageInfo.textContent = `Page ${page.toLocaleString()} of ${pages.toLocaleString()}`;
  document.getElementById("prev-page").disabled = page <= 1;
  document.getElementById("next-page").disabled = page >= pages;
}

/** The other scope when this one has no match and it has some ("entries" / "text"), or null. */
function otherScopeWithMatches(counts) {
  if (!counts || formatFiltered(state)) return null;
  const other = { entries: "text", text: "entries" }[currentScope()];
  return other && counts[other] > 0 ? other : null;
}

/** "No dialog entries match “q”." and a button to the other scope's matches. */
function renderOtherScope(scope, count) {
  const here = currentScope() === "entries" ? "dialog entries" : "text sections";
  const what = { entries: ["dialog entry", "dialog entries"], text: ["text section", "text sections"] }[scope];
  const show = el("button", "link-button", `Show ${count.toLocaleString()} ${what[count === 1 ? 0 : 1]}`);
  show.type = "button";
  show.dataset.scope = scope;
  const title = state.q ? `No ${here} match “${state.q}”.` : `No ${here} match the filters.`;
  stateBox.replaceChildren(el("p", "state-title", title), show);
}

function renderEmpty(total, counts) {
  stateBox.hidden = false;
  stateBox.className = "state state-empty";
  const other = total > 0 ? null : otherScopeWithMatches(counts);
  if (other) return renderOtherScope(other, counts[other]); // one click away

  const filtered = hasFilters();
  const title = total > 0 ? "No entries on this page." : state.q ? `Nothing matches “${state.q}”.` : "No entries.";
  const hint = el("p", "hint");
  if (total > 0) hint.textContent = "Go back to the first page.";
  else if (filtered) hint.textContent = "Remove a filter, or try fewer or shorter words: the last word also matches as a prefix.";
  else if (state.q) hint.textContent = "Check the spelling, try fewer words, or use OR between alternatives. The last word matches as a prefix (deplo → deploy).";
  else hint.textContent = "The index is empty: add dialog files under the root and reindex.";
  stateBox.replaceChildren(el("p", "state-title", title), hint);
  if (filtered) {
    const clear = el("button", "link-button", "Clear all filters");
    clear.type = "button";
    clear.dataset.remove = "*";
    stateBox.append(clear);
  }
}

function renderFailure(err) {
  stateBox.hidden = false;
  // Results of an earlier query would read as answers to this one.
  resultsList.replaceChildren();
  resultsList.dataset.q = state.q;
  correctedBox.hidden = true;
  partialBox.hidden = true;
  facetsBox.replaceChildren();
  pager.hidden = true;
  folding.hidden = true;
  updateScopeTabs(scopeTabs, resultsPanel, { scope: currentScope(), counts: null, estimated: false, shown: !scopeTabs.hidden });
  if (err instanceof Unreachable) {
    showOffline(err.message, runSearch);
    stateBox.className = "state state-error";
    stateBox.replaceChildren(el("p", "state-title", "The search service cannot be reached."),
      el("p", "hint", "Is `dialogsearch serve` running? The page retries when you type again."));
    summary.textContent = "";
    return;
  }
  stateBox.className = "state state-error";
  const message = err instanceof ApiFailure ? err.message : String(err);
  const title = err instanceof ApiFailure && err.status === 503
    ? "The search is unavailable for a moment." : "The query could not run.";
  stateBox.replaceChildren(el("p", "state-title", title), el("p", "hint", message));
  summary.textContent = "";
}

/** Back to page 1 with a new history entry, then search. */
function commit() {
  state.page = 1;
  typingEntryPushed = false;
  writeUrl(true);
  syncControls();
  runSearch();
}

/** Clear every filter, then commit. */
function clearFilters() {
  for (const name of FACETS) state[name] = [];
  for (const name of DATES) state[name] = "";
  commit();
}

/** Add or remove one value of a facet filter (a name in any of its spellings), then commit. */
function toggleValue(name, value) {
  const values = state[name];
  state[name] = isActive(name, value)
    ? values.filter((v) => !sameValue(name, v, value)) : [...values, value];
  commit();
}

/** Show another scope's matches (a tab), then commit; the selected tab keeps the focus. */
function selectScope(scope) {
  const next = scope === DEFAULT_SCOPE ? "" : scope;
  if (next === state.scope) return;
  state.scope = next;
  commit();
}

/** Remove a filter value (a chip), or all filters for "*". */
function removeFilter(name, value) {
  if (name === "*") return clearFilters();
  if (DATES.includes(name)) state[name] = "";
  else state[name] = state[name].filter((v) => v !== value);
  return commit();
}

input.addEventListener("input", () => {
  state.q = input.value;
  state.page = 1;
  state.typos = ""; // a new text is corrected again
  writeUrl(!typingEntryPushed);
  typingEntryPushed = true;
  document.title = state.q ? `${state.q} · dialogsearch` : "dialogsearch";
  scheduleSearch();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "ArrowDown") {
    const first = resultsList.querySelector(".hit-link");
    if (first) { event.preventDefault(); first.focus(); }
  } else if (event.key === "Escape" && input.value) {
    input.value = "";
    input.dispatchEvent(new Event("input"));
  }
});

input.addEventListener("blur", () => { typingEntryPushed = false; });

form.addEventListener("submit", (event) => {
  event.preventDefault();
  state.q = input.value;
  state.page = 1;
  writeUrl(!typingEntryPushed);
  runSearch();
  const first = resultsList.querySelector(".hit-link");
  if (first && document.activeElement !== input) first.focus();
});

sortSelect.addEventListener("change", () => {
  state.sort = sortSelect.value === "relevance" ? "" : sortSelect.value;
  commit();
});

for (const [control, name] of [[fromInput, "from"], [toInput, "to"]]) {
  control.addEventListener("change", () => { state[name] = control.value; commit(); });
}

facetsBox.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle]");
  if (toggle) {
    const name = toggle.dataset.toggle;
    if (expandedFacets.has(name)) expandedFacets.delete(name); else expandedFacets.add(name);
    const group = toggle.closest(".facet");
    const expanded = expandedFacets.has(name);
    group.querySelectorAll(".facet-values li").forEach((li, index) => {
      const pressed = li.querySelector("[aria-pressed=true]");
      li.hidden = !expanded && index >= FACET_SHOWN && !pressed;
    });
    toggle.textContent = expanded ? "Show fewer" : `Show all ${group.querySelectorAll(".facet-values li").length}`;
    return;
  }
  const button = event.target.closest("button[data-facet]");
  if (!button) return;
  toggleValue(button.dataset.facet, button.dataset.value);
});

bindArrowNavigation(facetsBox, "li:not([hidden]) > button.facet-value");

chips.addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove]");
  if (!button) return;
  removeFilter(button.dataset.remove, button.dataset.value);
  input.focus();
});
correctedBox.addEventListener("click", (event) => {
  if (!event.target.closest(".search-instead")) return;
  event.preventDefault();
  state.typos = "off";
  commit();
});
stateBox.addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove]");
  if (button) removeFilter(button.dataset.remove, button.dataset.value);
  const scope = event.target.closest("[data-scope]");
  if (scope) {
    selectScope(scope.dataset.scope);
    document.getElementById(`scope-${currentScope()}`).focus(); // the button is gone
  }
});
scopeTabs.addEventListener("click", (event) => {
  const tab = event.target.closest("[role=tab]");
  if (tab) selectScope(tab.dataset.scope);
});
bindTabKeys(scopeTabs);
foldToggle.addEventListener("click", (event) => {
  event.preventDefault();
  state.collapse = state.collapse ? "" : "off";
  commit();
});

document.getElementById("prev-page").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); writeUrl(true); runSearch(); resultsList.scrollIntoView({ block: "nearest" }); });
document.getElementById("next-page").addEventListener("click", () => { state.page += 1; writeUrl(true); runSearch(); resultsList.scrollIntoView({ block: "nearest" }); });

bindArrowNavigation(resultsList, ".hit-link", { onTop: () => input.focus() });
bindSlashFocus(input);

window.addEventListener("popstate", () => {
  state = readState();
  typingEntryPushed = false;
  syncControls();
  runSearch();
});

// The list follows the index: "New results — refresh" when its hits changed (freshness.js).
const shownAnswer = followIndex({
  intervalMs: Number(resultsArea.dataset.refreshMs) || 0,
  notice: document.getElementById("fresh-notice"),
  button: document.getElementById("fresh-button"),
  updated: document.getElementById("index-updated"),
  search: async () => {
    const seq = requestSeq;
    const answer = await apiGet("/search", apiParams());
    return seq === requestSeq ? answer : null;
  },
  refresh: async () => {
    await runSearch();
    const first = resultsList.querySelector(".hit-link");
    (first || input).focus(); // the button is gone: the keyboard goes on from the new list
  },
});

// On a phone the filters start folded so that the results come first.
if (window.matchMedia("(max-width: 760px)").matches) document.getElementById("facets-box").open = false;
syncControls();
checkHealth();
watchHealth();
runSearch();
input.focus();
