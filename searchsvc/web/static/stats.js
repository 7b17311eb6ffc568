// Insight views: timeline, mood distribution and who-talks-to-whom, drawn as SVG
// and HTML from /api/dialog/stats (filtered by the form's q and speaker).
import {
  ApiFailure, Unreachable, apiGet, bindSlashFocus, checkHealth, watchHealth, el, formatTimestamp, luminance, moodHex,
  showMode, showOffline, svg,
} from "./common.js";

const form = document.getElementById("stats-form");
const qInput = document.getElementById("stats-q");
const speakerInput = document.getElementById("stats-speaker");
const summary = document.getElementById("stats-summary");
const stateBox = document.getElementById("state");
const MATRIX_ROWS = 14;
const MATRIX_COLS = 10;
const MOODS_SHOWN = 20;
const HEAT_STEPS = 5;

/** Counts as [{value, count}] from a list of objects/pairs or a {value: count} map. */
function counts(raw, key = "value") {
  if (!raw) return [];
  if (Array.isArray(raw)) {
    return raw.map((item) => {
      if (Array.isArray(item)) return { value: item[0], count: Number(item[1]) };
      const value = item[key] ?? item.value ?? item.day ?? item.date ?? item.name;
      return { value, count: Number(item.count ?? item.n ?? 0) };
    }).filter((item) => item.value !== null && item.value !== undefined);
  }
  return Object.entries(raw).map(([value, count]) => ({ value, count: Number(count) }));
}

/** Speaker → target pairs as [{speaker, target, count}] from a list or nested map. */
function pairs(raw) {
  if (!raw) return [];
  if (Array.isArray(raw)) {
    return raw.map((item) => (Array.isArray(item)
      ? { speaker: item[0], target: item[1], count: Number(item[2]) }
      : { speaker: item.speaker, target: item.target, count: Number(item.count) }));
  }
  const out = [];
  for (const [speaker, targets] of Object.entries(raw)) {
    for (const [target, count] of Object.entries(targets || {})) out.push({ speaker, target, count: Number(count) });
  }
  return out;
}

