"""The Store contract, run against every backend: SQLite (a temporary file) and a real
PostgreSQL server (``CONSENTLIB_TEST_POSTGRES``, which ``./dev test`` starts on loopback).

Each PostgreSQL test gets its own schema (``search_path`` in the URL), dropped after;
the tests of first start get a brand-new database. Without the variable the PostgreSQL
cases fail under CI (``CI`` set) and are skipped locally.
"""
from __future__ import annotations

import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from consentlib import ConfigurationError, StoreUnavailable
from consentlib.records.receipts import build_receipt
from consentlib.store import ForgottenConsentId, Store, open_store
from consentlib.store.mail import MailEvent
from consentlib.store.seal import Seal
from consentlib.store.clock import time_text
from tests.support.apps import ALL, NECESSARY, POLICY, build_site
from tests.support.prerequisites import postgres_url as required_postgres_url

BACKENDS = ["sqlite", "postgres"]
PROCESSES = 4


def _receipt(consent_id="ab" * 16, granted=ALL, when=None, method="api", previously=frozenset()):
    return build_receipt(policy=POLICY, consent_id=consent_id, granted=granted, previously_granted=previously,
                         method=method, gpc=False, dnt=False, lifetime=180 * 86400, ip="192.0.2.10",
                         user_agent=None, when=when)


# -- backends -------------------------------------------------------------------------------


def postgres_url() -> str:
    return required_postgres_url("the PostgreSQL store's test")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | params
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


