"""The cost users see: each server process's CPU time per request, through a real server.

    python -m bench.e2e [--rounds 60] [--chunk 400] [--seconds 400]

In process (bench/asgi.py, bench/many_visitors.py) consentlib adds a few microseconds;
through a server the same code costs about twice that: the server's own work per
request (its parser, its event loop, its sockets) leaves the CPU's caches cold for the
gate's (copying a 4 MiB buffer between in-process requests does the same). So here the
same page is served by a real server on 127.0.0.1:

* uvicorn (httptools, one process) serving bare Starlette, the same app wrapped in
  ``consentlib.asgi.ConsentMiddleware``, the least possible gate, the least deciding
  gate and the least keeping gate (bench/floor.py);
* gunicorn (sync, one worker) serving bare Flask, the same app wrapped in
  ``consentlib.ConsentMiddleware``, and the same three stand-ins.

A keep-alive load client in a process of its own (raw sockets, one request in flight;
gunicorn's sync worker closes each connection, so there it connects per request) sends
two streams: many visitors (10,000 visitors, each with genuine consent cookies granting
analytics, GA4's ``_ga_<id>`` changing on every view, so no Cookie header twice; each
visitor is seen once before the measured turns) and one repeated visitor (the same
headers every time). The contenders take turns: in each round every server gets a chunk
of each stream, in rotating order, and the CPU time its processes spent (from
/proc/<pid>/schedstat, in nanoseconds, summed over threads and workers) is divided by
the requests it answered. Each figure is the median over the rounds of a round's
ratio, so the machine's noise hits the contenders of a round alike; CPU time, unlike
wall time, does not count the client. Each row also says in how many rounds consentlib,
and the least keeping gate, met the budget.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from operator import truediv
from pathlib import Path

from tests.support.loadkit import STORE_ENV, Gunicorn, Uvicorn, children, wait_until

KINDS = ("bare", "wrapped", "floor", "deciding", "keeping")
# (server, stream) -> the least ratio bare/wrapped (CPU per request) that passes.
BUDGETS = {("uvicorn", "many visitors"): 0.90, ("gunicorn", "many visitors"): 0.95,
           ("uvicorn", "repeated visitor"): 0.95, ("gunicorn", "repeated visitor"): 0.95}
STREAMS = ("many visitors", "repeated visitor")
VISITORS = 10_000
_SECRET = ["bench-key-" + "x" * 22]
_REQUEST_HEAD = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                 b"Accept: text/html\r\n")


# -- the apps the servers import ---------------------------------------------------------------


def _store() -> str:
    return os.environ[STORE_ENV]


def asgi_bare():
    from bench.asgi import page_app

    return page_app()


def asgi_wrapped():
    from bench.asgi import page_app
    from bench.middleware import POLICY
    from consentlib.asgi import ConsentMiddleware

    return ConsentMiddleware(page_app(), POLICY, secret_key=_SECRET, store=_store())


def asgi_floor():
    from bench.asgi import page_app
    from bench.floor import least_asgi_gate

    return least_asgi_gate(page_app())


def asgi_deciding():
    from bench.asgi import page_app
    from bench.floor import least_deciding_asgi_gate

    return least_deciding_asgi_gate(page_app(), _core())


def asgi_keeping():
    from bench.floor import least_keeping_asgi_gate

    wrapped = asgi_wrapped()
    return least_keeping_asgi_gate(wrapped.app, wrapped.core, wrapped)


def _core():
    """A consentlib core with the wrapped app's policy and keys, for the least deciding gate."""
    from bench.middleware import POLICY
    from consentlib import ConsentMiddleware

    return ConsentMiddleware(lambda environ, start_response: [], POLICY, secret_key=_SECRET, store=_store()).core


def wsgi_app(kind: str):
    """gunicorn's factory: ``bench.e2e:wsgi_app('wrapped')``."""
    from bench.floor import least_deciding_wsgi_gate, least_keeping_wsgi_gate, least_wsgi_gate
    from bench.middleware import POLICY, page_app
    from consentlib import ConsentMiddleware

    app = page_app().wsgi_app
    if kind == "wrapped":
        return ConsentMiddleware(app, POLICY, secret_key=_SECRET, store=_store())
    if kind == "deciding":
        return least_deciding_wsgi_gate(app, _core())
    if kind == "keeping":
        wrapped = ConsentMiddleware(app, POLICY, secret_key=_SECRET, store=_store())
        return least_keeping_wsgi_gate(app, wrapped.core, wrapped)
    return least_wsgi_gate(app) if kind == "floor" else app


