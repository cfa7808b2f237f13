"""Many processes and faults: the reference site under gunicorn, driven over loopback.

- 20,000 mixed requests against 4 workers, on SQLite and on PostgreSQL: no 5xx, and the
  store holds exactly the receipts, opens and unsubscribes that were answered as done.
- ``kill -9`` of the master and every worker in the middle of a burst of one-click
  unsubscribes: every unsubscribe answered 200 is in the store after a restart. And
  SIGTERM in the middle of pixel opens: every open answered is written as workers exit.
- PostgreSQL stopped under a running site (and a site started while it is down): pages
  serve with the visitor's signed choice; recording answers 503 and saves nothing.

Real processes on 127.0.0.1 only; each stopped by its pid in a ``finally``.
"""
from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from consentlib import MailTracker
from consentlib.consent import ConsentCookie
from consentlib.store import open_store
from tests.support.loadkit import (
    BROWSER,
    Call,
    Driver,
    Gunicorn,
    ThrowawayPostgres,
    cookie_names,
    consent_cookies,
    cookie_value,
    postgres_bin,
    request,
    write_secret_key,
)
from tests.support.prerequisites import needs_missing
from tests.support.prerequisites import postgres_url as required_postgres_url

pytestmark = pytest.mark.load

REQUESTS = 20_000  # the mixed load, plus a few seeding posts before it
CONCURRENCY = 16
LOAD_SECONDS = 110  # a bound, not a target: a run that needs longer fails
LIST_ID = "news"
CAMPAIGN = "load"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"
# What the reference site sets on every page, by the category that lets each one out.
PAGE_COOKIES = {"necessary": "sid", "preferences": "theme", "analytics": "_ga", "marketing": "_fbp"}
SEED_CHOICES = [(), ("analytics",), ("preferences", "analytics"), ("marketing",),
                ("preferences", "analytics", "marketing")]


# -- fixtures ---------------------------------------------------------------------------------


