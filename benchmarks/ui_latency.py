"""Keystroke-to-rendered-results time of the search page, measured in Chromium.

Not a test (pytest does not collect it). Against a running server:

    .venv/bin/python benchmarks/ui_latency.py --base-url http://127.0.0.1:8000 \\
        --queries /tmp/q.ndjson --count 100

For each query the page first shows the query minus its last character; then the
last key is pressed (at once, or after --pause-ms) and the time from that keydown
to the frame after the new results are in the DOM is taken with performance.now()
(the debounce included), plus the part after the debounce (request + JSON +
render). The page searches at once on the first key after a pause of 150 ms and
waits out the debounce for keys typed in a burst.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

EXPECT_RENDER = """
(q) => {
  window.__measured = null;
  const onRendered = (event) => {
    if (event.detail.q !== q) return;
    document.removeEventListener("dialogsearch:rendered", onRendered);
    // Two frames: the results are laid out and painted.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__measured = {
        keyToPaint: performance.now() - window.__keydownAt,
        afterDebounce: event.detail.ms,
        total: event.detail.total,
        error: event.detail.error || null,
      };
    }));
  };
  document.addEventListener("dialogsearch:rendered", onRendered);
}
"""

RECORD_KEYDOWN = """
() => document.getElementById("q").addEventListener(
  "keydown", () => { window.__keydownAt = performance.now(); }, { capture: true })
"""


def load_queries(path: Path, count: int) -> list[str]:
    """The `q` of the first `count` lines of a gen_corpus --queries file.

    A trailing `*` is dropped: the page searches the last word as a prefix anyway.
    """
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)["q"].rstrip("*").strip()
        if len(q) >= 2:
            queries.append(q)
        if len(queries) == count:
            break
    return queries


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure(base_url: str, queries: list[str], pause_ms: int = 0) -> list[dict]:
    """One measurement per query, in a fresh page."""
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base_url + "/")
        page.wait_for_selector("#summary:not(:empty)")
        page.evaluate(RECORD_KEYDOWN)
        for q in queries:
            if page.input_value("#q") != q[:-1]:
                page.evaluate(EXPECT_RENDER, q[:-1])
                page.fill("#q", q[:-1])
                page.wait_for_function("() => window.__measured", timeout=60_000)
            if pause_ms:
                page.wait_for_timeout(pause_ms)  # a typist pausing before the last key
            page.evaluate(EXPECT_RENDER, q)
            page.keyboard.press(q[-1])
            measured = page.wait_for_function("() => window.__measured", timeout=60_000)
            results.append({"q": q, **measured.json_value()})
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=0,
        help="wait this long before the last key (0: it follows the previous one at once)",
    )
    args = parser.parse_args()
    results = measure(args.base_url, load_queries(args.queries, args.count), args.pause_ms)
    for failed in [r for r in results if r["error"]]:
        print(f"  error: q={failed['q']!r}: {failed['error']}")
    for name in ("keyToPaint", "afterDebounce"):
        values = [r[name] for r in results if not r["error"]]
        print(
            f"{name:14} n={len(values)} p50={statistics.median(values):.1f} ms "
            f"p90={percentile(values, 0.9):.1f} ms p99={percentile(values, 0.99):.1f} ms "
            f"max={max(values):.1f} ms"
        )
    slowest = sorted(results, key=lambda r: -r["keyToPaint"])[:5]
    for r in slowest:
        print(f"  slow: {r['keyToPaint']:.1f} ms total={r['total']} q={r['q']!r}")


if __name__ == "__main__":
    main()