/** "2026-01-16" from 20260116, "20260116", "2026-01-16" or 20260116000000. */
function dayKey(value) {
  const digits = String(value).replace(/[^0-9]/g, "");
  if (digits.length < 8) return null;
  return `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
}

function searchLink(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  return "/?" + query.toString();
}

function filters() {
  return { q: qInput.value.trim(), speaker: speakerInput.value.trim() };
}

function drawTimeline(days) {
  const box = document.getElementById("timeline");
  const byDay = new Map();
  for (const item of days) {
    const key = dayKey(item.value);
    if (key) byDay.set(key, (byDay.get(key) || 0) + item.count);
  }
  if (!byDay.size) {
    box.replaceChildren(el("p", "muted", "No dated entries match."));
    return;
  }
  const keys = [...byDay.keys()].sort();
  // Fill the gaps so that the x axis is real time, capped to keep the chart light.
  const all = [];
  const start = new Date(keys[0] + "T00:00:00Z");
  const end = new Date(keys[keys.length - 1] + "T00:00:00Z");
  const span = Math.round((end - start) / 86400000) + 1;
  if (span <= 1500) {
    for (let i = 0; i < span; i += 1) {
      const key = new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10);
      all.push([key, byDay.get(key) || 0]);
    }
  } else {
    for (const key of keys) all.push([key, byDay.get(key)]);
  }
  // Draw at the box's own width so that labels keep their size on a phone.
  const width = Math.max(320, Math.round(box.clientWidth || 960));
  const height = width < 600 ? 180 : 200;
  const pad = { left: 44, right: 8, top: 10, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(...all.map(([, count]) => count));
  const step = plotW / all.length;
  // A group, not an image: its bars are links (an image's content is not focusable).
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "timeline-svg", role: "group",
    "aria-label": `Entries per day from ${all[0][0]} to ${all[all.length - 1][0]}, at most ${max} a day` });
  for (const fraction of max >= 4 ? [0, 0.5, 1] : [0, 1]) {
    const y = pad.top + plotH * (1 - fraction);
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "gridline" }));
    // The axes are for the eye; each bar's link names its day and count.
    const label = svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis-label",
      "aria-hidden": "true" });
    label.textContent = String(Math.round(max * fraction));
    chart.append(label);
  }
  const { q, speaker } = filters();
  all.forEach(([key, count], index) => {
    if (!count) return;
    const barH = Math.max(1, (count / max) * plotH);
    const entries = `${count.toLocaleString()} ${count === 1 ? "entry" : "entries"}`;
    const link = svg("a", { href: searchLink({ q, speaker, from: key, to: key, sort: "oldest" }),
      "aria-label": `${key}: ${entries}` });
    // Bars at most 36 px wide, centred in their day's slot.
    const barW = Math.min(36, Math.max(0.8, step - (step > 3 ? 1 : 0)));
    const rect = svg("rect", {
      x: pad.left + index * step + (step - barW) / 2, y: pad.top + plotH - barH,
      width: barW, height: barH, class: "bar",
    });
    const title = svg("title");
    title.textContent = `${key}: ${entries}`;
    rect.append(title);
    link.append(rect);
    chart.append(link);
  });
  const ticks = Math.min(width < 600 ? 3 : 6, all.length);
  for (let i = 0; i < ticks; i += 1) {
    const index = ticks === 1 ? 0 : Math.round((i * (all.length - 1)) / (ticks - 1));
    const label = svg("text", {
      x: pad.left + index * step + step / 2, y: height - 8,
      "text-anchor": i === 0 ? "start" : i === ticks - 1 ? "end" : "middle", class: "axis-label",
      "aria-hidden": "true",
    });
    label.textContent = all[index][0];
    chart.append(label);
  }
  box.replaceChildren(chart);
}

function drawMoods(moods) {
  const box = document.getElementById("moods");
  const valid = moods.map((item) => ({ hex: moodHex(item.value), count: item.count }))
    .filter((item) => item.hex).sort((a, b) => b.count - a.count);
  if (!valid.length) {
    box.replaceChildren(el("p", "muted", "No entry with a mood colour matches."));
    return;
  }
  const total = valid.reduce((sum, item) => sum + item.count, 0);
  // One strip with every colour in proportion, then the most common as bars.
  const strip = svg("svg", { viewBox: "0 0 1000 24", preserveAspectRatio: "none", class: "mood-strip", role: "img",
    "aria-label": `${valid.length} mood colours over ${total.toLocaleString()} entries` });
  let x = 0;
  for (const item of valid) {
    const w = (item.count / total) * 1000;
    const rect = svg("rect", { x, y: 0, width: w + 0.3, height: 24, fill: "#" + item.hex });
    const title = svg("title");
    title.textContent = `#${item.hex}: ${item.count.toLocaleString()}`;
    rect.append(title);
    strip.append(rect);
    x += w;
  }
  const shown = valid.slice(0, MOODS_SHOWN);
  const max = shown[0].count;
  const rowH = 22;
  const width = Math.max(300, Math.round(box.clientWidth || 480));
  const labelW = 78;
  const bars = svg("svg", { viewBox: `0 0 ${width} ${shown.length * rowH}`, class: "mood-bars", role: "group",
    "aria-label": "The most common mood colours with their counts" });
  const { q, speaker } = filters();
  shown.forEach((item, index) => {
    const y = index * rowH;
    const entries = `${item.count.toLocaleString()} ${item.count === 1 ? "entry" : "entries"}`;
    const link = svg("a", { href: searchLink({ q, speaker, mood: item.hex }), "aria-label": `#${item.hex}: ${entries}` });
    const label = svg("text", { x: 0, y: y + 15, class: "bar-label mono" });
    label.textContent = "#" + item.hex;
    const barW = Math.max(2, ((width - labelW - 60) * item.count) / max);
    const rect = svg("rect", { x: labelW, y: y + 3, width: barW, height: rowH - 6, rx: 3, fill: "#" + item.hex,
      class: luminance(item.hex) > 0.8 ? "bar-light" : "bar-mood" });
    const title = svg("title");
    title.textContent = `#${item.hex}: ${entries}`;
    rect.append(title);
    const count = svg("text", { x: labelW + barW + 6, y: y + 15, class: "bar-label" });
    count.textContent = item.count.toLocaleString();
    link.append(label, rect, count);
    bars.append(link);
  });
  const note = el("p", "muted small", valid.length > MOODS_SHOWN
    ? `The ${MOODS_SHOWN} most common of ${valid.length} colours; click one to search it.`
    : "Click a colour to search it.");
  box.replaceChildren(strip, bars, note);
}