class Backend:
    """Makes store URLs of one kind, each on fresh storage, and cleans them up."""

    def __init__(self, kind: str, tmp_path, *, request_server: bool = True) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.stores: list[Store] = []
        self._cleanup: list[Callable[[], None]] = []
        if kind == "postgres" and request_server:
            postgres_url()  # fails (CI) or skips here, before the test body

    def url(self) -> str:
        """Empty storage: a new SQLite file, or a new schema in the test database."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path / f'consent-{uuid.uuid4().hex[:8]}.db'}"
        schema = f"t_{uuid.uuid4().hex}"
        with _admin(self._base) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self._cleanup.append(lambda: self._drop(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        return _with_query(self._base, options=f"-csearch_path={schema}")

    def new_database(self) -> str:
        """A brand-new, empty database (SQLite: a file that does not exist yet)."""
        if self.kind == "sqlite":
            return self.url()
        name = f"t_{uuid.uuid4().hex}"
        with _admin(self._base) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._cleanup.append(lambda: self._drop(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return _with_database(self._base, name)

    def unreachable(self) -> str:
        """A store that cannot be reached: a closed port, or a SQLite path that is a directory."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path}"
        return f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/consent"

    def open(self, url: str | None = None) -> Store:
        store = open_store(url or self.url())
        self.stores.append(store)
        return store

    @property
    def _base(self) -> str:
        return postgres_url()

    def _drop(self, sql: str) -> None:
        with _admin(self._base) as conn:
            conn.execute(sql)

    def close(self) -> None:
        for store in self.stores:
            store.close()
        for step in reversed(self._cleanup):
            step()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    made = Backend(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture
def postgres_backend(tmp_path) -> Iterator[Backend]:
    made = Backend("postgres", tmp_path)
    yield made
    made.close()


@pytest.fixture
def store(backend) -> Store:
    return backend.open()


# -- opening --------------------------------------------------------------------------------


def test_open_store_returns_the_backend(backend):
    store = backend.open()
    assert isinstance(store, Store)
    expected = "SQLiteStore" if backend.kind == "sqlite" else "PostgresStore"
    assert type(store).__name__ == expected
    assert store.receipts() == []


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_postgres_schemes(scheme):
    from consentlib.store.postgres import PostgresStore

    store = open_store(f"{scheme}://u:pw@127.0.0.1:{closed_port()}/db")
    assert isinstance(store, PostgresStore)
    assert "pw" not in store.where  # messages never carry the password


def test_open_store_postgres_without_psycopg_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    monkeypatch.delitem(sys.modules, "consentlib.store.postgres", raising=False)
    with pytest.raises(ConfigurationError) as info:
        open_store("postgresql://u@127.0.0.1/db")
    assert "pip install 'consentlib[postgres]'" in str(info.value)


def test_open_store_postgres_bad_url_is_configuration_error():
    with pytest.raises(ConfigurationError) as info:
        open_store("postgresql://[::1/db")
    assert "postgresql://user:password@host:5432/dbname" in str(info.value)


# -- receipts -------------------------------------------------------------------------------


def test_receipts_chain_replaces_previous_record_of_same_consent_id(store):
    a1 = store.add_receipt(_receipt("aa" * 16))
    b1 = store.add_receipt(_receipt("bb" * 16))
    a2 = store.add_receipt(_receipt("aa" * 16, granted=NECESSARY, previously=ALL))
    a3 = store.add_receipt(_receipt("aa" * 16))
    assert a1["replaces"] is None and b1["replaces"] is None
    assert a2["replaces"] == a1["record_id"] and a3["replaces"] == a2["record_id"]
    chain = store.receipts(consent_id="aa" * 16)
    assert chain == [a1, a2, a3]
    assert [r["record_id"] for r in store.receipts()] == [r["record_id"] for r in (a1, b1, a2, a3)]
    assert store.receipts(consent_id="cc" * 16) == []


def test_receipts_round_trip_whole(store):
    receipt = _receipt(when=datetime(2026, 11, 1, 12, 30, 15, 123456, tzinfo=timezone.utc))
    stored = store.add_receipt(receipt)
    assert stored == {**receipt, "replaces": None}
    assert store.receipts() == [stored]
    assert store.receipts()[0]["time"] == "2026-11-01T12:30:15.123456Z"


def test_receipts_since(store):
    now = datetime.now(timezone.utc)
    old = store.add_receipt(_receipt(when=now - timedelta(days=10)))
    new = store.add_receipt(_receipt(when=now))
    assert store.receipts(since=now - timedelta(days=1)) == [new]
    assert store.receipts(since=(now - timedelta(days=11)).replace(tzinfo=None)) == [old, new]  # naive is UTC
    assert store.receipts(since=now + timedelta(seconds=1)) == []
    # since and consent id together
    other = store.add_receipt(_receipt("cd" * 16, when=now))
    assert store.receipts(consent_id="cd" * 16, since=now - timedelta(days=1)) == [other]


def test_receipts_since_other_timezone(store):
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    store.add_receipt(_receipt(when=moment))
    cet = timezone(timedelta(hours=1))
    assert len(store.receipts(since=datetime(2026, 11, 1, 13, 0, tzinfo=cet))) == 1
    assert store.receipts(since=datetime(2026, 11, 1, 13, 0, 1, tzinfo=cet)) == []


def test_prune_receipts(store):
    now = datetime.now(timezone.utc)
    store.add_receipt(_receipt(when=now - timedelta(days=400)))
    store.add_receipt(_receipt(when=now - timedelta(days=200)))
    kept = store.add_receipt(_receipt(when=now - timedelta(days=1)))
    assert store.prune_receipts(before=now - timedelta(days=365)) == 1
    assert store.prune_receipts(before=now - timedelta(days=30)) == 1
    assert store.prune_receipts(before=now - timedelta(days=30)) == 0
    assert store.receipts() == [kept]


def test_duplicate_record_id_is_store_unavailable_and_the_store_still_works(store):
    receipt = _receipt()
    store.add_receipt(receipt)
    with pytest.raises(StoreUnavailable):
        store.add_receipt(receipt)
    assert len(store.receipts()) == 1
    store.add_receipt(_receipt())  # the failed transaction was rolled back, the store is usable
    assert len(store.receipts()) == 2


def test_writes_are_committed_before_returning(backend):
    url = backend.url()
    writer, reader = backend.open(url), backend.open(url)
    stored = writer.add_receipt(_receipt())
    writer.suppress_mail("ana@example.com", list_id="news", source="test")
    assert reader.receipts() == [stored]
    assert reader.mail_suppressed("ana@example.com", list_id="news")


# -- a minor's grant (consentlib.web.guardian): one indexed lookup per page view ----------------


def _of_revision(receipt, revision):
    return {**receipt, "revision": revision, "notice": {**receipt["notice"], "revision": revision}}


def _guardian(consent_id="aa" * 16, *, granted=ALL, revision=POLICY.revision, token="n1"):
    receipt = _of_revision(_receipt(consent_id, granted=granted, method="guardian"), revision)
    return {**receipt, "guardian": {"id": "g" * 32, "verified_by": "signed e-mail link", "token": token}}


def test_guardian_receipts_latest_guardian_and_the_minors_own_choice_after_it(store):
    visitor = "aa" * 16
    assert store.guardian_receipts(visitor, revision=3) == (None, None)
    store.add_receipt(_receipt(visitor, granted=NECESSARY, method="form"))
    assert store.guardian_receipts(visitor, revision=3) == (None, None)  # own choices alone: no guardian
    allowed = store.add_receipt(_guardian(visitor))
    assert store.guardian_receipts(visitor, revision=3) == (allowed, None)
    store.add_receipt(_receipt(visitor, granted=NECESSARY | {"analytics"}, method="banner"))
    narrowed = store.add_receipt(_receipt(visitor, granted=NECESSARY, method="api"))
    assert store.guardian_receipts(visitor, revision=3) == (allowed, narrowed)
    withdrawn = store.add_receipt(_guardian(visitor, granted=NECESSARY, token=""))
    assert store.guardian_receipts(visitor, revision=3) == (withdrawn, None)
    store.add_receipt(_guardian("bb" * 16))  # another visitor's guardian changes nothing here
    assert store.guardian_receipts(visitor, revision=3) == (withdrawn, None)
    assert store.guardian_receipts("cc" * 16, revision=3) == (None, None)


def test_guardian_receipts_of_another_revision_never_count(store):
    visitor = "aa" * 16
    old = store.add_receipt(_guardian(visitor, revision=3))
    assert store.guardian_receipts(visitor, revision=4) == (None, None)
    new = store.add_receipt(_guardian(visitor, revision=4, token="n2"))
    # A rolling deploy: a process still on revision 3 records the minor's choice after.
    old_own = store.add_receipt(_of_revision(_receipt(visitor, granted=NECESSARY), 3))
    assert store.guardian_receipts(visitor, revision=4) == (new, None)
    assert store.guardian_receipts(visitor, revision=3) == (old, old_own)


def test_guardian_token_used(store):
    visitor = "aa" * 16
    assert not store.guardian_token_used(visitor, "n1")
    store.add_receipt(_receipt(visitor, method="form"))
    store.add_receipt(_guardian(visitor, token="n1"))
    assert store.guardian_token_used(visitor, "n1")
    assert not store.guardian_token_used(visitor, "n2")
    assert not store.guardian_token_used("bb" * 16, "n1")  # the nonce is this visitor's


def test_guardian_receipts_stay_one_lookup_with_many_receipts(store):
    # A minor can grow their receipts through the public endpoint; the lookup of the
    # grant on every page view must not grow with them.
    visitor = "aa" * 16
    allowed = store.add_receipt(_guardian(visitor))
    for _ in range(300):
        store.add_receipt(_receipt(visitor, granted=NECESSARY, method="api"))
    latest = store.add_receipt(_receipt(visitor, granted=NECESSARY | {"analytics"}, method="api"))
    assert store.guardian_receipts(visitor, revision=3) == (allowed, latest)
    assert store.guardian_token_used(visitor, "n1")


# -- undeclared cookies -----------------------------------------------------------------------


def test_undeclared_cookies(store):
    assert store.undeclared_cookies() == []
    store.note_undeclared_cookie("tracker_x")
    store.note_undeclared_cookie("tracker_x")
    store.note_undeclared_cookie("_hj")
    store.note_undeclared_cookie("Z_upper")
    rows = store.undeclared_cookies()
    assert [(r["name"], r["count"]) for r in rows] == [("Z_upper", 1), ("_hj", 1), ("tracker_x", 2)]  # bytewise
    assert rows[2]["first_seen"] <= rows[2]["last_seen"]
    store.note_undeclared_cookie("x" * 500)
    assert max(len(r["name"]) for r in store.undeclared_cookies()) == 200


# -- mail: recipients and tracking permissions --------------------------------------------------


def test_mail_recipient_number_is_stable(store):
    number, tracked, suppressed = store.mail_recipient("ana@example.com", list_id="news")
    assert (tracked, suppressed) == (False, False)
    assert store.mail_recipient("ana@example.com", list_id="news")[0] == number
    other = store.mail_recipient("bob@example.com", list_id="news")[0]
    assert other != number
    assert store.mail_address(number) == "ana@example.com"
    assert store.mail_address(other) == "bob@example.com"
    assert store.mail_address(number + other + 1000) is None


def test_mail_tracking_permissions_latest_counts_per_list(store):
    assert not store.mail_tracking_allowed("ana@example.com", list_id="news")
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    assert store.mail_tracking_allowed("ana@example.com", list_id="news")
    assert not store.mail_tracking_allowed("ana@example.com", list_id="offers")
    assert store.mail_recipient("ana@example.com", list_id="news")[1:] == (True, False)
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=False, source="mail-link")
    assert not store.mail_tracking_allowed("ana@example.com", list_id="news")
    assert store.mail_recipient("ana@example.com", list_id="news")[1:] == (False, False)


