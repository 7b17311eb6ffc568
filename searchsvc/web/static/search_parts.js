// Parts of the search page drawn from an answer: a hit and its copies ("also in N files"),
// a facet value and a name's other spellings, the scope tabs and their counts. search.js
// owns the state and the events; these build or update DOM from plain values (as text,
// never markup).
import {
  el, formatTimestamp, moodHex, pathLabel, snippetNodes, swatch, wrappablePath,
} from "./common.js";

export const SCOPES = ["entries", "text", "all"];
export const DEFAULT_SCOPE = "entries";
/** The format a text section has (every other format is a dialog entry's). */
const SECTION_FORMAT = "section";
/** The facets whose values are people's names: one value per person, with its spellings. */
export const NAME_FACETS = ["speaker", "target"];

/**
 * The key of a name, as the service compares them (dialogfile/names.py name_key): case,
 * `_`/`-`/spaces between words and a leading `@` do not count.
 */
export function nameKey(name) {
  return String(name ?? "").normalize("NFKC").toLowerCase().trim()
    .replace(/^@+/, "").trim()
    .replace(/[\s_-]+/g, " ").trim();
}

/** Whether the search has a format filter (a parameter or `format:` in q): it decides the scope. */
export function formatFiltered(state) {
  return state.format.length > 0 || /(^|\s)-?format:/i.test(state.q);
}

/**
 * How many matches each scope has, {entries, text, all}, or null when unknown.
 * A scoped answer says it (`scopes`); with scope=all the format facet does (sections are
 * the text, every other format an entry), and the total is all of them.
 */
export function scopeCounts(answer) {
  const scopes = answer.scopes;
  if (scopes && typeof scopes === "object") {
    const entries = Number(scopes.entries) || 0;
    const text = Number(scopes.text) || 0;
    return { entries, text, all: entries + text };
  }
  const formats = answer.facets && answer.facets.format;
  if (answer.scope !== "all" || !Array.isArray(formats)) return null;
  let text = 0;
  let entries = 0;
  for (const item of formats) {
    if (item.value === SECTION_FORMAT) text += Number(item.count) || 0;
    else entries += Number(item.count) || 0;
  }
  return { entries, text, all: Number(answer.total) || entries + text };
}

/**
 * Show the tabs with `scope` selected and each count ("(1,234)", "(~1,234)" when
 * estimated, nothing when unknown); hidden, and the panel no tab panel, when `shown` is false.
 */
export function updateScopeTabs(tablist, panel, { scope, counts, estimated, shown }) {
  tablist.hidden = !shown;
  if (shown) {
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", `scope-${scope}`);
  } else {
    panel.removeAttribute("role");
    panel.removeAttribute("aria-labelledby");
  }
  for (const tab of tablist.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.scope === scope;
    tab.setAttribute("aria-selected", selected ? "true" : "false");
    tab.tabIndex = selected ? 0 : -1;
    const count = counts ? counts[tab.dataset.scope] : undefined;
    tab.querySelector(".tab-count").textContent = count === undefined
      ? "" : ` (${estimated ? "~" : ""}${Number(count).toLocaleString()})`;
  }
}

/**
 * The tab list's keys (manual activation): ←/→ move the focus round the tabs, Home/End to
 * the first/last; Enter or Space selects the focused one (a button's click).
 */
