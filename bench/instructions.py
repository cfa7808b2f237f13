"""What consentlib's µs are made of, counted instead of timed: instructions and cache misses.

    python -m bench.instructions [--door asgi]    (needs valgrind; about five minutes on two cores)
    python -m bench.instructions --profile consentlib "least keeping"    (where the misses differ)

A µs figure moves by one or two between runs on a shared machine, and by about one
with the order the contenders take turns in (the code the previous contender ran is
still in the CPU's caches): too much to tell a change of 1 µs, or why a gate costs
what it costs. Valgrind's cachegrind counts instead: every machine instruction a
contender executes, and the misses of a simulated first-level instruction cache (I1),
data cache (D1) and a 2 MiB last level (LL). Each contender serves the many-visitors
stream of bench/many_visitors.py (Flask, or Starlette with ``--door asgi``; 2,000 visitors, each seen once first)
in a process of its own, twice: N and 3N requests after the same warm-up, so that
imports and warm-up cancel out of the difference, which is divided by 2N. Run under
``setarch -R`` (no address randomisation), runs of the same code give the same counts to
the instruction; with randomisation they differed by about 3,000 instructions and 80 I1
misses per request. An edit still moves code and objects to other addresses: two edits
that only added a function never called counted about 500 to 700 instructions and 10 I1
misses fewer, so a change smaller than that is not told from where things landed. A
module loaded a second time (a patched copy) counted 5,000 and 150 more than the same
code loaded once: compare code loaded once.

For a study, not a budget: what it shows (see README) is whether consentlib's extra time
over the least possible gate (bench/floor.py) is more work, or the same work spread over
more code the instruction cache has to fetch in every request.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

VISITORS = 2_000
REQUESTS = 1_000  # the shorter run; the longer serves 3 times as many
CONTENDERS = ("bare", "least", "least deciding", "least keeping", "consentlib", "consentlib, visit free",
              "consentlib, visit and response gate free")
EVENTS = {"instructions": "I   refs", "I1 misses": "I1  misses", "D1 misses": "D1  misses", "LL misses": "LL misses"}


def _app(contender: str, door: str):
    """The callable of ``contender`` on ``door`` ("wsgi": Flask; "asgi": Starlette, called
    as bench/asgi.py calls it) and a stream of many visitors' requests."""
    from werkzeug.test import EnvironBuilder

    from bench import asgi
    from bench.common import CookieStream
    from bench.floor import (least_asgi_gate, least_deciding_asgi_gate, least_deciding_wsgi_gate,
                             least_keeping_asgi_gate, least_keeping_wsgi_gate, least_wsgi_gate)
    from bench.many_visitors import _middleware, cookie_headers
    from bench.middleware import page_app
    from bench.stages import _free_gate, _free_visit

    flask = _middleware()
    headers = cookie_headers(flask, VISITORS * 5, visitors=VISITORS)
    if door == "asgi":
        page, least, deciding, keeping, wrapped = (asgi.page_app, least_asgi_gate, least_deciding_asgi_gate,
                                                   least_keeping_asgi_gate, asgi.wrapped_app())
    else:
        page, least, deciding, keeping, wrapped = ((lambda: page_app().wsgi_app), least_wsgi_gate,
                                                   least_deciding_wsgi_gate, least_keeping_wsgi_gate, flask)
    app = {
        "bare": page,
        "least": lambda: least(page()),
        "least deciding": lambda: deciding(page(), wrapped.core),
        "least keeping": lambda: keeping(wrapped.app, wrapped.core, wrapped),
        "consentlib": lambda: wrapped,
        "consentlib, visit free": lambda: _free_visit(wrapped),
        "consentlib, visit and response gate free": lambda: _free_gate(_free_visit(wrapped)),
    }[contender]()
    if door == "asgi":
        return asgi.called(app), asgi.ScopeStream(headers)
    base = EnvironBuilder(path="/", headers={"User-Agent": "Mozilla/5.0"}).get_environ()
    return app, CookieStream(base, headers)


def _serve(contender: str, door: str, requests: int) -> None:
    """The child's work: each visitor's first view, a warm-up, then ``requests`` requests."""
    app, stream = _app(contender, door)
    for _ in range(VISITORS + 200 + requests):
        for _block in app(stream(), lambda *args: None):
            pass


def _counted(contender: str, door: str, requests: int, out: str = "/dev/null") -> dict[str, int]:
    """The whole child process's counts under cachegrind (per function in ``out``)."""
    # Without address randomisation (setarch -R, from util-linux) a run repeats its counts
    # exactly: objects land at the same addresses, so they share the same cache sets.
    command = [*(["setarch", "-R"] if shutil.which("setarch") else []),
               "valgrind", "--tool=cachegrind", "--cache-sim=yes", "--LL=2097152,16,64",
               f"--cachegrind-out-file={out}", sys.executable, "-m", "bench.instructions",
               "--child", contender, door, str(requests)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
                          check=True)
    counts = {}
    for event, label in EVENTS.items():
        found = re.search(re.escape(label) + r":\s+([\d,]+)", done.stderr)
        if found is None:
            raise RuntimeError(f"cachegrind printed no {label!r} for {contender}:\n{done.stderr[-2000:]}")
        counts[event] = int(found.group(1).replace(",", ""))
    return counts