def test_mail_unsubscribe_is_idempotent_and_keeps_the_first(store):
    assert not store.mail_suppressed("ana@example.com", list_id="news")
    assert store.suppress_mail("ana@example.com", list_id="news", source="one-click", campaign="2026-11")
    first = store.mail_permissions(recipient="ana@example.com")
    assert not store.suppress_mail("ana@example.com", list_id="news", source="page", campaign="2026-12")
    assert store.mail_permissions(recipient="ana@example.com") == first
    assert first[0]["source"] == "one-click" and first[0]["campaign"] == "2026-11"
    assert store.mail_suppressed("ana@example.com", list_id="news")
    assert not store.mail_suppressed("ana@example.com", list_id="offers")
    assert store.mail_recipient("ana@example.com", list_id="news")[2] is True
    assert store.suppress_mail("ana@example.com", list_id="offers", source="page")


def test_mail_permissions_oldest_first_and_per_recipient(store):
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    store.set_mail_tracking("bob@example.com", list_id="news", allowed=True, source="form")
    store.suppress_mail("ana@example.com", list_id="news", source="one-click", campaign="c1")
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=False, source="mail-link")
    everything = store.mail_permissions()
    assert [(p["type"], p["recipient"]) for p in everything] == [
        ("tracking", "ana@example.com"), ("tracking", "bob@example.com"),
        ("unsubscribe", "ana@example.com"), ("tracking", "ana@example.com"),
    ]
    assert [p["time"] for p in everything] == sorted(p["time"] for p in everything)
    ana = store.mail_permissions(recipient="ana@example.com")
    assert [(p["type"], p.get("allowed")) for p in ana] == [("tracking", True), ("unsubscribe", None),
                                                            ("tracking", False)]
    assert ana[1] == {"type": "unsubscribe", "recipient": "ana@example.com", "list_id": "news",
                      "time": ana[1]["time"], "source": "one-click", "campaign": "c1"}
    assert store.mail_permissions(recipient="nobody@example.com") == []


