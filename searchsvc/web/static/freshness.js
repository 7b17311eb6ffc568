// The search page follows the index. Every answer carries the index's change point
// (`index`: version and changed_at); while the tab is visible the page asks /health for
// the current one every few seconds. When it moved, the same search is asked again in
// the background, and when its hits differ the page offers "New results — refresh"
// rather than swapping the list under the reader: the list changes only on a click.
import { API, el } from "./common.js";

/** The hits an answer lists (ids in order) and its total: two answers differ when these do. */
export function hitsKey(answer) {
  const hits = Array.isArray(answer.hits) ? answer.hits : [];
  return `${Number(answer.total) || 0}:${hits.map((hit) => hit.dialog_entry_id).join(",")}`;
}

/** Whether two change points are the same one. */
function samePoint(a, b) {
  return Boolean(a && b) && a.version === b.version && a.changed_at === b.changed_at;
}

/** "index updated 14:02:07" (the date too when not today), as a <time>; null without one. */
export function updatedNode(point) {
  const when = point && point.changed_at ? new Date(point.changed_at) : null;
  if (!when || Number.isNaN(when.getTime())) return null;
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const today = when.toDateString() === new Date().toDateString();
  const node = el("time", null, today ? time : `${when.toLocaleDateString()} ${time}`);
  node.dateTime = when.toISOString();
  return node;
}

/** The current change point from /health (its 503 body says it too); null when unknown. */
async function currentPoint() {
  const response = await fetch(API + "/health", { headers: { Accept: "application/json" } });
  const health = await response.json();
  return health && health.index ? health.index : null;
}

/**
 * Follow the index for the list the page shows.
 * `intervalMs`: how often to ask (0: never); `notice`: the live region holding `button`;
 * `updated`: where "index updated <time>" goes; `search()`: the page's current search,
 * asked in the background (resolves to its answer, or null when the page moved on);
 * `refresh()`: show the current search's answer (resolves once it is drawn).
 * Returns `shown(answer)`, for the page to call whenever it draws an answer.
 */
export function followIndex({ intervalMs, notice, button, updated, search, refresh }) {
  let shownPoint = null; // the change point of the answer the list shows
  let seenPoint = null;  // the latest change point checked against the list
  let shownKey = "";
  let draws = 0;         // answers drawn: a check that saw the page draw one is stale
  let checking = false;

  function setUpdated(point) {
    const node = updatedNode(point);
    updated.replaceChildren(...(node ? [" · index updated ", node] : []));
  }

  function showNotice() {
    button.hidden = false;
    notice.classList.add("fresh-shown");
  }

  function hideNotice() {
    button.hidden = true;
    notice.classList.remove("fresh-shown");
  }

  async function check() {
    if (checking || !shownPoint || document.visibilityState !== "visible") return;
    checking = true;
    const drawn = draws;
    try {
      const now = await currentPoint();
      if (!now || samePoint(now, seenPoint)) return;
      const answer = await search();
      if (!answer || drawn !== draws) return; // the page moved on meanwhile
      seenPoint = now;
      setUpdated(now);
      if (hitsKey(answer) === shownKey) hideNotice(); // a change that left this list alone
      else showNotice();
    } catch {
      // Unreachable or a bad answer: the health banner tells; ask again next time.
    } finally {
      checking = false;
    }
  }

  button.addEventListener("click", async () => {
    hideNotice();
    await refresh();
  });
  if (intervalMs > 0) {
    setInterval(check, Math.max(250, intervalMs));
    document.addEventListener("visibilitychange", check); // back to the tab: ask at once
  }

  return function shown(answer) {
    draws += 1;
    shownPoint = answer.index || null;
    seenPoint = shownPoint;
    shownKey = hitsKey(answer);
    hideNotice();
    setUpdated(shownPoint);
  };
}