# -- the servers -------------------------------------------------------------------------------


class _Ready:
    """Ready when the page answers (the bare apps have no consent endpoint to probe)."""

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if len(children(self.proc.pid)) < self.workers:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    return _exchange(sock, _REQUEST_HEAD + b"\r\n")[0] == 200
            except OSError:
                return False

        wait_until(ready, timeout=timeout, what=f"{self.name} on port {self.port}")


class _Uvicorn(_Ready, Uvicorn):
    pass


class _Gunicorn(_Ready, Gunicorn):
    def command(self) -> list[str]:
        return [*super().command()[:-1], "--worker-class", "sync", self.app]


def cpu_ns(pid: int) -> int:
    """CPU time of ``pid``, its threads and its children (gunicorn's worker), in ns."""
    total = 0
    for process in (pid, *children(pid)):
        for task in Path(f"/proc/{process}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue
    return total


# -- the load client, in a process of its own -------------------------------------------------------


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, bytes, bool]:
    """Send one request; read its answer to the end. (status, head, whether it closes)."""
    sock.sendall(request)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection before its answer ended")
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end < 0:
            continue
        head = data[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        length = int(head[at + 17:].partition(b"\r\n")[0]) if at >= 0 else 0
        if len(data) >= end + 4 + length:
            return int(data[9:12]), head, b"\r\nconnection: close" in head


def _client(pipe, streams: dict[str, list[bytes]]) -> None:
    """Serve the parent's orders: (port, stream, first index, count) -> (answered, last head)."""
    connections: dict[int, socket.socket] = {}

    def connection(port: int) -> socket.socket:
        sock = connections.get(port)
        if sock is None:
            sock = connections[port] = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    while True:
        order = pipe.recv()
        if order is None:
            return
        port, stream, first, count = order
        requests = streams[stream]
        head = b""
        try:
            for i in range(first, first + count):
                request = requests[i % len(requests)]
                try:
                    status, head, closes = _exchange(connection(port), request)
                except ConnectionError:
                    # A server closes a keep-alive connection left idle while the others
                    # had their turn (uvicorn after 5 s): a new one, the request again.
                    connections.pop(port).close()
                    status, head, closes = _exchange(connection(port), request)
                if status != 200:
                    raise AssertionError(f"{stream} request {i} to port {port} answered {status}")
                if closes:
                    connections.pop(port).close()
        except Exception as exc:  # told to the parent, which stops the servers
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            pipe.send((count, head))


def _streams(count: int, visitors: int) -> dict[str, list[bytes]]:
    from bench.many_visitors import _middleware, cookie_headers

    headers = cookie_headers(_middleware(), count, visitors=visitors)
    build = lambda cookie: _REQUEST_HEAD + b"Cookie: " + cookie.encode("latin-1") + b"\r\n\r\n"  # noqa: E731
    return {"many visitors": [build(h) for h in headers], "repeated visitor": [build(headers[0])]}


# -- the turns ----------------------------------------------------------------------------------


def _family(name: str, servers: dict[str, object], client: Callable, rounds: int, chunk: int,
            deadline: float, visitors: int) -> dict[str, dict[str, list[float]]]:
    """CPU ns per request of each kind in each round, per stream, for one server family."""
    ports = {kind: server.port for kind, server in servers.items()}
    pids = {kind: server.pid for kind, server in servers.items()}
    for kind in KINDS:  # each visitor's first view; checks that the gate really gates
        answered, head = client((ports[kind], "many visitors", 0, visitors))
        gates = kind in ("wrapped", "deciding", "keeping")
        if (b"_fbp=" in head) == gates:
            raise AssertionError(f"{name} {kind}: the marketing cookie _fbp was {'not ' * gates}dropped")
    spent: dict[str, dict[str, list[float]]] = {stream: {kind: [] for kind in KINDS} for stream in STREAMS}
    position = visitors
    for turn in range(rounds):
        order = KINDS[turn % len(KINDS):] + KINDS[:turn % len(KINDS)]
        for stream in STREAMS:
            for kind in order:
                before = cpu_ns(pids[kind])
                answered, _ = client((ports[kind], stream, position, chunk))
                spent[stream][kind].append((cpu_ns(pids[kind]) - before) / answered)
        position += chunk
        if time.monotonic() > deadline:
            break
    return spent


def measure(rounds: int = 60, chunk: int = 400, seconds: float = 400, visitors: int = VISITORS) -> list[dict]:
    """One row per (server, stream): CPU µs per request of each kind and the two ratios."""
    streams = _streams(visitors + rounds * chunk, visitors)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_client, args=(child, streams), daemon=True)
    process.start()

    def client(order: tuple) -> tuple:
        parent.send(order)
        while not parent.poll(1):
            if not process.is_alive():
                raise RuntimeError(f"the load client exited with {process.exitcode}")
        answer = parent.recv()
        if answer[0] == "error":
            raise AssertionError(answer[1])
        return answer

    deadline = time.monotonic() + seconds
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="consentlib-e2e-") as directory:
            for name, make in (
                ("uvicorn", lambda kind: _Uvicorn(Path(directory), f"sqlite:///{directory}/uvicorn.db",
                                                  app=f"bench.e2e:asgi_{kind}", http="httptools")),
                ("gunicorn", lambda kind: _Gunicorn(Path(directory), f"sqlite:///{directory}/gunicorn.db",
                                                    workers=1, app=f"bench.e2e:wsgi_app('{kind}')")),
            ):
                servers = {}
                try:
                    for kind in KINDS:
                        servers[kind] = make(kind).start()
                    family_deadline = time.monotonic() + (deadline - time.monotonic()) / (2 if name == "uvicorn" else 1)
                    spent = _family(name, servers, client, rounds, chunk, family_deadline, visitors)
                finally:
                    for server in servers.values():
                        server.stop()
                for stream, cpu in spent.items():
                    # The median of each round's ratio: the contenders of a round ran
                    # moments apart, so a busy minute of the machine hits a round's
                    # pair alike and one odd round does not decide the figure.
                    rows.append({"server": name, "stream": stream, "budget": BUDGETS[(name, stream)],
                                 **{kind: statistics.median(cpu[kind]) / 1000 for kind in KINDS},
                                 "ratio": statistics.median(map(truediv, cpu["bare"], cpu["wrapped"])),
                                 "bare/floor": statistics.median(map(truediv, cpu["bare"], cpu["floor"])),
                                 "bare/deciding": statistics.median(map(truediv, cpu["bare"], cpu["deciding"])),
                                 "bare/keeping": statistics.median(map(truediv, cpu["bare"], cpu["keeping"])),
                                 "rounds": len(cpu["bare"]),
                                 **{f"{kind} within": rounds_within(cpu["bare"], cpu[kind], BUDGETS[(name, stream)])
                                    for kind in ("wrapped", "keeping")}})
    finally:
        parent.send(None)
        process.join(10)
    return rows