# -- mail: sends, events, stats ----------------------------------------------------------------


def _event(number, *, event="open", kind="human", when=None, campaign="c1", list_id="news", link=None,
           agent="Firefox 128"):
    return MailEvent(number, campaign, list_id, event, kind, when or time_text(), agent, link)


def test_mail_sends_and_empty_stats(store):
    assert store.mail_stats() == []
    assert store.mail_stats(campaign="c1") == [{
        "campaign": "c1", "sent": 0, "human_opens": 0, "machine_opens": 0,
        "human_clicks": 0, "scanner_clicks": 0, "unsubscribes": 0,
    }]
    for address in ("ana@example.com", "bob@example.com"):
        store.record_mail_send(campaign="c1", recipient=address, list_id="news", links=2, tracked=True)
    store.record_mail_send(campaign="c2", recipient="ana@example.com", list_id="news", links=0, tracked=False)
    assert [(s["campaign"], s["sent"]) for s in store.mail_stats()] == [("c1", 2), ("c2", 1)]
    assert store.mail_stats(campaign="c2")[0]["sent"] == 1


def test_mail_events_kept_only_with_tracking_and_no_unsubscribe(store):
    ana = store.mail_recipient("ana@example.com", list_id="news")[0]
    bob = store.mail_recipient("bob@example.com", list_id="news")[0]
    before = time_text(datetime.now(timezone.utc) - timedelta(hours=1))
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    assert store.add_mail_events([]) == 0
    kept = store.add_mail_events([
        _event(ana), _event(ana), _event(ana, kind="machine", agent="GoogleImageProxy"),
        _event(bob),  # never allowed tracking
        _event(ana, when=before),  # before the permission
        _event(ana, list_id="offers"),  # another list
        _event(ana + bob + 1000),  # nobody
        _event(ana, event="click", link=0),
    ])
    assert kept == 4
    stats = store.mail_stats(campaign="c1")[0]
    assert (stats["human_opens"], stats["machine_opens"], stats["human_clicks"]) == (1, 1, 1)  # opens: unique people
    store.suppress_mail("ana@example.com", list_id="news", source="one-click", campaign="c1")
    assert store.add_mail_events([_event(ana)]) == 0
    assert store.mail_stats(campaign="c1")[0]["unsubscribes"] == 1


