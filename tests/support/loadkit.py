"""Real processes for the load and fault tests (tests/load/test_load.py) and bench/scale.py:
the reference site under gunicorn (and test sites under gunicorn or uvicorn), a throwaway PostgreSQL server, and a bounded
loopback client.

Everything here binds 127.0.0.1 only, is stopped by its own pid (the whole process
group when a graceful stop does not finish), and waits by polling with a deadline,
never by a fixed sleep.
"""
from __future__ import annotations

import http.client
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_ENV = "CONSENTLIB_LOAD_INSTANCE"
STORE_ENV = "CONSENTLIB_LOAD_STORE"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def site_from_env():
    """The gunicorn app factory: ``tests.support.loadkit:site_from_env()``, built in each worker
    (no --preload) from the instance folder and store URL the test put in the environ."""
    from examples.flask_site import create_app

    return create_app(os.environ[INSTANCE_ENV], store=os.environ[STORE_ENV])


def write_secret_key(instance: Path) -> str:
    """Write the site's key file before it starts (the site would generate one), so a
    MailTracker in the test signs with the key the workers verify."""
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path = instance / "secret_keys"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def children(pid: int) -> list[int]:
    """Live child pids of ``pid`` (from /proc: gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


# -- sites under gunicorn and uvicorn -----------------------------------------------------------


class ServerProcess:
    """A server process on 127.0.0.1:<free port> serving an app that ``command`` names.

    The server runs in its own process group (its workers with it), so a failed test
    can take every process down at once with ``killpg``; a graceful :meth:`stop` is
    SIGTERM to the server, whose workers then exit normally and run their exit handlers.
    """

    name = "server"

    def __init__(self, instance: Path, store: str, *, workers: int, app: str, port: int | None = None) -> None:
        self.app = app
        self.instance = Path(instance)
        self.store = store
        self.workers = workers
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.instance / f"{self.name}-{self.port}.log"
        self.returncode: int | None = None
        self._gone = False

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60) -> ServerProcess:
        env = {**os.environ, INSTANCE_ENV: str(self.instance), STORE_ENV: self.store,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        """Every worker booted and the site answering, or a TimeoutError with the log."""
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if len(children(self.proc.pid)) < self.workers:
                return False
            try:
                status, _, _ = request(self.base, "GET", "/.well-known/gpc.json", timeout=5)
            except OSError:
                return False
            return status == 200

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} on port {self.port}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM to the master, then wait for it (it waits for its workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return self._reap()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"{self.name} (pid {self.proc.pid}) did not stop within {timeout} s on SIGTERM")
        # The workers are the master's children: it reaps them before it exits, but make
        # sure none lingers in the group.
        wait_until(lambda: not self._group_alive(), timeout=10, what=f"{self.name}'s workers to exit")
        self._gone = True
        return self._reap()

    def kill(self) -> None:
        """SIGKILL to the master and every worker (the whole process group); nothing once
        a stop has seen them all exit (the group id could be another's by then)."""
        if self.proc is None or self._gone:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            wait_until(lambda: not self._group_alive(), timeout=10, what="the killed process group to go")
            self._gone = True
        except TimeoutError:
            pass
        self._reap()

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _reap(self) -> int:
        self.returncode = self.proc.poll() if self.proc is not None else None
        return self.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self.kill()
        elif self.proc is not None and self.proc.poll() is None:
            self.stop()


class Gunicorn(ServerProcess):
    """``gunicorn -w N`` serving the reference site (or the factory ``app`` names); with
    ``threads`` > 1, threaded workers (a browser's idle keep-alive connection then holds
    one thread, not the whole worker). On SIGTERM the workers exit normally (the
    mail-open buffer writes what it holds)."""

    name = "gunicorn"

    def __init__(self, instance: Path, store: str, *, workers: int = 4, port: int | None = None,
                 app: str = "tests.support.loadkit:site_from_env()", threads: int = 1) -> None:
        super().__init__(instance, store, workers=workers, app=app, port=port)
        self.threads = threads

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", str(self.threads),
                "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "30", "--timeout", "60",
                "--backlog", "1024", "--log-level", "warning", self.app]


class Uvicorn(ServerProcess):
    """uvicorn (one process, no workers) serving the ASGI app the factory ``app``
    (``module:function``) builds, with the HTTP/1.1 parser ``http`` ("h11" or "httptools")."""

    name = "uvicorn"

    def __init__(self, instance: Path, store: str, *, app: str, http: str = "h11", port: int | None = None) -> None:
        super().__init__(instance, store, workers=0, app=app, port=port)
        self.http = http

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", self.app, "--host", "127.0.0.1",
                "--port", str(self.port), "--http", self.http, "--lifespan", "off", "--no-access-log",
                "--log-level", "warning", "--timeout-graceful-shutdown", "10"]