def rounds_within(bare: list[float], other: list[float], budget: float) -> int:
    """How many rounds ``other`` met ``budget`` in (bare ÷ other, that round's CPU per
    request): a median near the limit is decided by the run, and this says how nearly."""
    return sum(b / o >= budget for b, o in zip(bare, other))


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'server, stream':<28} {'bare/wrapped':>12} {'budget':>7} {'bare/floor':>10} {'bare/deciding':>13} "
             f"{'bare/keeping':>12}  CPU µs per request (bare, wrapped, floor, least deciding, least keeping), medians; "
             "rounds within budget (wrapped, least keeping)"]
    for row in rows:
        verdict = "ok" if row["ratio"] >= row["budget"] else "OVER BUDGET"
        lines.append(f"{row['server'] + ', ' + row['stream']:<28} {row['ratio']:>12.3f} {'>= ' + str(row['budget']):>7} "
                     f"{row['bare/floor']:>10.3f} {row['bare/deciding']:>13.3f} {row['bare/keeping']:>12.3f}  "
                     f"{row['bare']:.1f}, {row['wrapped']:.1f}, {row['floor']:.1f}, {row['deciding']:.1f}, "
                     f"{row['keeping']:.1f} {verdict} ({row['rounds']} rounds; within budget: "
                     f"{row['wrapped within']} and {row['keeping within']})")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--chunk", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=400)
    parser.add_argument("--visitors", type=int, default=VISITORS)
    options = parser.parse_args()
    print(format_rows(measure(options.rounds, options.chunk, options.seconds, options.visitors)))