def test_mail_events_withdrawn_tracking_drops_later_events(store):
    ana = store.mail_recipient("ana@example.com", list_id="news")[0]
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    assert store.add_mail_events([_event(ana)]) == 1
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=False, source="mail-link")
    assert store.add_mail_events([_event(ana)]) == 0


def test_mail_click_burst_marks_a_scanner(store):
    ana = store.mail_recipient("ana@example.com", list_id="news")[0]
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    since = time_text()
    store.add_mail_events([_event(ana, event="click", link=0)])
    assert store.mark_click_burst(recipient_id=ana, campaign="c1", links=3, since=since) == 0
    store.add_mail_events([_event(ana, event="click", link=1), _event(ana, event="click", link=2)])
    assert store.mark_click_burst(recipient_id=ana, campaign="c1", links=3, since=since) == 3
    stats = store.mail_stats(campaign="c1")[0]
    assert (stats["human_clicks"], stats["scanner_clicks"]) == (0, 3)


def test_mail_text_with_nul_is_kept_not_a_failure(store):
    # A user-agent family or cookie name with a NUL (PostgreSQL text cannot hold one)
    # must not make recording fail.
    ana = store.mail_recipient("ana@example.com", list_id="news")[0]
    store.set_mail_tracking("ana@example.com", list_id="news", allowed=True, source="form")
    assert store.add_mail_events([_event(ana, agent="Bot\x00 1")]) == 1
    store.note_undeclared_cookie("a\x00b")
    assert len(store.undeclared_cookies()) == 1
    receipt = _receipt()
    receipt["user_agent"] = "Evil\x00 1 / Linux"
    store.add_receipt(receipt)
    assert store.receipts()[0]["user_agent"].startswith("Evil")


# -- schema -------------------------------------------------------------------------------------


def test_schema_creation_is_idempotent(backend):
    url = backend.new_database()
    first = backend.open(url)
    kept = first.add_receipt(_receipt())
    first.suppress_mail("ana@example.com", list_id="news", source="t")
    first.close()
    again = backend.open(url)  # creates the tables again: IF NOT EXISTS, nothing lost
    assert again.receipts() == [kept]
    assert again.mail_suppressed("ana@example.com", list_id="news")


def test_schema_created_by_several_processes_at_once(backend):
    url = backend.new_database()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=first_start, args=(url, barrier, results, i)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    assert all(outcome.startswith("ok ") for outcome in outcomes), outcomes  # no process failed
    store = backend.open(url)
    assert sorted(r["record_id"] for r in store.receipts()) == sorted(o.split()[1] for o in outcomes)
    assert store.mail_suppressed("shared@example.com", list_id="news")


def first_start(url: str, barrier, results, index: int) -> None:
    """In a spawned process: wait for the others, then open the brand-new store at once."""
    store = open_store(url)
    barrier.wait(timeout=60)
    try:
        store.suppress_mail("shared@example.com", list_id="news", source=f"process-{index}")
        results.put(f"ok {store.add_receipt(_receipt(f'{index:032x}'))['record_id']}")
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


# -- many writers --------------------------------------------------------------------------------


