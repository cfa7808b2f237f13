"""Run every performance budget in one go and print a table of ratios, each row ok or OVER BUDGET.

    ./dev bench            (or: python bench/run.py)

Each row compares contenders measured side by side in this one run (interleaved
rounds, best of each), so the ratio holds on a noisy shared machine even when the
absolute requests/second drift.

The first rows are the middleware's own cost on four streams (WSGI and ASGI, one
repeated visitor and 10,000 visitors with no Cookie header twice): the µs it adds to
the bare app, at most twice what the least possible gate adds (bench/floor.py).

A second table gives each server process's CPU time per request through uvicorn and
gunicorn (bare, wrapped, the least possible, least deciding and least keeping gates;
bench/e2e.py), a third what other middleware adds per request beside consentlib
(bench/peers.py), and the last absolute
rates of the reference site under gunicorn (receipts and email pixel opens per second,
1 and 4 workers, SQLite and PostgreSQL): bench/scale.py.
"""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The banner's first paint (its two files and the tag with the first layer's texts, in
# the visitor's language) in every shipped language, and its second layer: gzip -9.
FIRST_PAINT_BUDGET = 4096
SECOND_LAYER_BUDGET = 2048
# In process: the µs consentlib adds, at most this many times the least possible gate's.
ADDED_BUDGET = 2.0


def _gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def banner_bytes() -> tuple[tuple[int, str], tuple[int, str], int]:
    """The smallest and largest first paint (bytes, language) and the second layer's bytes,
    counted as tests/integration/test_banner_build.py counts them (each file on its own)."""
    from consentlib.locale import compile as locale, po
    from consentlib.web.assets import STATIC_DIR, manifest
    from consentlib.web.tags import banner_html
    from consentlib.web.templates import Templates

    names = manifest()
    files = sum(_gzipped((STATIC_DIR / names[key]).read_bytes()) for key in ("banner.js", "banner.css"))
    paints = []
    for language in sorted(po.sources(locale.HERE)):
        tag = banner_html(None, prefix="/_consent/", revision=1, notice_url="/privacy",
                          page=Templates().page(language))
        paints.append((files + _gzipped(tag.encode()), language))
    layer = sum(_gzipped((STATIC_DIR / names[key]).read_bytes())
                for key in ("banner-customize.js", "banner-customize.css"))
    return min(paints), max(paints), layer