export function bindTabKeys(tablist) {
  tablist.addEventListener("keydown", (event) => {
    const tabs = [...tablist.querySelectorAll("[role=tab]")];
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = {
      ArrowRight: (index + 1) % tabs.length,
      ArrowLeft: (index - 1 + tabs.length) % tabs.length,
      Home: 0,
      End: tabs.length - 1,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    tabs[moves[event.key]].focus();
  });
}

/** A place as the page shows places: `path:line`, able to wrap after each "/". */
export function placeText(dialogFile, line) {
  const code = el("code", "file-line");
  code.append(wrappablePath(`${dialogFile}:${line}`));
  return code;
}

/**
 * "also in N files" under a hit whose text other files hold too: a disclosure listing
 * the places the answer gives (links to each copy), "and K more" for the rest.
 * Null for a hit without copies.
 */
export function alsoIn(hit) {
  const copies = Number(hit.copies) || 0;
  if (copies <= 0) return null;
  const places = Array.isArray(hit.also_in) ? hit.also_in : [];
  const box = el("details", "also-in");
  box.append(el("summary", null, `also in ${copies.toLocaleString()} ${copies === 1 ? "file" : "files"}`));
  const list = el("ul", "also-in-list");
  for (const place of places) {
    const item = el("li");
    const link = el("a");
    link.href = `/entry/${encodeURIComponent(place.dialog_entry_id)}`;
    link.append(placeText(place.dialog_file, place.line));
    item.append(link);
    list.append(item);
  }
  box.append(list);
  const more = copies - places.length;
  if (more > 0) box.append(el("p", "also-in-more", `and ${more.toLocaleString()} more`));
  return box;
}

/** A name facet value's other spellings (the value itself left out). */
export function otherSpellings(item) {
  const variants = Array.isArray(item.variants) ? item.variants.map(String) : [];
  return variants.filter((variant) => variant !== String(item.value));
}

/**
 * Tie a facet button to its value's other spellings: shown under it in small text (touch
 * and sight), its description (screen readers) and its title (hover). Returns the note.
 */
export function spellingsNote(button, id, spellings) {
  const text = `also: ${spellings.join(", ")}`;
  const note = el("span", "facet-variants", text);
  note.id = id;
  button.setAttribute("aria-describedby", id);
  button.title = `Also written ${spellings.join(", ")}`;
  return note;
}

/** One hit of the list: a link to its entry (who, mood, when, snippet, place), then its copies. */
export function hitItem(hit) {
  const li = el("li", "hit");
  const link = el("a", "hit-link");
  link.href = `/entry/${encodeURIComponent(hit.dialog_entry_id)}`;
  const head = el("div", "hit-head");
  const isSection = hit.format === "section";
  if (isSection) li.classList.add("hit-section");
  head.append(el("span", "speaker", hit.speaker || (isSection ? "Text of the file" : "—")));
  if (hit.target) {
    head.append(el("span", "arrow", "→"));
    head.append(el("span", "target", hit.target));
  }
  const hex = moodHex(hit.mood_rgb);
  if (hex) {
    const mood = el("span", "mood");
    mood.append(swatch(hex, { hexShown: true }), el("code", "hex", "#" + hex));
    mood.title = hit.mood_raw ? `Mood ${hit.mood_raw}` : `Mood #${hex}`;
    head.append(mood);
  }
  const when = formatTimestamp(hit.timestamp_utc);
  if (when) head.append(el("time", "date", when));
  link.append(head);
  const snippet = el("p", "snippet");
  if (hit.snippet) snippet.append(snippetNodes(hit.snippet));
  else snippet.textContent = (hit.message || hit.body || "").slice(0, 240);
  // A heading section's snippet is its title: show it once.
  if (hit.title && !snippet.textContent.includes(hit.title)) link.append(el("span", "hit-title", hit.title));
  link.append(snippet);
  const foot = el("div", "hit-foot");
  foot.append(placeText(hit.dialog_file, hit.line));
  if (hit.format) foot.append(el("span", "format", hit.format));
  link.append(foot);
  li.append(link);
  const copies = alsoIn(hit); // beside the link, not in it: its links are controls of their own
  if (copies) li.append(copies);
  return li;
}

/**
 * One facet value's list item: its button (pressed when filtered by), and for a name its
 * other spellings. `exact`: false when the counts are estimates.
 */
export function facetItem(name, item, index, { exact, pressed }) {
  const value = String(item.value);
  const li = el("li");
  const button = el("button", "facet-value");
  button.type = "button";
  button.dataset.facet = name;
  button.dataset.value = value;
  button.setAttribute("aria-pressed", pressed ? "true" : "false");
  const label = el("span", "facet-label");
  if (name === "mood") {
    const hex = moodHex(value);
    if (hex) label.append(swatch(hex, { hexShown: true }));
    label.append(el("code", null, hex ? "#" + hex : value));
  } else if (name === "file") {
    // Files of the same name in two folders must read differently: the path, cut in the middle.
    label.append(pathLabel(value));
    button.title = value;
  } else {
    label.append(el("span", null, value));
  }
  const count = el("span", "count", (exact ? "" : "~") + Number(item.count).toLocaleString());
  if (!exact) count.title = "Estimated from a sample of the matches";
  button.append(label, count);
  li.append(button);
  const spellings = NAME_FACETS.includes(name) ? otherSpellings(item) : [];
  if (spellings.length) li.append(spellingsNote(button, `facet-${name}-spellings-${index}`, spellings));
  return li;
}
