"""The visitor's rights, against every store backend (SQLite file, real PostgreSQL):
erasure (GDPR Art 17), retention, the tamper-evident receipt chain, the change queue
(Art 17(2), 19). Uses the store contract's backends."""
from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest

from consentlib import MailTracker, Suppressed
from consentlib.errors import ConfigurationError
from consentlib.store import open_store, rights
from consentlib.store.chain import verify
from consentlib.store.seal import Seal
from tests.support.apps import ALL, NECESSARY
from tests.support.mailkit import newsletter
from tests.integration.test_store_contract import PROCESSES, _event, _receipt, backend, store  # noqa: F401

KEYS = ["rights-test-key-newest-0123456789", "rights-test-key-older-0123456789"]
ANA = "ana@example.com"


@pytest.fixture
def url(backend):
    return backend.url()


@pytest.fixture
def sealed(backend, url):
    store = open_store(url, secret_key=KEYS)
    backend.stores.append(store)
    return store


def raw(backend, url: str, sql: str, params=()) -> list[tuple]:
    """A statement run straight on the database, as someone with database access would."""
    if backend.kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def tables_holding(backend, url: str, text: str) -> set[str]:
    """Every table with a value that contains ``text`` in clear, whatever the column."""
    if backend.kind == "sqlite":
        tables = [t for (t,) in raw(backend, url, "SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {t: [c[1] for c in raw(backend, url, f"PRAGMA table_info({t})")] for t in tables}
    else:
        rows = raw(backend, url, "SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE table_schema = current_schema()")
        columns: dict[str, list[str]] = {}
        for table, column in rows:
            columns.setdefault(table, []).append(column)
    cast = "CAST({} AS TEXT)"
    found = set()
    for table, names in columns.items():
        where = " OR ".join(f"{cast.format(n)} LIKE ?" for n in names)
        if raw(backend, url, f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", tuple(f"%{text}%" for _ in names)):
            found.add(table)
    return found


def _deliver_all(store) -> list[dict]:
    seen = []
    while changes := store.claim_changes(lease_seconds=60):
        for change in changes:
            seen.append(change)
            store.finish_change(change["id"])
    return seen


# -- erasure ---------------------------------------------------------------------------------------


def _subscriber(store, address=ANA):
    number = store.mail_recipient(address, list_id="news")[0]
    store.set_mail_tracking(address, list_id="news", allowed=True, source="form")
    store.record_mail_send(campaign="c1", recipient=address, list_id="news", links=2, tracked=True)
    store.add_mail_events([_event(number), _event(number, event="click", link=0)])
    return number


def test_forget_erases_the_address_everywhere_and_keeps_the_unsubscribe_as_a_keyed_hash(backend, url, sealed):
    # GDPR Art 17(1) erasure; Art 17(3)(b), 21(3): the objection to mail must still be honoured.
    _subscriber(sealed)
    _subscriber(sealed, "bob@example.com")
    sealed.suppress_mail(ANA, list_id="news", source="one-click", campaign="c1")
    assert tables_holding(backend, url, ANA)
    done = sealed.forget_mail_recipient(ANA)
    assert done["found"] and done["events"] == 2 and done["tracking"] == 1 and done["unsubscribes"] == 1
    # Until the erasure is passed on (Art 19), only its queued change names the address.
    assert tables_holding(backend, url, ANA) == {"changes"}
    (erasure,) = [c for c in _deliver_all(sealed) if c["kind"] == "mail-erasure"]
    assert erasure["data"] == {"recipient": ANA, "unsubscribed_from": ["news"]}
    assert tables_holding(backend, url, ANA) == set()
    assert sealed.mail_suppressed(ANA, list_id="news")  # still never mailed again
    assert not sealed.suppress_mail(ANA, list_id="news", source="page")  # not "new"
    assert sealed.mail_recipient(ANA, list_id="news")[2] is True
    assert tables_holding(backend, url, ANA) == set()  # checking did not write it down again
    stats = sealed.mail_stats(campaign="c1")[0]
    assert (stats["sent"], stats["unsubscribes"], stats["human_opens"]) == (2, 1, 1)  # bob's open remains
    assert sealed.mail_permissions(recipient="bob@example.com")  # nobody else touched
    tracker = MailTracker(base_url="https://example.com", secret_key=KEYS, store=sealed)
    with pytest.raises(Suppressed):
        tracker.prepare(newsletter(), recipient=ANA, campaign="c2", list_id="news")
    # With the old key only (after rotation, before it is dropped) the hash still matches.
    older = open_store(url, secret_key=KEYS[1:])
    assert not older.mail_suppressed(ANA, list_id="news")  # newest key made the hash
    rotated = open_store(url, secret_key=["a-brand-new-key-0123456789", *KEYS])
    assert rotated.mail_suppressed(ANA, list_id="news")
    older.close()
    rotated.close()


def test_forget_unknown_address_is_a_no_op_that_says_so(backend, url, sealed):
    _subscriber(sealed)
    before = tables_holding(backend, url, ANA)
    done = sealed.forget_mail_recipient("nobody@example.com")
    assert done["found"] is False
    assert sealed.changes() and all(c["kind"] != "mail-erasure" for c in sealed.changes())
    assert tables_holding(backend, url, ANA) == before


def test_forget_needs_the_sites_key(store):
    with pytest.raises(ConfigurationError) as info:
        store.forget_mail_recipient(ANA)
    assert "secret key" in str(info.value)


def test_forget_crashing_midway_leaves_everything_as_it_was(backend, url, sealed, monkeypatch):
    # One transaction: all of it or none of it.
    _subscriber(sealed)
    sealed.suppress_mail(ANA, list_id="news", source="one-click", campaign="c1")
    before = {t: raw(backend, url, f"SELECT COUNT(*) FROM {t}") for t in
              ("mail_events", "mail_tracking", "mail_recipients", "mail_suppressions", "changes")}

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(rights, "enqueue", crash)  # the last step of forget
    with pytest.raises(RuntimeError):
        sealed.forget_mail_recipient(ANA)
    monkeypatch.undo()
    after = {t: raw(backend, url, f"SELECT COUNT(*) FROM {t}") for t in before}
    assert after == before
    assert sealed.mail_permissions(recipient=ANA)  # still there, in clear: nothing was done


def test_minimise_receipts_keeps_the_proof_and_the_chain(sealed):
    # GDPR Art 17(3)(b),(e): receipts prove consent; only what explained them goes.
    kept = sealed.add_receipt(_receipt("aa" * 16))
    sealed.add_receipt(_receipt("aa" * 16, granted=NECESSARY, previously=ALL))
    other = sealed.add_receipt(_receipt("bb" * 16))
    assert sealed.minimise_receipts("aa" * 16) == 2
    assert sealed.minimise_receipts("aa" * 16) == 2  # idempotent
    assert sealed.minimise_receipts("cc" * 16) == 0  # unknown: nothing
    first, second = sealed.receipts(consent_id="aa" * 16)
    assert first["ip_network"] is None and first["user_agent"] is None
    proof = ("record_id", "consent_id", "time", "revision", "categories", "method", "signals", "expires")
    assert {k: first[k] for k in proof} == {k: kept[k] for k in proof}
    assert second["replaces"] == first["record_id"]
    assert sealed.receipts(consent_id="bb" * 16) == [other]  # others untouched
    assert verify(sealed.receipt_chain(), sealed.seal).ok
    assert [c["kind"] for c in sealed.changes(subject="aa" * 16)][-1] == "consent-erasure"


def test_erasing_a_consent_id_keeps_only_its_keyed_fingerprint(backend, url, sealed):
    # GDPR Art 17: the list of erased ids names none of them; the receipts keep the id
    # as the proof they are (Art 17(3)(b),(e)) until retention removes them.
    sealed.add_receipt(_receipt("aa" * 16))
    sealed.minimise_receipts("aa" * 16)
    (row,) = raw(backend, url, "SELECT fingerprint FROM forgotten_consent_ids")
    assert row[0] == sealed.seal.consent_id_fingerprints("aa" * 16)[0] and "aa" * 16 not in row[0]
    assert "forgotten_consent_ids" not in tables_holding(backend, url, "aa" * 16)
    assert sealed.seal.consent_id_fingerprints("aa" * 16)[0] != sealed.seal.address_hashes("aa" * 16)[0]


def test_erasing_a_consent_id_crashing_midway_leaves_everything_as_it_was(backend, url, sealed, monkeypatch):
    # One transaction: the receipts are not minimised without the fingerprint, and no
    # fingerprint is kept for an erasure that did not happen.
    sealed.add_receipt(_receipt("aa" * 16))

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(rights, "enqueue", crash)  # the last step of the erasure
    with pytest.raises(RuntimeError):
        sealed.minimise_receipts("aa" * 16)
    monkeypatch.undo()
    assert raw(backend, url, "SELECT COUNT(*) FROM forgotten_consent_ids") == [(0,)]
    assert sealed.receipts()[0]["ip_network"] == "192.0.2.0/24"
    assert sealed.consent_id_forgotten("aa" * 16) is False


def test_an_erased_ids_fingerprint_goes_with_the_receipts_of_its_time(backend, url, sealed):
    # GDPR Art 5(1)(e): the fingerprint is needed while a browser may hold the id (at most
    # a consent lifetime, which retention covers); pruning past it removes it.
    sealed.add_receipt(_receipt("aa" * 16))
    sealed.minimise_receipts("aa" * 16)
    sealed.prune_receipts(before=datetime.now(timezone.utc) - timedelta(days=1))
    assert sealed.consent_id_forgotten("aa" * 16) is True  # within retention: kept
    sealed.prune_receipts(before=datetime.now(timezone.utc) + timedelta(seconds=1))
    assert sealed.consent_id_forgotten("aa" * 16) is False
    assert raw(backend, url, "SELECT COUNT(*) FROM forgotten_consent_ids") == [(0,)]


# -- the receipt chain -----------------------------------------------------------------------------


def _three(store):
    return [store.add_receipt(_receipt(cid)) for cid in ("aa" * 16, "bb" * 16, "cc" * 16)]


def test_chain_verifies_when_untouched(sealed):
    _three(sealed)
    report = verify(sealed.receipt_chain(), sealed.seal)
    assert report.ok and report.checked == 3 and report.sealed == 3


@pytest.mark.parametrize(
    ("attack", "names", "says"),
    [
        pytest.param("UPDATE receipts SET data = REPLACE(CAST(data AS TEXT), '\"api\"', '\"form\"') WHERE seq = "
                     "(SELECT seq FROM receipts ORDER BY seq LIMIT 1 OFFSET 1)", 1, "altered", id="altered-method"),
        pytest.param("DELETE FROM receipts WHERE seq = (SELECT seq FROM receipts ORDER BY seq LIMIT 1 OFFSET 1)",
                     2, "removed", id="removed-middle"),
        pytest.param("DELETE FROM receipts WHERE seq = (SELECT MAX(seq) FROM receipts)", None, "removed",
                     id="removed-last"),
        pytest.param("DELETE FROM receipts WHERE seq = (SELECT MIN(seq) FROM receipts)", 1, "removed",
                     id="removed-first"),
    ],
)
def test_chain_names_the_first_receipt_altered_or_removed(backend, url, sealed, attack, names, says):
    rows = _three(sealed)
    if backend.kind == "postgres":
        attack = attack.replace("data = REPLACE(CAST(data AS TEXT)", "data = CAST(REPLACE(CAST(data AS TEXT)")
        attack = attack.replace("'\"form\"')", "'\"form\"') AS JSONB)")
    raw(backend, url, attack)
    for seal in (sealed.seal, None):  # links alone catch it too
        report = verify(sealed.receipt_chain(), seal)
        assert not report.ok
        assert says in report.problem
        if names is not None:
            assert report.record_id == rows[names]["record_id"]
            assert rows[names]["record_id"] in report.problem


def test_chain_rewritten_without_the_key_is_caught_by_the_seals(backend, url, sealed):
    # Someone with database access alters a receipt and recomputes every hash after it.
    rows = _three(sealed)
    state = sealed.receipt_chain()
    forged = dict(state.rows[1].data, method="banner")
    from consentlib.store import chain

    running = state.rows[0].chain
    for row in state.rows[1:]:
        data = forged if row.seq == state.rows[1].seq else row.data
        value = chain.link(running, data, row.digest)
        stored = json.dumps(data) if backend.kind == "sqlite" else json.dumps(data)
        column = "data = ?" if backend.kind == "sqlite" else "data = CAST(? AS JSONB)"
        raw(backend, url, f"UPDATE receipts SET {column}, prev = ?, chain = ? WHERE seq = ?",
            (stored, running, value, row.seq))
        running = value
    raw(backend, url, "UPDATE receipt_chain SET chain = ?", (running,))
    assert verify(sealed.receipt_chain(), None).ok  # the links alone are fooled
    report = verify(sealed.receipt_chain(), sealed.seal)
    assert not report.ok and report.record_id == rows[1]["record_id"] and "seal" in report.problem


def test_chain_checked_with_a_key_that_did_not_seal_it_is_unverifiable(url, sealed):
    _three(sealed)
    report = verify(sealed.receipt_chain(), Seal([b"some-other-key-0123456789"]))
    assert not report.ok and report.unverifiable


def test_prune_leaves_a_sealed_checkpoint_and_a_verifiable_chain(backend, url, sealed):
    now = datetime.now(timezone.utc)
    sealed.add_receipt(_receipt(when=now - timedelta(days=500)))
    sealed.add_receipt(_receipt(when=now - timedelta(days=450)))
    kept = sealed.add_receipt(_receipt(when=now - timedelta(days=1)))
    assert sealed.prune_receipts(before=now - timedelta(days=400)) == 2
    assert sealed.prune_receipts(before=now - timedelta(days=400)) == 0  # idempotent
    assert [r["record_id"] for r in sealed.receipts()] == [kept["record_id"]]
    assert verify(sealed.receipt_chain(), sealed.seal).ok
    later = sealed.add_receipt(_receipt())
    assert verify(sealed.receipt_chain(), sealed.seal).ok
    raw(backend, url, "UPDATE receipt_checkpoints SET chain = ?", ("f" * 64,))  # forged cut
    report = verify(sealed.receipt_chain(), sealed.seal)
    assert not report.ok and "checkpoint" in report.problem
    assert later["replaces"] == kept["record_id"]


def test_concurrent_writers_keep_one_sealed_chain(backend, url):
    # Several processes appending at once (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
    # head row is locked FOR UPDATE): the chain never forks.
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        pool.starmap(append_sealed, [(url, f"{i:032x}", 20) for i in range(PROCESSES)])
    store = open_store(url, secret_key=KEYS)
    report = verify(store.receipt_chain(), store.seal)
    store.close()
    assert report.ok, report.problem
    assert report.checked == report.sealed == PROCESSES * 20


def append_sealed(url: str, consent_id: str, count: int) -> None:
    store = open_store(url, secret_key=KEYS)
    for i in range(count):
        store.add_receipt(_receipt(consent_id, granted=ALL if i % 2 else NECESSARY))
    store.close()


# -- retention -----------------------------------------------------------------------------------


def test_retention_is_read_from_the_store_url(backend, url):
    joiner = "&" if "?" in url else "?"
    store = open_store(f"{url}{joiner}receipts_days=400&mail_days=180")
    backend.stores.append(store)
    assert (store.retention.receipts_days, store.retention.mail_days) == (400, 180)
    store.add_receipt(_receipt())  # the options never reach the database driver
    with pytest.raises(ConfigurationError) as info:
        open_store(f"{url}{joiner}mail_days=soon")
    assert "whole number of days" in str(info.value)


def test_prune_mail_removes_statistics_and_keeps_proof(sealed):
    number = _subscriber(sealed)
    old = (datetime.now(timezone.utc) - timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sealed.add_mail_events([_event(number, when=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))])
    sealed.suppress_mail(ANA, list_id="offers", source="page")
    counts = sealed.prune_mail(before=datetime.now(timezone.utc) + timedelta(seconds=1))
    assert counts["events"] == 3 and counts["sends"] == 1
    assert sealed.prune_mail(before=datetime.now(timezone.utc)) == {"events": 0, "sends": 0, "changes": 0}
    assert sealed.mail_suppressed(ANA, list_id="offers") and sealed.mail_tracking_allowed(ANA, list_id="news")
    assert old  # (an event from before the permission is never kept in the first place)


# -- the change queue ------------------------------------------------------------------------------


def test_each_receipt_and_unsubscribe_queues_one_change(sealed):
    receipt = sealed.add_receipt(_receipt("aa" * 16))
    sealed.suppress_mail(ANA, list_id="news", source="one-click", campaign="c1")
    sealed.suppress_mail(ANA, list_id="news", source="page")  # not new: no change
    sealed.set_mail_tracking(ANA, list_id="news", allowed=False, source="mail-link")
    kinds = [(c["topic"], c["kind"]) for c in sealed.changes()]
    assert kinds == [("consent", "consent"), ("mail", "unsubscribe"), ("mail", "mail-tracking")]
    (consent,) = sealed.claim_changes(topics=["consent"])
    assert consent["data"]["record_id"] == receipt["record_id"] and consent["attempt"] == 1
    assert consent["data"]["categories"] == receipt["categories"]
    assert len({c["id"] for c in sealed.changes()}) == 3  # stable ids


def test_a_failed_change_is_retried_later_and_a_delivered_one_is_gone(sealed):
    sealed.suppress_mail(ANA, list_id="news", source="one-click")
    (change,) = sealed.claim_changes()
    assert sealed.claim_changes() == []  # leased: no second worker takes it
    sealed.finish_change(change["id"], error="provider down", retry_at=datetime.now(timezone.utc))
    (again,) = sealed.claim_changes()
    assert again["id"] == change["id"] and again["attempt"] == 2 and again["last_error"] == "provider down"
    sealed.finish_change(again["id"])
    assert sealed.changes() == [] and sealed.claim_changes() == []


def test_a_change_held_by_a_dead_worker_falls_due_after_its_lease(sealed):
    sealed.suppress_mail(ANA, list_id="news", source="one-click")
    (held,) = sealed.claim_changes(lease_seconds=0.2)  # the worker is killed here
    import time

    time.sleep(0.3)
    (again,) = sealed.claim_changes()
    assert again["id"] == held["id"]


def test_schema_migrates_an_older_sqlite_file(tmp_path):
    # A database made before chaining and the change queue keeps working.
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE receipts (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL UNIQUE, "
        "consent_id TEXT NOT NULL, time TEXT NOT NULL, data TEXT NOT NULL);")
    old = {**_receipt("aa" * 16), "replaces": None}
    conn.execute("INSERT INTO receipts (record_id, consent_id, time, data) VALUES (?, ?, ?, ?)",
                 (old["record_id"], old["consent_id"], old["time"], json.dumps(old)))
    conn.commit()
    conn.close()
    store = open_store(f"sqlite:///{path}", secret_key=KEYS)
    new = store.add_receipt(_receipt("aa" * 16))
    assert new["replaces"] == old["record_id"]
    report = verify(store.receipt_chain(), store.seal)
    assert report.ok and report.checked == 2 and report.sealed == 1
    store.close()