def test_concurrent_writers_lose_no_receipt(backend):
    url = backend.url()
    consent_ids = [f"{i:032x}" for i in range(PROCESSES)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(append_receipts, [(url, cid, 50) for cid in consent_ids])
    written = [rid for ids in results for rid in ids]
    store = backend.open(url)
    rows = store.receipts()
    assert len(rows) == PROCESSES * 50 == len({r["record_id"] for r in rows})
    assert sorted(r["record_id"] for r in rows) == sorted(written)
    for cid in consent_ids:
        chain = store.receipts(consent_id=cid)
        assert [r["replaces"] for r in chain] == [None] + [r["record_id"] for r in chain[:-1]]


def test_concurrent_writers_on_one_consent_id_keep_one_chain(backend):
    # Two hosts recording the same visitor's decisions at once: the chain never forks.
    url = backend.url()
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(append_receipts, [(url, "ee" * 16, 25)] * PROCESSES)
    store = backend.open(url)
    chain = store.receipts(consent_id="ee" * 16)
    assert len(chain) == PROCESSES * 25
    assert sorted(r["record_id"] for r in chain) == sorted(rid for ids in results for rid in ids)
    assert [r["replaces"] for r in chain] == [None] + [r["record_id"] for r in chain[:-1]]


def append_receipts(url: str, consent_id: str, count: int) -> list[str]:
    """In a spawned process: append ``count`` receipts of one consent id."""
    store = open_store(url)
    ids = [store.add_receipt(_receipt(consent_id, granted=ALL if i % 2 else NECESSARY))["record_id"]
           for i in range(count)]
    store.close()
    return ids


def test_concurrent_unsubscribes_each_counted_once(backend):
    url = backend.url()
    addresses = [f"r{i}@example.com" for i in range(50)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(unsubscribe_all, [(url, addresses, i) for i in range(PROCESSES)])
    assert sum(results) == len(addresses)  # exactly one process saw each unsubscribe as new
    store = backend.open(url)
    assert all(store.mail_suppressed(a, list_id="news") for a in addresses)
    unsubscribes = [p for p in store.mail_permissions() if p["type"] == "unsubscribe"]
    assert sorted(p["recipient"] for p in unsubscribes) == sorted(addresses)
    assert store.mail_stats(campaign="c1")[0]["unsubscribes"] == len(addresses)


def unsubscribe_all(url: str, addresses: list[str], index: int) -> int:
    """In a spawned process: unsubscribe every address (rotated, so processes collide)."""
    store = open_store(url)
    order = addresses[index * 7:] + addresses[:index * 7]
    new = sum(store.suppress_mail(a, list_id="news", source=f"process-{index}", campaign="c1") for a in order)
    store.close()
    return new


def test_threads_share_one_store(store):
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> str:
        store.suppress_mail(f"t{i % 10}@example.com", list_id="news", source="thread")
        return store.add_receipt(_receipt("ff" * 16))["record_id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(40)))
    chain = store.receipts(consent_id="ff" * 16)
    assert sorted(r["record_id"] for r in chain) == sorted(ids)
    assert [r["replaces"] for r in chain] == [None] + [r["record_id"] for r in chain[:-1]]


def test_store_survives_fork(backend):
    # A pre-fork server builds the app (and uses the store) before forking its workers.
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    store = backend.open()
    store.add_receipt(_receipt())
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_add_in_child, args=(store,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    # The children closed their store: the parent's own connection must still be alive.
    store.add_receipt(_receipt())
    assert len(store.receipts()) == 4


def _add_in_child(store):
    store.add_receipt(_receipt())
    store.close()


# -- PostgreSQL only ---------------------------------------------------------------------------


def test_postgres_reconnects_after_server_side_disconnect(postgres_backend):
    backend = postgres_backend
    # A server restart (or an idle timeout) kills pooled connections; the next call
    # must not be a 503 when the server is back.
    url = backend.url()
    store = backend.open(url)
    store.add_receipt(_receipt())
    pids = [conn.info.backend_pid for conn in store._idle]
    assert pids
    with _admin(postgres_url()) as admin:
        for pid in pids:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    assert len(store.receipts()) == 1
    store.add_receipt(_receipt())
    assert len(store.receipts()) == 2


def test_postgres_tables_in_their_own_schema(postgres_backend):
    backend = postgres_backend
    url = backend.url()
    backend.open(url).note_undeclared_cookie("x")
    schema = dict(parse_qsl(urlsplit(url).query))["options"].split("=", 1)[1]
    with _admin(postgres_url()) as admin:
        tables = {name for (name,) in admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))}
    assert {"receipts", "undeclared_cookies", "mail_recipients", "mail_tracking", "mail_suppressions",
            "mail_sends", "mail_events"} <= tables


@pytest.mark.parametrize("query", ["_GUARDIAN_RECEIPTS", "_GUARDIAN_TOKEN_USED"])
def test_postgres_minor_grant_lookup_can_use_the_guardian_index(postgres_backend, query):
    import psycopg

    from consentlib.store import postgres

    url = postgres_backend.url()
    postgres_backend.open(url).receipts()  # the schema, as a first request makes it
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table: make the planner show what it can use
        plan = " ".join(row[0] for row in conn.execute(
            "EXPLAIN " + getattr(postgres, query), {"consent_id": "ab" * 16, "revision": "3", "token": "n1"}))
    assert "receipts_guardian" in plan, plan


# -- erased consent ids (GDPR Art 17) -------------------------------------------------------------

ERASED, OTHER = "e1" * 16, "0f" * 16
OLD_KEY, NEW_KEY = "contract-key-older-0123456789", "contract-key-newest-0123456789"


def test_erased_consent_id_never_takes_a_receipt_again(backend):
    # GDPR Art 17: once erased, the id links nothing again; the store refuses, in the
    # receipt's own transaction, whatever the caller.
    store = backend.open()
    store.seal = Seal([OLD_KEY.encode()])
    kept = store.add_receipt(_receipt(ERASED))
    store.add_receipt(_receipt(OTHER))
    assert store.consent_id_forgotten(ERASED) is False
    assert store.minimise_receipts(ERASED) == 1
    assert store.consent_id_forgotten(ERASED) is True
    assert store.consent_id_forgotten(OTHER) is False
    with pytest.raises(ForgottenConsentId) as info:
        store.add_receipt(_receipt(ERASED, granted=NECESSARY))
    assert "new consent id" in str(info.value)
    assert [r["record_id"] for r in store.receipts(consent_id=ERASED)] == [kept["record_id"]]  # nothing added
    assert store.add_receipt(_receipt(OTHER, granted=NECESSARY))["consent_id"] == OTHER  # others unaffected
    assert store.minimise_receipts(ERASED) == 1  # asked again: the same, and still refused
    with pytest.raises(ForgottenConsentId):
        store.add_receipt(_receipt(ERASED))


def test_erased_consent_id_is_recognised_while_its_key_is_listed(backend):
    # Key rotation: the fingerprint made with the key of the day is checked against every
    # key the site still lists, newest first; dropping that key drops the recognition.
    url = backend.url()
    before = backend.open(url)
    before.seal = Seal([OLD_KEY.encode()])
    before.add_receipt(_receipt(ERASED))
    before.minimise_receipts(ERASED)
    rotated = backend.open(url)
    rotated.seal = Seal([NEW_KEY.encode(), OLD_KEY.encode()])
    assert rotated.consent_id_forgotten(ERASED) is True
    with pytest.raises(ForgottenConsentId):
        rotated.add_receipt(_receipt(ERASED))
    retired = backend.open(url)
    retired.seal = Seal([NEW_KEY.encode()])
    assert retired.consent_id_forgotten(ERASED) is False


def test_erasing_a_consent_id_needs_the_sites_key(store):
    store.add_receipt(_receipt(ERASED))
    with pytest.raises(ConfigurationError) as info:
        store.minimise_receipts(ERASED)
    assert "secret key" in str(info.value)
    assert store.receipts()[0]["ip_network"] == "192.0.2.0/24"  # nothing was done
    assert store.consent_id_forgotten(ERASED) is False


# -- unreachable ---------------------------------------------------------------------------------


def _every_method(store: Store) -> list[tuple[str, Callable[[], object]]]:
    event = _event(1)
    return [
        ("add_receipt", lambda: store.add_receipt(_receipt())),
        ("receipts", lambda: store.receipts()),
        ("prune_receipts", lambda: store.prune_receipts(before=datetime.now(timezone.utc))),
        ("guardian_receipts", lambda: store.guardian_receipts("aa" * 16, revision=3)),
        ("guardian_token_used", lambda: store.guardian_token_used("aa" * 16, "n1")),
        ("note_undeclared_cookie", lambda: store.note_undeclared_cookie("x")),
        ("undeclared_cookies", lambda: store.undeclared_cookies()),
        ("mail_recipient", lambda: store.mail_recipient("a@example.com", list_id="news")),
        ("mail_address", lambda: store.mail_address(1)),
        ("set_mail_tracking", lambda: store.set_mail_tracking("a@example.com", list_id="n", allowed=True,
                                                              source="t")),
        ("mail_tracking_allowed", lambda: store.mail_tracking_allowed("a@example.com", list_id="n")),
        ("suppress_mail", lambda: store.suppress_mail("a@example.com", list_id="n", source="t")),
        ("mail_suppressed", lambda: store.mail_suppressed("a@example.com", list_id="n")),
        ("record_mail_send", lambda: store.record_mail_send(campaign="c", recipient="a@example.com",
                                                            list_id="n", links=1, tracked=True)),
        ("add_mail_events", lambda: store.add_mail_events([event])),
        ("mark_click_burst", lambda: store.mark_click_burst(recipient_id=1, campaign="c", links=1,
                                                            since=time_text())),
        ("mail_stats", lambda: store.mail_stats()),
        ("mail_permissions", lambda: store.mail_permissions()),
        ("receipt_chain", lambda: store.receipt_chain()),
        ("minimise_receipts", lambda: store.minimise_receipts("ab" * 16)),
        ("consent_id_forgotten", lambda: store.consent_id_forgotten("ab" * 16)),
        ("forget_mail_recipient", lambda: store.forget_mail_recipient("a@example.com")),
        ("mail_data", lambda: store.mail_data("a@example.com")),
        ("prune_mail", lambda: store.prune_mail(before=datetime.now(timezone.utc))),
        ("claim_changes", lambda: store.claim_changes()),
        ("finish_change", lambda: store.finish_change("x")),
        ("changes", lambda: store.changes()),
    ]


@pytest.fixture(params=BACKENDS)
def unreachable(request, tmp_path) -> Iterator[Backend]:
    """A backend whose stores cannot be reached; needs no running server."""
    made = Backend(request.param, tmp_path, request_server=False)
    yield made
    made.close()


def test_unreachable_store_every_method_is_store_unavailable_fast(unreachable):
    backend = unreachable
    store = backend.open(backend.unreachable())
    store.seal = Seal([b"k" * 32])  # forgetting needs keys; without them it is a ConfigurationError
    methods = _every_method(store)
    assert {name for name, _ in methods} == {
        name for name in dir(Store) if not name.startswith("_") and name != "close"}  # nothing forgotten
    for name, call in methods:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert time.monotonic() - started < 5, name
        message = str(info.value)
        assert message.endswith((".", "?", ")")) or len(message) > 30, message
        assert "secret" not in message  # the password never leaks into logs
    store.close()


def test_unreachable_store_through_the_middleware(unreachable, tmp_path):
    site = build_site("wsgi", tmp_path, store=unreachable.unreachable())
    for kwargs in ({"data": {"action": "accept_all"}}, {"json": {"categories": ["analytics"]}}):
        started = time.monotonic()
        r = site.post("/_consent/", **kwargs)
        assert time.monotonic() - started < 5
        assert r.status_code == 503, r.data
        assert r.headers["Content-Type"] == "application/json"
        assert "unavailable" in r.json["error"] and "nothing was" in r.json["error"]
        assert r.set_cookies == []  # nothing is reported as saved
    # A page still serves with the visitor's signed choice, gated by it.
    choice = NECESSARY | {"analytics"}
    page = site.get("/", headers={"Cookie": f"consent={site.cookie_value(choice)}; _ga=GA1.1.7; _fbp=fb.1"})
    assert page.status_code == 200
    assert page.json["granted"] == sorted(choice)
    assert "_ga=GA1.1.7" in page.json["cookie"] and "_fbp" not in page.json["cookie"]
    assert [line.split(";")[0] for line in page.set_cookies if "Max-Age=0" not in line] == ["sid=s1", "_ga=GA1.1.42"]
    assert all("Max-Age=0" in line for line in page.set_cookie("_fbp"))  # only ever expired
    assert site.get("/_consent/").json["decided"] is False