def main() -> int:
    import importlib

    rows = []
    failed = False
    # The middleware's own cost (issue #26): the µs it adds to the bare app, at most twice
    # what the least possible gate adds (bench/floor.py), all three measured in one run.
    from bench.floor import measure_added

    for label, row in measure_added().items():
        ok = row["ratio"] <= ADDED_BUDGET
        failed |= not ok
        rows.append((f"µs added, {label}: consentlib vs least gate", f"{row['ratio']:.2f}", f"<= {ADDED_BUDGET}",
                     f"+{row['added']:.1f} vs +{row['least added']:.1f} µs on a bare {row['bare']:.1f} µs "
                     f"(least deciding gate +{row['deciding added']:.1f}, least keeping gate +{row['keeping added']:.1f}) "
                     f"{'ok' if ok else 'OVER BUDGET'}"))
    for module, label, budget, key in (
        ("bench.etag", "ETag firewall, 16 KB HTML page", 0.85, "wrapped"),
        ("bench.mail", "email open pixel recorded in SQLite vs bare Flask GIF", 0.50, "pixel"),
        ("bench.minor", "a minor's page view, 5,000 own receipts vs 1", 0.80, "many"),
    ):
        module, _, function = module.partition(":")
        try:
            result = getattr(importlib.import_module(module), function or "measure")()
        except ModuleNotFoundError as exc:
            rows.append((label, "not built", f">= {budget}", f"({exc.name} missing)"))
            continue
        ratio = result["ratio"]
        ok = ratio >= budget
        failed |= not ok
        rows.append((label, f"{ratio:.3f}", f">= {budget}",
                     f"{result['bare']:.0f} vs {result[key]:.0f} req/s {'ok' if ok else 'OVER BUDGET'}"))
    # The audit in a real browser: absolute seconds, since a browser has no bare contender.
    from bench.audit import BUDGET_SECONDS, available, measure as audit_seconds

    missing = available()
    if missing:
        rows.append(("consentlib audit, corpus of local sites", "not run", f"<= {BUDGET_SECONDS:g} s", missing))
    else:
        audit = audit_seconds()
        ok = audit["average"] <= BUDGET_SECONDS
        failed |= not ok
        slowest, spent = audit["slowest"]
        rows.append((f"consentlib audit, corpus of {len(audit['sites'])} local sites", f"{audit['average']:.1f} s",
                     f"<= {BUDGET_SECONDS:g} s", f"a site on average; slowest {slowest} {spent:.1f} s "
                     f"{'ok' if ok else 'OVER BUDGET'}"))
    (least, least_language), (most, most_language), layer = banner_bytes()
    failed |= most > FIRST_PAINT_BUDGET or layer > SECOND_LAYER_BUDGET
    rows.append(("banner first paint, largest language, gzip -9", f"{most} B", f"<= {FIRST_PAINT_BUDGET} B",
                 f"{most_language}; smallest {least} B ({least_language}) "
                 f"{'ok' if most <= FIRST_PAINT_BUDGET else 'OVER BUDGET'}"))
    rows.append(("banner second layer, gzip -9", f"{layer} B", f"<= {SECOND_LAYER_BUDGET} B",
                 "ok" if layer <= SECOND_LAYER_BUDGET else "OVER BUDGET"))
    # In a process of its own: here the earlier rows' garbage, freed meanwhile, would
    # make the process shrink while the caches grow.
    grown = int(subprocess.run(
        [sys.executable, "-c", "from bench.many_visitors import memory_growth; print(memory_growth())"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    failed |= grown >= 64 * 2**20
    rows.append(("memory after 1,000,000 distinct Cookie headers", f"{grown / 2**20:.1f} MB", "< 64 MB",
                 "ok" if grown < 64 * 2**20 else "OVER BUDGET"))
    # consentlib report on a million receipts (bench/report.py): seconds, not a ratio; its
    # store is filled in a process of its own (about two minutes), like the row above.
    report = subprocess.run([sys.executable, "-m", "bench.report"], cwd=ROOT, capture_output=True, text=True)
    took = next((float(line.split()[3]) for line in report.stdout.splitlines() if line.startswith("sqlite report cpu")),
                None)
    failed |= took is None or took >= 10
    rows.append(("consentlib report, 1,000,000 receipts, SQLite (CPU)", "failed" if took is None else f"{took:.1f} s",
                 "< 10 s", "ok" if took is not None and took < 10 else (report.stderr.strip()[-200:] or "OVER BUDGET")))
    width = max(len(r[0]) for r in rows)
    print(f"{'budget'.ljust(width)}  {'measured':>9}  {'limit':>10}  detail")
    for label, measured, limit, detail in rows:
        print(f"{label.ljust(width)}  {measured:>9}  {limit:>10}  {detail}")
    print()
    # Through a real server: each server process's CPU time per request (bench/e2e.py).
    e2e = importlib.import_module("bench.e2e")
    served = e2e.measure()
    failed |= any(row["ratio"] < row["budget"] for row in served)
    print(e2e.format_rows(served))
    print()
    peers = importlib.import_module("bench.peers")
    print(peers.format_table(peers.measure()))
    print()
    try:
        scale = importlib.import_module("bench.scale")
        print(scale.format_table(scale.table(scale.measure())))
    except ModuleNotFoundError as exc:
        print(f"absolute rates under gunicorn: not measured ({exc.name} missing)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