def postgres_url() -> str:
    return required_postgres_url("the load test on PostgreSQL")


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """Empty storage for one site: a SQLite file in the instance folder, or a new database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'consent.db'}"
        return
    base = postgres_url()
    name = f"load_{uuid.uuid4().hex[:12]}"
    with _admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with _admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _site(tmp_path: Path, store: str, workers: int = 4) -> tuple[Gunicorn, MailTracker, str]:
    instance = tmp_path / "instance"
    key = write_secret_key(instance)
    server = Gunicorn(instance, store, workers=workers)
    tracker = MailTracker(base_url=server.base, secret_key=[key], store=store)
    return server, tracker, key


def _recipients(tracker: MailTracker, prefix: str, count: int, *, tracked: bool) -> dict[str, str]:
    """``count`` subscribers, each with the path of the URL the test will hit: the open
    pixel (tracked, as they allowed) or the one-click unsubscribe."""
    kind, route = ("open", "o") if tracked else ("unsubscribe", "u")
    paths = {}
    for i in range(count):
        address = f"{prefix}{i}@example.com"
        if tracked:
            tracker.set_tracking(address, list_id=LIST_ID, allowed=True, source="load test")
        number, _, _ = tracker.store.mail_recipient(address, list_id=LIST_ID)
        token = tracker.tokens.dumps(kind, [number, CAMPAIGN, LIST_ID])
        paths[address] = urlsplit(tracker.url(route, token + (".gif" if tracked else ""))).path
    return paths


def _count_opens(store: str) -> Counter:
    sql = "SELECT kind, COUNT(*) FROM mail_events WHERE event = 'open' AND campaign = 'load' GROUP BY kind"
    if store.startswith("sqlite:///"):
        with sqlite3.connect(store[len("sqlite:///"):]) as conn:
            return Counter(dict(conn.execute(sql).fetchall()))
    with _admin(store) as conn:
        return Counter(dict(conn.execute(sql).fetchall()))


def _hits(instance: Path) -> dict[str, int]:
    with sqlite3.connect(instance / "site.db") as conn:
        return dict(conn.execute("SELECT name, count FROM hits").fetchall())


def _expected_page_cookies(granted) -> set[str]:
    return {PAGE_COOKIES[c] for c in granted}


# -- 1. many processes, mixed load --------------------------------------------------------------


def _seed(server: Gunicorn, cookie: ConsentCookie) -> list[tuple[str, frozenset[str], str]]:
    """Visitors who chose before the load: (their consent cookies, granted, consent id)."""
    seeds = []
    for i in range(40):
        chosen = SEED_CHOICES[i % len(SEED_CHOICES)]
        status, headers, _ = request(server.base, "POST", "/_consent/", body=json.dumps({"categories": chosen}).encode(),
                                     headers={"Content-Type": "application/json"})
        assert status == 200
        set_cookies = headers.get_all("Set-Cookie")
        payload = cookie.verify(cookie_value(set_cookies, "consent"))
        consent_id = cookie.verify_id(cookie_value(set_cookies, "consent_id")).consent_id
        seeds.append((consent_cookies(set_cookies), payload.categories, consent_id))
    return seeds


def _plan(rng: random.Random, seeds, opens: dict[str, str], unsubscribes: dict[str, str]) -> list[Call]:
    """REQUESTS calls, shuffled: page views with and without a consent cookie, consent
    posts (JSON and form, new visitors and returning ones), /collect and ad-pixel beacons
    with and without their category, mail opens (a person's and Gmail's proxy), and one
    one-click unsubscribe per recipient."""
    def visitor():
        return rng.choice(seeds)

    def browser(extra=None, cookie=None):
        headers = {"User-Agent": BROWSER, **(extra or {})}
        if cookie:
            headers["Cookie"] = f"{cookie}; _ga=GA1.1.1; _fbp=fb.1.1; theme=dark"
        return headers

    calls: list[Call] = []
    for i in range(4000):
        path = ("/", "/", "/", "/privacy", "/privacy/cookies", "/newsletter")[i % 6]
        calls.append(Call("page", "GET", path, browser(), tag=frozenset({"necessary"})))
    for _ in range(4000):
        value, granted, _ = visitor()
        calls.append(Call("page", "GET", rng.choice(("/", "/privacy")), browser(cookie=value), tag=granted))
    for i in range(2000):
        chosen = list(rng.choice(SEED_CHOICES))
        body = json.dumps({"categories": chosen, "method": "banner"}).encode()
        known = visitor() if i % 2 else None
        calls.append(Call("consent_json", "POST", "/_consent/",
                          browser({"Content-Type": "application/json"}, known and known[0]), body,
                          tag=known and known[2]))
    for i in range(2000):
        action = ("accept_all", "reject_all", "save")[i % 3]
        form = f"action={action}&next=%2Fprivacy" + ("&category=analytics&category=preferences" if action == "save" else "")
        known = visitor() if i % 2 else None
        calls.append(Call("consent_form", "POST", "/_consent/", browser({"Content-Type": FORM}, known and known[0]),
                          form.encode(), tag=known and known[2]))
    for i in range(2000):
        value, granted, _ = visitor() if i % 2 else (None, frozenset(), None)
        calls.append(Call("collect", "POST", "/collect", browser({"Content-Type": "text/plain"}, value), b"{}",
                          tag="analytics" in granted))
    for i in range(1000):
        value, granted, _ = visitor() if i % 2 else (None, frozenset(), None)
        calls.append(Call("ad_pixel", "GET", "/ads/pixel.gif", browser(cookie=value), tag="marketing" in granted))
    open_paths = list(opens.values())
    for i in range(REQUESTS - len(calls) - len(unsubscribes)):
        agent = GMAIL_PROXY if i % 4 == 0 else BROWSER
        calls.append(Call("open", "GET", rng.choice(open_paths), {"User-Agent": agent},
                          tag="machine" if agent == GMAIL_PROXY else "human"))
    for address, path in unsubscribes.items():
        calls.append(Call("unsubscribe", "POST", path, {"Content-Type": FORM}, ONE_CLICK, tag=address))
    rng.shuffle(calls)
    assert len(calls) == REQUESTS
    return calls


EXPECTED_STATUS = {"page": 200, "consent_json": 200, "consent_form": 303, "collect": 204, "ad_pixel": 200,
                   "open": 200, "unsubscribe": 200}


def test_mixed_load_under_four_gunicorn_workers_loses_nothing(tmp_path, store_url):
    server, tracker, key = _site(tmp_path, store_url)
    cookie = ConsentCookie([key])
    opens = _recipients(tracker, "reader", 100, tracked=True)
    unsubscribes = _recipients(tracker, "leaver", 800, tracked=False)
    tracker.store.close()
    server.start()
    try:
        seeds = _seed(server, cookie)
        calls = _plan(random.Random(7), seeds, opens, unsubscribes)
        driver = Driver(server.base, concurrency=CONCURRENCY)
        outcomes = driver.run(calls, deadline=time.monotonic() + LOAD_SECONDS)
        # Graceful: SIGTERM, and the workers write the opens they still buffer as they exit.
        assert server.stop() == 0, server.log_tail()
    finally:
        server.kill()  # no-op when it stopped
    print(f"\n{store_url.split(':')[0]}: {REQUESTS} requests in {driver.elapsed:.1f} s "
          f"= {REQUESTS / driver.elapsed:.0f} req/s with {CONCURRENCY} client threads")

    unanswered = sum(o is None for o in outcomes)
    assert unanswered == 0, f"{unanswered} of {REQUESTS} requests not sent within {LOAD_SECONDS} s"
    statuses = Counter((call.kind, outcome.status) for call, outcome in zip(calls, outcomes))
    server_errors = {k: n for k, n in statuses.items() if k[1] >= 500 or k[1] == 0}
    assert not server_errors, (server_errors, [o.error for o in outcomes if o.error][:5], server.log_tail())
    wrong = {k: n for k, n in statuses.items() if EXPECTED_STATUS[k[0]] != k[1]}
    assert not wrong, wrong
    assert "Traceback" not in server.log_text(), server.log_tail()

    # What the client saw succeed, by kind.
    ok = [(call, o) for call, o in zip(calls, outcomes) if o.status == EXPECTED_STATUS[call.kind]]
    receipts_seen = Counter(consent_id for _, _, consent_id in seeds)
    opens_seen: Counter = Counter()
    unsubscribed_seen: set[str] = set()
    beacons_seen: Counter = Counter()
    for call, outcome in ok:
        if call.kind == "page":
            # The signed choice decides what leaves, in every worker, under load.
            assert cookie_names(outcome.set_cookies) - {"consent", "consent_id"} == _expected_page_cookies(call.tag), call
        elif call.kind in ("consent_json", "consent_form"):
            consent_id = cookie.verify_id(cookie_value(outcome.set_cookies, "consent_id")).consent_id
            assert call.tag in (None, consent_id)  # a returning visitor keeps their id
            receipts_seen[consent_id] += 1
        elif call.kind == "open":
            opens_seen[call.tag] += 1
        elif call.kind == "unsubscribe":
            unsubscribed_seen.add(call.tag)
        elif call.tag:
            beacons_seen["analytics" if call.kind == "collect" else "marketing"] += 1

    store = open_store(store_url)
    try:
        receipts = store.receipts()
        assert Counter(r["consent_id"] for r in receipts) == receipts_seen
        # Each returning visitor's receipts form one chain (the store serialised them).
        by_id: dict[str, list] = {}
        for r in receipts:
            by_id.setdefault(r["consent_id"], []).append(r)
        for chain in by_id.values():
            assert [r["replaces"] for r in chain] == [None] + [r["record_id"] for r in chain[:-1]]
        assert _count_opens(store_url) == opens_seen
        suppressed = {row["recipient"] for row in store.mail_permissions() if row["type"] == "unsubscribe"}
        assert suppressed == unsubscribed_seen
        stats = tracker.stats(CAMPAIGN)
        assert (stats.unsubscribes, stats.machine_opens) == (len(unsubscribes), opens_seen["machine"])
    finally:
        store.close()
    assert _hits(server.instance) == dict(beacons_seen)


# -- 2. kill -9 in the middle of one-click unsubscribes ----------------------------------------


def _interrupt_burst(server: Gunicorn, calls: list[Call], after: int, interrupt) -> list:
    """Fire ``calls`` at the running server; once ``after`` were answered 200, call
    ``interrupt()`` while the client keeps firing. The outcomes (None: never sent)."""
    answered = 0
    lock = threading.Lock()
    now = threading.Event()

    def seen(call: Call, outcome) -> None:
        nonlocal answered
        if outcome.status == 200:
            with lock:
                answered += 1
                if answered == after:
                    now.set()

    driver = Driver(server.base, concurrency=CONCURRENCY, timeout=20)
    driver.on_outcome = seen
    result: list = []
    runner = threading.Thread(target=lambda: result.extend(driver.run(calls)), daemon=True)
    runner.start()
    try:
        assert now.wait(timeout=60), f"only {answered} answered in 60 s"
        interrupt()
    finally:
        runner.join(timeout=60)
        driver.stop.set()
    assert not runner.is_alive()
    statuses = Counter(o.status for o in result if o is not None)
    assert set(statuses) <= {200, 0}, statuses  # answered, or cut off by the interruption
    assert statuses[0] > 0, "the interruption came after the burst, not in the middle of it"
    return result


def test_kill_9_mid_unsubscribe_burst_keeps_every_answered_unsubscribe(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'instance' / 'consent.db'}"
    server, tracker, _ = _site(tmp_path, store_url)
    paths = _recipients(tracker, "leaver", 1000, tracked=False)
    tracker.store.close()
    calls = [Call("unsubscribe", "POST", path, {"Content-Type": FORM}, ONE_CLICK, tag=address)
             for address, path in paths.items()]
    server.start()
    try:
        victims = [server.pid, *server.worker_pids()]
        # SIGKILL to the master and all its workers at once: no exit handler runs.
        outcomes = _interrupt_burst(server, calls, 250, server.kill)
    finally:
        server.kill()
    assert len(victims) == 5
    answered = {call.tag for call, o in zip(calls, outcomes) if o is not None and o.status == 200}

    # Restart on the same files: SQLite recovers its WAL; every answered unsubscribe held.
    restarted = Gunicorn(server.instance, store_url, workers=4)
    with restarted:
        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        store = open_store(store_url)
        try:
            missing = [a for a in answered if not store.mail_suppressed(a, list_id=LIST_ID)]
            assert not missing, f"{len(missing)} of {len(answered)} answered unsubscribes lost: {missing[:5]}"
            # The rest go through now; repeats of the answered ones count once (idempotent).
            retry = Driver(restarted.base, concurrency=CONCURRENCY).run(calls)
            assert Counter(o.status for o in retry) == {200: len(calls)}
            assert all(store.mail_suppressed(a, list_id=LIST_ID) for a in paths)
            unsubscribes = [row for row in store.mail_permissions() if row["type"] == "unsubscribe"]
            assert len(unsubscribes) == len(paths)
        finally:
            store.close()
    print(f"\nkill -9 after {len(answered)} answered unsubscribes: none lost")


def test_sigterm_mid_burst_of_opens_keeps_every_answered_open(tmp_path, store_url):
    """A graceful stop (a deploy) in the middle of pixel traffic: the workers finish what
    they answer and write their buffered opens as they exit."""
    server, tracker, _ = _site(tmp_path, store_url)
    paths = list(_recipients(tracker, "reader", 50, tracked=True).values())
    tracker.store.close()
    calls = [Call("open", "GET", path, {"User-Agent": BROWSER}) for path in paths] * 100
    server.start()
    try:
        outcomes = _interrupt_burst(server, calls, 1500, lambda: server.stop())
    finally:
        server.kill()
    assert server.returncode == 0, server.log_tail()
    answered = sum(o is not None and o.status == 200 for o in outcomes)
    assert _count_opens(store_url) == {"human": answered}


# -- 3. the store unreachable ---------------------------------------------------------------------


@pytest.fixture
def throwaway_postgres():
    if postgres_bin() is None:
        needs_missing("PostgreSQL's binaries are not installed (apt-get install postgresql), "
                      "so the outage test does not run.")
    with ThrowawayPostgres() as server:
        yield server


def _post_choice(base: str, *, cookie: str | None = None, form: bool = False):
    headers = {"User-Agent": BROWSER}
    if cookie:
        headers["Cookie"] = f"{cookie}; _ga=GA1.1.1"
    if form:
        headers["Content-Type"] = FORM
        body = b"action=reject_all&next=%2F"
    else:
        headers["Content-Type"] = "application/json"
        body = json.dumps({"categories": ["analytics"]}).encode()
    status, response_headers, data = request(base, "POST", "/_consent/", body=body, headers=headers)
    return status, response_headers.get_all("Set-Cookie") or [], data


def _assert_pages_honour(base: str, cookie: str) -> None:
    """Pages answer at once, and what leaves is what the signed cookie says."""
    started = time.monotonic()
    for _ in range(8):  # enough to reach every worker more than once
        status, headers, _ = request(base, "GET", "/", headers={"User-Agent": BROWSER,
                                                                "Cookie": f"{cookie}; _ga=GA1.1.1"})
        assert status == 200
        assert cookie_names(headers.get_all("Set-Cookie") or []) == {"sid", "_ga"}
        status, headers, _ = request(base, "GET", "/", headers={"User-Agent": BROWSER})
        assert status == 200
        assert cookie_names(headers.get_all("Set-Cookie") or []) == {"sid"}
        status, _, _ = request(base, "POST", "/collect", body=b"{}",
                               headers={"Content-Type": "text/plain", "Cookie": cookie})
        assert status == 204
    assert time.monotonic() - started < 20, "pages waited on the unreachable store"


def _assert_recording_refused(base: str, cookie: str, unsubscribe_path: str) -> None:
    for _ in range(6):
        for kwargs in ({}, {"cookie": cookie}, {"cookie": cookie, "form": True}):
            status, set_cookies, data = _post_choice(base, **kwargs)
            assert status == 503, (kwargs, status, data)
            message = json.loads(data)["error"]
            assert "unavailable" in message and "nothing was read or recorded" in message
            # No consent cookie, and no withdrawal expiring the cookies the visitor allowed.
            assert set_cookies == [], set_cookies
        status, _, data = request(base, "POST", unsubscribe_path, body=ONE_CLICK, headers={"Content-Type": FORM})
        assert status == 503, data


def test_store_unreachable_pages_serve_and_recording_answers_503(tmp_path, throwaway_postgres):
    pg = throwaway_postgres
    server, tracker, key = _site(tmp_path, pg.url, workers=2)
    cookie = ConsentCookie([key])
    (unsubscribe_path,) = _recipients(tracker, "leaver", 1, tracked=False).values()
    tracker.store.close()
    saved: list[str] = []
    server.start()
    try:
        status, set_cookies, _ = _post_choice(server.base)
        assert status == 200
        value = consent_cookies(set_cookies)
        saved.append(cookie.verify_id(cookie_value(set_cookies, "consent_id")).consent_id)

        pg.stop()
        _assert_pages_honour(server.base, value)
        _assert_recording_refused(server.base, value, unsubscribe_path)

        # A site (re)started while the database is down serves too.
        with Gunicorn(server.instance, pg.url, workers=1) as cold:
            _assert_pages_honour(cold.base, value)
            _assert_recording_refused(cold.base, value, unsubscribe_path)

        # The database comes back: the running workers record again, without a restart.
        pg.start()
        deadline = time.monotonic() + 30
        while True:
            status, set_cookies, data = _post_choice(server.base, cookie=value)
            if status == 200:
                break
            assert status == 503 and time.monotonic() < deadline, (status, data)
            time.sleep(0.2)
        assert cookie.verify_id(cookie_value(set_cookies, "consent_id")).consent_id == saved[0]
        saved.append(saved[0])
        assert server.stop() == 0
    finally:
        server.kill()

    store = open_store(pg.url)
    try:
        # Exactly the choices answered as saved: none of the 503s left a receipt.
        receipts = store.receipts()
        assert [r["consent_id"] for r in receipts] == saved
        assert receipts[1]["replaces"] == receipts[0]["record_id"]
        assert store.mail_permissions() == []
    finally:
        store.close()


def test_postgres_restart_with_several_pooled_connections_is_not_a_503(throwaway_postgres):
    """A threaded server keeps several idle connections; a restart kills them all. The
    next write must land on a fresh connection, not retry on another dead one."""
    from consentlib.records.receipts import build_receipt
    from examples.flask_site.policy import POLICY

    def _receipt(consent_id: str) -> dict:
        return build_receipt(policy=POLICY, consent_id=consent_id, granted=POLICY.required,
                             previously_granted=frozenset(), method="api", gpc=False, dnt=False,
                             lifetime=86400, ip="127.0.0.1", user_agent=None)

    pg = throwaway_postgres
    store = open_store(pg.url)
    try:
        # Three requests at once, as a threaded worker serves them, leave three idle.
        held = [store._checkout()[0] for _ in range(3)]
        for conn in held:
            store._checkin(conn)
        store.add_receipt(_receipt("a" * 32))
        pg.stop()
        pg.start()
        store.add_receipt(_receipt("b" * 32))  # StoreUnavailable before the fix
        assert [r["consent_id"] for r in store.receipts()] == ["a" * 32, "b" * 32]
    finally:
        store.close()