function drawMatrix(pairList) {
  const box = document.getElementById("matrix");
  if (!pairList.length) {
    box.replaceChildren(el("p", "muted", "No entry with a speaker and a target matches."));
    return;
  }
  const rowTotals = new Map();
  const colTotals = new Map();
  const cell = new Map();
  for (const { speaker, target, count } of pairList) {
    if (!speaker || !target) continue;
    rowTotals.set(speaker, (rowTotals.get(speaker) || 0) + count);
    colTotals.set(target, (colTotals.get(target) || 0) + count);
    cell.set(speaker + "\u0000" + target, (cell.get(speaker + "\u0000" + target) || 0) + count);
  }
  const top = (map, n) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name]) => name);
  const rows = top(rowTotals, MATRIX_ROWS);
  const cols = top(colTotals, MATRIX_COLS);
  const max = Math.max(...rows.flatMap((r) => cols.map((c) => cell.get(r + "\u0000" + c) || 0)), 1);
  const table = el("table", "matrix");
  // The note sits outside the table: a caption is as wide as the table, which
  // scrolls sideways on a phone, so most of the note would be out of view.
  const note = el("p", "matrix-note muted small",
    `Rows: the ${rows.length} busiest speakers; columns: the ${cols.length} most addressed targets. Click a cell to search it.`);
  note.id = "matrix-note";
  table.setAttribute("aria-describedby", note.id);
  const head = el("tr");
  head.append(el("th", "corner", "speaker ↓ / target →"));
  for (const target of cols) {
    const th = el("th", "col-head", target);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  const { q } = filters();
  for (const speaker of rows) {
    const tr = el("tr");
    const th = el("th", "row-head", speaker);
    th.scope = "row";
    tr.append(th);
    for (const target of cols) {
      const count = cell.get(speaker + "\u0000" + target) || 0;
      const td = el("td");
      if (count) {
        // Five steps of the --heat-N colour tokens, each readable under --text (style.css).
        td.classList.add(`heat-${Math.max(1, Math.ceil(HEAT_STEPS * Math.sqrt(count / max)))}`);
        const link = el("a", null, count.toLocaleString());
        link.href = searchLink({ q, speaker, target });
        link.title = `${speaker} → ${target}: ${count.toLocaleString()}`;
        link.setAttribute("aria-label", link.title);
        td.append(link);
      } else {
        td.classList.add("zero");
        td.append(el("span", "visually-hidden", "0"));
        const dot = el("span", null, "·");
        dot.setAttribute("aria-hidden", "true");
        td.append(dot);
      }
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(thead, tbody);
  const scroller = el("div", "matrix-scroll");
  // Focusable, so that a keyboard can scroll a grid wider than the screen.
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "region");
  // Named apart from its section ("Who talks to whom"): two regions may not share a name.
  scroller.setAttribute("aria-label", "Speaker by target grid");
  scroller.append(table);
  box.replaceChildren(scroller, note);
}

function drawTotals(stats) {
  const box = document.getElementById("totals");
  const dl = el("dl", "totals");
  const add = (name, value) => {
    if (value === undefined || value === null || value === "") return;
    const div = el("div");
    div.append(el("dt", null, name), el("dd", null, typeof value === "number" ? value.toLocaleString() : value));
    dl.append(div);
  };
  const totals = stats.totals || {};
  add("Dialog entries", totals.dialog_entries ?? totals.entries ?? stats.total);
  add("Text sections", totals.sections);
  add("Files", totals.files);
  add("Speakers", totals.speakers);
  add("Targets", totals.targets);
  const size = stats.database_size_bytes ?? stats.db_size_bytes ?? totals.database_size_bytes;
  if (typeof size === "number") add("Database", `${(size / 1048576).toFixed(1)} MB`);
  add("Last sync", formatTimestamp(stats.last_sync_utc ?? stats.last_sync));
  add("Mode", stats.mode);
  for (const item of counts(stats.formats || stats.format).sort((a, b) => b.count - a.count)) add(`Format ${item.value}`, item.count);
  box.replaceChildren(dl);
}

async function load() {
  const { q, speaker } = filters();
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(Object.entries({ q, speaker }).filter(([, v]) => v)).toString();
  history.replaceState(null, "", url);
  summary.textContent = "Loading…";
  try {
    const stats = await apiGet("/stats", { q, speaker });
    showMode(stats.mode || stats.source);
    stateBox.hidden = true;
    const speakers = counts(stats.speakers || stats.speaker);
    const list = document.getElementById("speaker-list");
    if (!list.children.length) {
      list.replaceChildren(...speakers.map((item) => { const option = el("option"); option.value = item.value; return option; }));
    }
    drawTimeline(counts(stats.days || stats.per_day || stats.day, "day"));
    drawMoods(counts(stats.moods || stats.mood, "mood_rgb"));
    drawMatrix(pairs(stats.pairs || stats.speaker_target || stats.who_talks_to_whom));
    drawTotals(stats);
    const scope = [q && `matching “${q}”`, speaker && `by ${speaker}`].filter(Boolean).join(" ");
    summary.textContent = scope ? `Entries ${scope}.` : "All entries.";
  } catch (err) {
    summary.textContent = "";
    stateBox.hidden = false;
    stateBox.className = "state state-error";
    if (err instanceof Unreachable) {
      showOffline(err.message, load);
      stateBox.replaceChildren(el("p", "state-title", "The service cannot be reached."));
    } else {
      stateBox.replaceChildren(el("p", "state-title", "The statistics could not be loaded."),
        el("p", "hint", err instanceof ApiFailure ? err.message : String(err)));
    }
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
const initial = new URLSearchParams(window.location.search);
qInput.value = initial.get("q") || "";
speakerInput.value = initial.get("speaker") || "";
bindSlashFocus(qInput);
checkHealth();
watchHealth();
load();