# -- a bounded loopback client ------------------------------------------------------------


def request(base: str, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()


@dataclass(frozen=True)
class Call:
    """One planned request; ``kind`` says what the test counts it as."""

    kind: str
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    tag: object = None  # whatever the test needs to judge it (a recipient, a choice)


@dataclass
class Outcome:
    status: int  # 0: no answer (connection refused or reset, timeout)
    set_cookies: list[str]
    error: str | None = None
    elapsed: float = 0.0


class Driver:
    """Runs planned calls over loopback from ``concurrency`` threads, each with its own
    keep-alive ``http.client`` connection (re-opened when the server closes it, as
    gunicorn's sync workers do after every answer). Bounded: at most ``concurrency``
    requests in flight, none started after ``stop`` is set or ``deadline`` passes."""

    def __init__(self, base: str, *, concurrency: int = 16, timeout: float = 30) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.concurrency = concurrency
        self.timeout = timeout
        self.stop = threading.Event()
        self.on_outcome: Callable[[Call, Outcome], None] | None = None

    def run(self, calls: Sequence[Call], *, deadline: float | None = None) -> list[Outcome | None]:
        """An outcome per call (None: never sent), and the wall time it took in ``elapsed``."""
        outcomes: list[Outcome | None] = [None] * len(calls)
        counter = itertools.count()  # next() on it is atomic under the GIL
        failures: list[BaseException] = []

        def worker() -> None:
            conn = None
            try:
                while not self.stop.is_set():
                    index = next(counter)
                    if index >= len(calls) or (deadline is not None and time.monotonic() > deadline):
                        return
                    call = calls[index]
                    if conn is None:
                        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                    started = time.perf_counter()
                    try:
                        conn.request(call.method, call.path, body=call.body, headers=call.headers)
                        response = conn.getresponse()
                        response.read()
                        outcome = Outcome(response.status, response.msg.get_all("Set-Cookie") or [])
                        if response.will_close:
                            conn.close()
                            conn = None
                    except (OSError, http.client.HTTPException) as exc:
                        outcome = Outcome(0, [], error=f"{type(exc).__name__}: {exc}")
                        conn.close()
                        conn = None
                    outcome.elapsed = time.perf_counter() - started
                    outcomes[index] = outcome
                    if self.on_outcome is not None:
                        self.on_outcome(call, outcome)
            except BaseException as exc:  # report it; never leave the caller waiting
                failures.append(exc)
                self.stop.set()
            finally:
                if conn is not None:
                    conn.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, name=f"load-client-{i}", daemon=True)
                   for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.elapsed = time.perf_counter() - started
        if failures:
            raise failures[0]
        return outcomes


def cookie_names(set_cookies: Sequence[str]) -> set[str]:
    """Names of the cookies a response sets (not those it expires with Max-Age=0)."""
    names = set()
    for header in set_cookies:
        name = header.split("=", 1)[0].strip()
        if "max-age=0" not in header.lower().replace(" ", ""):
            names.add(name)
    return names


def cookie_value(set_cookies: Sequence[str], name: str) -> str | None:
    for header in set_cookies:
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None


def consent_cookies(set_cookies: Sequence[str]) -> str:
    """The consent cookies a response set (``consent=...; consent_id=...``), as a browser sends them back."""
    return "; ".join(f"{name}={value}" for name in ("consent", "consent_id")
                     if (value := cookie_value(set_cookies, name)) is not None)


# -- a throwaway PostgreSQL server --------------------------------------------------------


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (newest version), which are not on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class ThrowawayPostgres:
    """A PostgreSQL server of its own on 127.0.0.1:<free port>, started and stopped by
    pid, its files deleted at the end. As ``./dev`` does it: run as the postgres system
    user when we are root (initdb refuses root), data in a 0700 folder in /tmp,
    password auth on TCP, fsync off (the data dies with the test)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="consentlib-loadpg."))
        self.data = self.dir / "data"
        self.pid: int | None = None
        self.url = f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def init(self) -> ThrowawayPostgres:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
        self.dir.chmod(0o700)
        self._run(str(self.bin / "initdb"), f"--pgdata={self.data}", "--username=postgres", f"--pwfile={pwfile}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-instructions")
        pwfile.unlink()
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "start", "--wait", f"--pgdata={self.data}",
                  f"--log={self.dir / 'server.log'}", "-o",
                  f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                  "-c fsync=off -c max_connections=100")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT to the postmaster: sessions are cut), then wait for it."""
        if self.pid is None or not pid_alive(self.pid):
            self.pid = None
            return
        os.kill(self.pid, signal.SIGINT)
        try:
            wait_until(lambda: not pid_alive(self.pid), timeout=timeout, what="PostgreSQL to stop")
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(self.pid), timeout=10, what="PostgreSQL to die")
        self.pid = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        try:
            self.init().start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()