def measure(door: str = "wsgi", workers: int = 2) -> dict[str, dict[str, float]]:
    """Per request, each contender's counts on ``door`` (two cachegrind runs each,
    ``workers`` at a time)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions needs valgrind (Debian: apt-get install valgrind)")
    runs = [(contender, requests) for contender in CONTENDERS for requests in (REQUESTS, 3 * REQUESTS)]
    with ThreadPoolExecutor(workers) as pool:
        counted = dict(zip(runs, pool.map(lambda run: _counted(run[0], door, run[1]), runs)))
    return {contender: {event: (counted[contender, 3 * REQUESTS][event] - counted[contender, REQUESTS][event])
                        / (2 * REQUESTS) for event in EVENTS} for contender in CONTENDERS}


def profile(contender: str, against: str, door: str = "wsgi", top: int = 20) -> list[tuple[str, float, float]]:
    """Per request, where ``contender`` misses the instruction cache more than ``against``:
    the ``top`` functions by I1 misses more, each with its instructions more (negative:
    fewer). A function of the app's own shows up too when the contender's code evicts it."""
    if shutil.which("valgrind") is None or shutil.which("cg_diff") is None:
        raise SystemExit("bench.instructions needs valgrind (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="consentlib-cachegrind-") as folder:
        runs = [(name, requests) for name in (contender, against) for requests in (REQUESTS, 3 * REQUESTS)]
        paths = {run: os.path.join(folder, f"{index}.out") for index, run in enumerate(runs)}
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda run: _counted(run[0], door, run[1], paths[run]), runs))
        ours, theirs = (_per_function(paths[name, REQUESTS], paths[name, 3 * REQUESTS]) for name in (contender, against))
    rows = [(function, ours.get(function, (0, 0))[1] - theirs.get(function, (0, 0))[1],
             ours.get(function, (0, 0))[0] - theirs.get(function, (0, 0))[0]) for function in ours.keys() | theirs.keys()]
    return sorted(rows, key=lambda row: -row[1])[:top]


def _per_function(short: str, long: str) -> dict[str, tuple[float, float]]:
    """(instructions, I1 misses) per request of each function, from two runs' outputs."""
    return _functions(subprocess.run(["cg_diff", short, long], capture_output=True, text=True, check=True).stdout)


def _functions(text: str) -> dict[str, tuple[float, float]]:
    """(instructions, I1 misses) per request of each function in ``cg_diff``'s output of
    a short and a long run (2N requests apart)."""
    events: list[str] = []
    totals: dict[str, list[int]] = {}
    where = function = ""
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("fl="):
            where = os.path.basename(line[3:].strip())
        elif line.startswith("fn="):
            function = f"{where}:{line[3:].strip()}"
        elif line[:1].isdigit() or line[:1] == "-":
            counts = [int(value) for value in line.split()[1:]]
            total = totals.setdefault(function, [0, 0])
            total[0] += counts[events.index("Ir")]
            total[1] += counts[events.index("I1mr")]
    return {function: (ir / (2 * REQUESTS), i1 / (2 * REQUESTS)) for function, (ir, i1) in totals.items()}


def format_counts(figures: dict[str, dict[str, float]], door: str = "wsgi") -> str:
    bare, least = figures["bare"], figures["least"]
    lines = [f"per request, {door.upper()} many visitors ({VISITORS:,} visitors): added to bare, "
             "and ÷ the least gate's added"]
    for contender, counts in figures.items():
        cells = []
        for event in EVENTS:
            added = counts[event] - bare[event]
            least_added = least[event] - bare[event]
            ratio = f" ({added / least_added:.2f}×)" if contender != "bare" and least_added > 0 else ""
            cells.append(f"{event} {counts[event]:,.0f}" if contender == "bare" else f"{event} {added:+,.0f}{ratio}")
        lines.append(f"  {contender}: " + ", ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--door", choices=("wsgi", "asgi"), default="wsgi",
                        help="Flask through the WSGI door (the default) or Starlette through the ASGI door")
    parser.add_argument("--profile", nargs=2, metavar=("CONTENDER", "AGAINST"),
                        help="the functions where CONTENDER misses the instruction cache more than AGAINST "
                             f"(each one of: {', '.join(CONTENDERS)})")
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "DOOR", "REQUESTS"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _serve(options.child[0], options.child[1], int(options.child[2]))
    elif options.profile:
        contender, against = options.profile
        print(f"per request, {options.door.upper()} many visitors: {contender} against {against}, "
              "the functions it misses I1 in more")
        for function, misses, instructions in profile(contender, against, options.door):
            print(f"  {misses:+8.1f} I1 misses {instructions:+10,.0f} instructions  {function}")
    else:
        print(format_counts(measure(options.door), options.door))
