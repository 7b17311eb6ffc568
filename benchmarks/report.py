"""The one results table: our figures, the peer's, ours/peer, the issue's targets, met or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from benchmarks.queries import KINDS

ENGINE_LABEL = {"datasette": "Datasette", "datasette_array": "_shape=array"}
#: benchmarks.hostile's engines over HTTP: the server's settings they stand for.
SERVED_AS = {"topk": "serve", "fts5-alone": "serve DIALOGSEARCH_TOPK=off", "files": "files mode"}
#: ... and each engine forced alone in one process.
FORCED_AS = {
    "topk": "top-k",
    "fts5": "FTS5 (top-k index beside it)",
    "fts5-alone": "FTS5 (no top-k index)",
    "files": "file index",
}


@dataclass(frozen=True)
class Row:
    """One line of the table; `met` is True/False, or None when there is no target."""

    measure: str
    ours: str
    peer: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None


def weighted_percentile(groups: Sequence[Sequence[float]], pct: float) -> float | None:
    """Percentile of the pooled values where every non-empty group weighs the same."""
    weighted = sorted((value, 1.0 / len(group)) for group in groups if group for value in group)
    if not weighted:
        return None
    total = sum(weight for _, weight in weighted)
    running = 0.0
    for value, weight in weighted:
        running += weight
        if running >= total * pct / 100 - 1e-12:
            return value
    return weighted[-1][0]


def mix_rps(cells: Sequence[dict], engine: str, concurrency: int) -> float | None:
    """Throughput over the whole mix (every kind the same share): the harmonic mean."""
    rates = [
        float(cell["rps"])
        for cell in cells
        if cell["engine"] == engine and cell["concurrency"] == concurrency
    ]
    if not rates or any(rate <= 0 for rate in rates):
        return 0.0 if rates else None
    return len(rates) / sum(1 / rate for rate in rates)


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours: float | None, peer: float | None) -> str:
    if ours is None or peer is None or peer == 0:
        return "—"
    return f"{ours / peer:.2f}×"


def _check(value: float | None, limit: float, *, at_most: bool) -> bool | None:
    if value is None:
        return None
    return value <= limit if at_most else value >= limit


def build_rows(results: dict) -> list[Row]:
    """Every row of the table from the results document."""
    rows: list[Row] = []
    rows += _reindex_rows(results)
    rows += _parse_rows(results)
    rows += _search_rows(results)
    rows += _files_mode_rows(results)
    rows += _rss_rows(results)
    rows += _write_load_rows(results)
    rows += _hostile_rows(results)
    rows += _freshness_rows(results)
    return rows


def _reindex_rows(results: dict) -> list[Row]:
    reindex, raw = results.get("reindex", {}), results.get("raw_load", {})
    full, same, plain = reindex.get("full", {}), raw.get("same", {}), raw.get("plain", {})
    ours_rate = full.get("entries_per_s")
    same_rate, plain_rate = same.get("entries_per_s"), plain.get("entries_per_s")
    rows = [
        Row(
            "Full reindex: entries/s vs the bare FTS5 bulk load (default options, as "
            "sqlite-utils enable-fts)",
            _num(ours_rate, 0),
            f"{_num(plain_rate, 0)} (raw sqlite3 bulk load, default FTS5 options)",
            _ratio(ours_rate, plain_rate),
            "≥ 0.50× bare (issue 15)",
            _at_least_half(ours_rate, plain_rate),
        ),
        Row(
            "Full reindex: entries/s vs the same load with our FTS5 options",
            _num(ours_rate, 0),
            f"{_num(same_rate, 0)} (raw sqlite3 bulk load, our FTS5 options)",
            _ratio(ours_rate, same_rate),
            "≥ 0.50× raw (issue 6)",
            _at_least_half(ours_rate, same_rate),
        ),
        Row(
            "Full reindex: MB/s (Markdown in; raw: NDJSON in, our FTS5 options)",
            _num(full.get("mb_per_s")),
            _num(same.get("mb_per_s")),
            _ratio(full.get("mb_per_s"), same.get("mb_per_s")),
        ),
        Row(
            "Full reindex: wall s / CPU s / peak RSS MB (raw: our FTS5 options)",
            _times(full),
            _times(same),
            _ratio(full.get("wall_seconds"), same.get("wall_seconds")),
        ),
        Row(
            "Database size MB (rows written; raw: our FTS5 options)",
            f"{_num(full.get('db_mb'), 0)} ({_num(full.get('entries_parsed'), 0)})",
            f"{_num(same.get('db_mb'), 0)} ({_num(same.get('entries'), 0)})",
            _ratio(full.get("db_mb"), same.get("db_mb")),
        ),
    ]
    build, full_wall = reindex.get("topk_build", {}), full.get("wall_seconds")
    topk = build.get("topk") or {}
    if topk:
        seconds = build.get("topk_seconds")
        entries = topk.get("entries")
        rate = entries / seconds if entries and seconds else None
        total = None if full_wall is None or seconds is None else full_wall + seconds
        rows += [
            Row(
                "Top-k index build (full): s (entries/s), apart from the reindex",
                f"{_num(seconds, 1)} ({_num(rate, 0)}/s, {topk.get('action')})",
            ),
            Row("Top-k index size MB", _num(build.get("index_mb"), 0)),
            Row("Full reindex + top-k build (CLI total): s", _num(total, 1)),
        ]
    for key, label in (("one_file", "one file changed"), ("unchanged", "no change")):
        run = reindex.get(key, {})
        seconds = run.get("seconds")
        rows.append(
            Row(
                f"Reindex, {label}: s in reindex() (CLI wall s; top-k catch-up s)",
                f"{_num(seconds, 2)} ({_num(run.get('wall_seconds'), 2)}; "
                f"{_num(run.get('topk_seconds'), 2)})",
                target="≤ 1 s at 1M" if key == "one_file" else "",
                met=_check(seconds, 1.0, at_most=True) if key == "one_file" else None,
            )
        )
    return rows


def _at_least_half(ours: float | None, peer: float | None) -> bool | None:
    return None if ours is None or peer is None else ours >= 0.5 * peer


def _times(run: dict) -> str:
    return (
        f"{_num(run.get('wall_seconds'))} / {_num(run.get('cpu_seconds'))} / "
        f"{_num(run.get('peak_rss_mb'), 0)}"
    )


def _parse_rows(results: dict) -> list[Row]:
    parse = results.get("parse", {})
    rows = []
    shared = parse.get("shared")
    if shared and "mb_per_s" in shared:
        rows.append(
            Row(
                f"Parse: MB/s, shared corpus ({shared['mb']} MB)",
                _num(shared["mb_per_s"]),
                target="≥ 20 MB/s",
                met=_check(shared["mb_per_s"], 20.0, at_most=False),
            )
        )
    elif shared:
        rows.append(Row("Parse: MB/s, shared corpus", shared.get("status", "—")))
    generated = parse.get("generated")
    if generated:
        rows.append(
            Row(
                f"Parse: MB/s, generated corpus ({generated['mb']} MB)",
                _num(generated["mb_per_s"]),
            )
        )
    return rows


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return "—"
    text = (
        f"{_num(cell['rps'])} ({_num(cell['p50_ms'])}/{_num(cell['p95_ms'])}/"
        f"{_num(cell['p99_ms'])})"
    )
    return text + (f" [{cell['errors']} err]" if cell["errors"] else "")


def _search_rows(results: dict) -> list[Row]:
    search = results.get("search", {})
    cells = search.get("cells", [])
    if not cells:
        return [Row("Search over HTTP", search.get("status", "not run"))]
    peer_status = search.get("datasette_status", "")
    by_key = {(cell["engine"], cell["kind"], cell["concurrency"]): cell for cell in cells}
    concurrencies = sorted({cell["concurrency"] for cell in cells})
    rows = []
    topk = search.get("ours_topk")
    if topk:
        answered = topk.get("answered") or {}
        rows.append(
            Row(
                "Our searches answered by the top-k index / by SQLite FTS5 (index state)",
                f"{answered.get('topk')} / {answered.get('fts5')} ({topk.get('state')})",
            )
        )
    for kind in KINDS:
        for concurrency in concurrencies:
            ours = by_key.get(("ours", kind, concurrency))
            peers, ratios = [], []
            for engine in ("datasette", "datasette_array"):
                peer = by_key.get((engine, kind, concurrency))
                if peer is not None:
                    peers.append(f"{ENGINE_LABEL[engine]} {_cell_text(peer)}")
                    ratios.append(_ratio(ours["rps"] if ours else None, peer["rps"]))
            if ours is None and not peers:
                continue
            rows.append(
                Row(
                    f"Search `{kind}`, c={concurrency}: req/s (p50/p95/p99 ms)",
                    _cell_text(ours) if ours else search.get("status", "—"),
                    " · ".join(peers) or peer_status,
                    " · ".join(ratios),
                )
            )
    pooled = search.get("pooled", {})
    ours_c1 = pooled.get("ours", {}).get("1", {})
    peer_c1 = pooled.get("datasette", {}).get("1", {})
    rows.append(
        Row(
            "Search, whole mix, c=1: p50 ms (each kind weighs the same)",
            _num(ours_c1.get("p50_ms"), 2),
            _num(peer_c1.get("p50_ms"), 2) if peer_c1 else peer_status,
            _ratio(ours_c1.get("p50_ms"), peer_c1.get("p50_ms")),
            "≤ 5 ms at 1M",
            _check(ours_c1.get("p50_ms"), 5.0, at_most=True),
        )
    )
    rows.append(
        Row(
            "Search, whole mix, c=1: p99 ms",
            _num(ours_c1.get("p99_ms"), 2),
            _num(peer_c1.get("p99_ms"), 2) if peer_c1 else peer_status,
            _ratio(ours_c1.get("p99_ms"), peer_c1.get("p99_ms")),
            "≤ 50 ms at 1M",
            _check(ours_c1.get("p99_ms"), 50.0, at_most=True),
        )
    )
    top = max(concurrencies)
    ours_rps = mix_rps(cells, "ours", top)
    for engine, factor in (("datasette", 3.0), ("datasette_array", 1.0)):
        peer_rps = mix_rps(cells, engine, top)
        measurable = ours_rps is not None and peer_rps not in (None, 0)
        rows.append(
            Row(
                f"Search, whole mix, c={top}: req/s vs {ENGINE_LABEL[engine]}",
                _num(ours_rps),
                _num(peer_rps) if peer_rps is not None else peer_status,
                _ratio(ours_rps, peer_rps),
                f"≥ {factor:g}× {ENGINE_LABEL[engine]}",
                ours_rps >= factor * peer_rps if measurable else None,
            )
        )
    return rows


def _files_mode_rows(results: dict) -> list[Row]:
    files = results.get("files_mode", {})
    if "status" in files:
        return [Row("Files mode (fallback)", files["status"])]
    rows = []
    build = files.get("build", {})
    if build:
        per_100k = build.get("seconds_per_100k")
        rows.append(
            Row(
                f"Files mode: build in-memory index, wall s ({_num(build.get('entries'), 0)} "
                "entries; CPU s of all its processes)",
                f"{_num(build.get('seconds'), 2)} ({_num(per_100k, 2)} per 100k; "
                f"CPU {_num(build.get('cpu_seconds'), 1)})",
                target="≤ 10 s per 100k (judged from 100k entries)",
                met=_check(per_100k, 10.0, at_most=True)
                if (build.get("generated_entries") or 0) >= 100_000
                else None,
            )
        )
    for key, label in (("shared", "shared corpus"), ("generated", "generated corpus")):
        cell = files.get(key)
        if not cell:
            continue
        if "status" in cell:
            rows.append(Row(f"Files mode search, {label}", cell["status"]))
            continue
        rows.append(
            Row(
                f"Files mode search, {label}, c=1: req/s (p50/p95/p99 ms) [{cell['via']}]",
                _cell_text(cell),
                target="p50 ≤ 20 ms" if key == "shared" else "",
                met=_check(cell["p50_ms"], 20.0, at_most=True) if key == "shared" else None,
            )
        )
    return rows


def _rss_rows(results: dict) -> list[Row]:
    """Server memory after the search cells: anonymous (the process's own), file-mapped
    (pages of the tantivy index and SQLite, page cache the kernel may drop; counted once
    per mapping) and their total, each in a row of its own, each against 200 MB."""
    memory = results.get("server_memory", {})
    if not memory:
        return []
    ours, peer = memory.get("ours", {}), memory.get("datasette", {})
    parts = (
        ("anon_mb", "anonymous", "≤ 200 MB (issue 15; mapped pages apart)"),
        ("file_mb", "file-mapped (index and DB pages)", ""),
        ("rss_mb", "total (anonymous + file-mapped)", "≤ 200 MB"),
    )
    return [
        Row(
            f"Server RSS after the search cells, {label}, MB (all its processes)",
            _num(ours.get(key), 0),
            f"Datasette {_num(peer.get(key), 0)}" if peer else "",
            _ratio(ours.get(key), peer.get(key)),
            target,
            _check(ours.get(key), 200.0, at_most=True) if target else None,
        )
        for key, label, target in parts
    ]


def _write_load_rows(results: dict) -> list[Row]:
    """Search under writes (benchmarks.write_load): ours, beside main's code when it ran."""
    variants = results.get("write_load") or {}
    ours, base = variants.get("ours"), variants.get("baseline")
    if not ours:
        return []

    def pair(variant: dict | None, op: str) -> str:
        if not variant:
            return ""
        text = f"{_num(variant[op]['p50_ms'])} / {_num(variant[op]['p99_ms'])}"
        return text if variant is ours else f"main {text}"

    def p99_ratio(op: str) -> str:
        return _ratio(ours[op]["p99_ms"], base[op]["p99_ms"]) if base else ""

    label = "Under 90 % search / 10 % write, 8 clients"
    answered = sum(ours["engines"].values()) + sum(ours["ryw_engines"].values())
    by_topk = ours["engines"].get("topk", 0) + ours["ryw_engines"].get("topk", 0)
    faults = f"{ours['5xx']} / {ours['ryw_missed']} of {ours['ryw_checked']}"
    return [
        Row(f"{label}: search p50 / p99 ms", pair(ours, "search"), pair(base, "search"),
            p99_ratio("search"), "p99 ≤ 50 ms at 1M",
            _check(ours["search"]["p99_ms"], 50.0, at_most=True)),
        Row(f"{label}: write p50 / p99 ms", pair(ours, "write"), pair(base, "write"),
            p99_ratio("write"), "p99 ≤ 200 ms at 1M",
            _check(ours["write"]["p99_ms"], 200.0, at_most=True)),
        Row(f"{label}: 5xx / read-your-writes misses", faults,
            f"main {base['5xx']} / {base['ryw_missed']} of {base['ryw_checked']}" if base else "",
            "", "0 / 0", ours["5xx"] == 0 and ours["ryw_missed"] == 0),
        Row(f"{label}: searches the top-k engine answered", f"{by_topk:,} of {answered:,}",
            _engines_text(base) if base else ""),
    ]  # fmt: skip


def _hostile_rows(results: dict) -> list[Row]:
    """The hostile mix (benchmarks.hostile): each engine's slowest search and its answers."""
    found = results.get("hostile") or {}
    rows = []
    for row in found.get("rows", []):
        s = row["summary"]
        http = row["via"] == "http"
        engine = (SERVED_AS if http else FORCED_AS).get(row["engine"], row["engine"])
        label = f"Hostile mix ({found['searches']} searches × {found['rounds']}), {engine}"
        label += f" {'over HTTP' if http else 'forced, in one process'}: slowest ms (p99)"
        if "error" in s:
            rows.append(Row(label, f"error: {s['error']}", target="p100 ≤ 250 ms", met=False))
            continue
        answers = f"{s['whole']} whole, {s['partial']} partial, {s['400']} 400, {s['503']} 503"
        rows.append(
            Row(label, f"{_num(s['p100_ms'])} ({_num(s['p99_ms'])}); {answers}, {s['5xx']} other",
                target="p100 ≤ 250 ms at 1M, no 5xx",
                met=s["5xx"] == 0 and _check(s["p100_ms"], 250.0, at_most=True))
        )  # fmt: skip
    return rows


def _freshness_rows(results: dict) -> list[Row]:
    """Live freshness (benchmarks.watch_latency): an edited file to searchable."""
    found = results.get("freshness")
    if not found:
        return []
    label = "Live freshness: a saved edit to searchable"
    if "status" in found:
        return [Row(label, found["status"])]
    edits, burst = found["edits"], found["burst"]
    return [
        Row(f"{label}, p50 / p99 ms ({edits['found']} of {edits['edits']} edits found)",
            f"{_num(edits.get('p50_ms'))} / {_num(edits.get('p99_ms'))}"),
        Row(f"Live freshness: {burst['files']} new files copied in, searchable after s",
            f"{_num(burst['searchable_seconds'])} ({burst['reindexes']} reindexes)"),
    ]  # fmt: skip


def _engines_text(variant: dict) -> str:
    answered = sum(variant["engines"].values()) + sum(variant["ryw_engines"].values())
    by_topk = variant["engines"].get("topk", 0) + variant["ryw_engines"].get("topk", 0)
    return f"main {by_topk:,} of {answered:,}"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as one Markdown table."""
    header = ("Measure", "Ours", "Peer", "Ours/peer", "Target", "Met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        met = {True: "met", False: "**NOT met**", None: ""}[row.met]
        cells = (row.measure, row.ours, row.peer, row.ratio, row.target, met)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def targets(rows: Sequence[Row]) -> list[dict[str, object]]:
    """The rows that carry a target, as JSON-ready records."""
    return [asdict(row) for row in rows if row.target]
