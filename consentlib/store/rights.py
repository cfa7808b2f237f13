"""The visitor's rights over what the store keeps, for the SQLite and PostgreSQL stores
alike: the receipt chain (tamper evidence), erasure, retention and the change queue.

Each function runs inside the caller's one transaction (``conn``), so an erasure, a
prune or a receipt with its change is all done or not at all. ``d`` is the store's
:class:`Dialect`: SQL is written with ``?`` and turned into ``%s`` for psycopg.

The change queue (``changes``) is the outbox of the transactional-outbox pattern: a
receipt, an unsubscribe, a tracking choice or an erasure writes its change row in the
same transaction, so a change is never lost and never told before it is committed.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import consentlib.store.chain as chain
from consentlib.store.base import ForgottenConsentId
from consentlib.store.chain import ChainRow, ChainState
from consentlib.store.clock import time_text

if TYPE_CHECKING:
    from consentlib.store.seal import Seal

Row = tuple[Any, ...]  # a row as either driver returns it
Params = Sequence[Any] | dict[str, Any]  # a query's parameters, by position or by name
#: ``read(sql, params)``: a store's query outside a write transaction.
Read = Callable[[str, Params], list[Row]]

# The chain head is one row; appenders lock it, so the chain never forks.
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipt_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, chain TEXT NOT NULL, seal TEXT);
CREATE TABLE IF NOT EXISTS receipt_checkpoints (
    seq INTEGER PRIMARY KEY, chain TEXT NOT NULL, seal TEXT, time TEXT NOT NULL, removed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
    kind TEXT NOT NULL, subject TEXT, time TEXT NOT NULL, data TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, due TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS changes_due ON changes (topic, due);
CREATE INDEX IF NOT EXISTS changes_subject ON changes (subject);
CREATE TABLE IF NOT EXISTS forgotten_consent_ids (fingerprint TEXT PRIMARY KEY, time TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS forgotten_consent_ids_time ON forgotten_consent_ids (time)
"""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipt_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, chain TEXT NOT NULL, seal TEXT);
CREATE TABLE IF NOT EXISTS receipt_checkpoints (
    seq BIGINT PRIMARY KEY, chain TEXT NOT NULL, seal TEXT, time TEXT COLLATE "C" NOT NULL, removed BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, change_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
    kind TEXT NOT NULL, subject TEXT, time TEXT COLLATE "C" NOT NULL, data TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, due TEXT COLLATE "C" NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS changes_due ON changes (topic, due);
CREATE INDEX IF NOT EXISTS changes_subject ON changes (subject);
CREATE TABLE IF NOT EXISTS forgotten_consent_ids (
    fingerprint TEXT COLLATE "C" PRIMARY KEY, time TEXT COLLATE "C" NOT NULL);
CREATE INDEX IF NOT EXISTS forgotten_consent_ids_time ON forgotten_consent_ids (time)
"""

# Added to the receipts table of a database made by an earlier consentlib.
RECEIPT_COLUMNS = ("prev", "chain", "seal", "digest", "salt")
FORGOTTEN_SENDS = "forgotten"


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgres"
    receipt_out: Callable[[dict[str, Any]], Any]  # a receipt as the data column takes it
    receipt_in: Callable[[Any], dict[str, Any]]
    clean: Callable[[Any], Any]  # what the driver will store (PostgreSQL: no NUL)
    lock: str  # row lock suffix for the chain head: "" in SQLite (BEGIN IMMEDIATE locks all)

    def q(self, sql: str) -> str:
        return sql if self.name == "sqlite" else sql.replace("?", "%s")


def run_script(conn: Any, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def migrate(conn: Any, d: Dialect, existing_columns: set[str]) -> None:
    """Bring an older database up to date: add the chain columns, the head row, and
    chain the receipts written before chaining (links only: no key is at hand here).

    ALTER TABLE only when a column is missing: it locks the whole table, and on
    PostgreSQL it would deadlock with another process already appending receipts."""
    for column in RECEIPT_COLUMNS:
        if column not in existing_columns:
            conn.execute(f"ALTER TABLE receipts ADD COLUMN {column} TEXT")
    conn.execute(d.q("INSERT INTO receipt_chain (id, seq, chain, seal) VALUES (1, 0, ?, NULL) "
                     "ON CONFLICT (id) DO NOTHING"), (chain.GENESIS,))
    legacy = conn.execute("SELECT seq, data FROM receipts WHERE chain IS NULL ORDER BY seq").fetchall()
    if not legacy:
        return
    seq, running = conn.execute(f"SELECT seq, chain FROM receipt_chain WHERE id = 1{d.lock}").fetchone()
    for seq, data in legacy:
        receipt = d.receipt_in(data)
        salt = chain.new_salt()
        digest = chain.extras_digest(receipt, salt)
        value = chain.link(running, receipt, digest)
        conn.execute(d.q("UPDATE receipts SET prev = ?, chain = ?, digest = ?, salt = ? WHERE seq = ?"),
                     (running, value, digest, salt, seq))
        running = value
    conn.execute(d.q("UPDATE receipt_chain SET seq = ?, chain = ?, seal = NULL WHERE id = 1"), (seq, running))


# -- receipts ------------------------------------------------------------------------------


def append_receipt(conn: Any, d: Dialect, receipt: dict[str, Any], seal: Seal | None) -> dict[str, Any]:
    """Link ``receipt`` to the chain head, seal it, and queue its change. A receipt of
    an erased consent id is refused (:class:`ForgottenConsentId`), checked after the
    head is locked, so an erasure committed a moment before is seen."""
    _, running = conn.execute(f"SELECT seq, chain FROM receipt_chain WHERE id = 1{d.lock}").fetchone()
    if is_forgotten_consent_id(conn, d, receipt["consent_id"], seal):
        raise ForgottenConsentId(
            "This consent id was erased on the visitor's request (GDPR Art 17); record the choice under a new "
            "consent id (consentlib.consent.new_consent_id()) instead.")
    row = conn.execute(d.q("SELECT record_id FROM receipts WHERE consent_id = ? ORDER BY seq DESC LIMIT 1"),
                       (receipt["consent_id"],)).fetchone()
    stored: dict[str, Any] = d.clean({**receipt, "replaces": row[0] if row else None})
    salt = chain.new_salt()
    digest = chain.extras_digest(stored, salt)
    value = chain.link(running, stored, digest)
    (seq,) = conn.execute(d.q(
        "INSERT INTO receipts (record_id, consent_id, time, data, prev, chain, seal, digest, salt) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq"),
        (stored["record_id"], stored["consent_id"], stored["time"], d.receipt_out(stored), running, value,
         seal.sign(value) if seal else None, digest, salt),
    ).fetchone()
    conn.execute(d.q("UPDATE receipt_chain SET seq = ?, chain = ?, seal = ? WHERE id = 1"),
                 (seq, value, seal.sign(chain.head_text(seq, value)) if seal else None))
    enqueue(conn, d, "consent", "consent", stored["consent_id"], {
        key: stored.get(key) for key in ("consent_id", "record_id", "time", "revision", "categories", "granted",
                                         "denied", "method", "signals", "replaces")
    })
    return stored


def chain_state(conn: Any, d: Dialect) -> ChainState:
    """The chain as one consistent snapshot (the head is held while it is read)."""
    head = conn.execute(f"SELECT seq, chain, seal FROM receipt_chain WHERE id = 1{d.lock}").fetchone()
    checkpoint = conn.execute("SELECT seq, chain, seal FROM receipt_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
    rows = conn.execute(d.q(
        "SELECT seq, record_id, data, prev, chain, seal, digest, salt FROM receipts WHERE seq <= ? ORDER BY seq"),
        (head[0],)).fetchall()
    return ChainState(
        rows=[ChainRow(seq, record_id, d.receipt_in(data), prev, value, seal, digest, salt)
              for seq, record_id, data, prev, value, seal, digest, salt in rows],
        head=tuple(head), checkpoint=tuple(checkpoint) if checkpoint else None,
    )


def minimise_receipts(conn: Any, d: Dialect, consent_id: str, seal: Seal) -> int:
    """Erase what only explained a visitor's receipts (IP network, user agent); keep
    what proves the choice (GDPR Art 17(3)(b),(e)). Returns how many receipts it has.

    The id itself is then kept only as a keyed fingerprint (newest key), in the same
    transaction: a browser still holding it gets a fresh id at its next choice, so the
    erased id never links anything again. The chain head is locked first, as appending
    does, so a receipt is either written before the erasure (and minimised with the
    others) or sees the fingerprint and is refused."""
    conn.execute(f"SELECT seq FROM receipt_chain WHERE id = 1{d.lock}").fetchone()
    rows = conn.execute(d.q("SELECT seq, data, salt FROM receipts WHERE consent_id = ?"), (consent_id,)).fetchall()
    for seq, data, salt in rows:
        if salt is not None:
            receipt = {**d.receipt_in(data), **{k: None for k in chain.EXTRA_FIELDS}}
            conn.execute(d.q("UPDATE receipts SET data = ?, salt = NULL WHERE seq = ?"), (d.receipt_out(receipt), seq))
    if rows:
        conn.execute(d.q("INSERT INTO forgotten_consent_ids (fingerprint, time) VALUES (?, ?) "
                         "ON CONFLICT (fingerprint) DO NOTHING"),
                     (seal.consent_id_fingerprints(consent_id)[0], time_text()))
        enqueue(conn, d, "consent", "consent-erasure", consent_id, {"consent_id": consent_id})
    return len(rows)


def forgotten_query(d: Dialect, consent_id: str, seal: Seal) -> tuple[str, Row]:
    """Whether ``consent_id`` was erased: its fingerprint by any key the site still
    lists, so an erasure fingerprinted with an older key is still recognised."""
    fingerprints = seal.consent_id_fingerprints(consent_id)
    marks = ", ".join("?" * len(fingerprints))
    return d.q(f"SELECT 1 FROM forgotten_consent_ids WHERE fingerprint IN ({marks}) LIMIT 1"), tuple(fingerprints)


def is_forgotten_consent_id(conn: Any, d: Dialect, consent_id: str, seal: Seal | None) -> bool:
    # Without keys nothing can have been fingerprinted (erasing needs them).
    return seal is not None and conn.execute(*forgotten_query(d, consent_id, seal)).fetchone() is not None


def prune_receipts(conn: Any, d: Dialect, before: datetime, seal: Seal | None) -> int:
    """Cut the chain's oldest end: every receipt up to the first one still within
    retention, leaving a sealed checkpoint where the chain now starts."""
    conn.execute(f"SELECT seq FROM receipt_chain WHERE id = 1{d.lock}").fetchone()
    cutoff = time_text(before)
    (keep_from,) = conn.execute(d.q("SELECT MIN(seq) FROM receipts WHERE time >= ?"), (cutoff,)).fetchone()
    where, params = ("WHERE seq < ?", (keep_from,)) if keep_from is not None else ("", ())
    last = conn.execute(d.q(f"SELECT seq, chain FROM receipts {where} ORDER BY seq DESC LIMIT 1"), params).fetchone()
    conn.execute(d.q("DELETE FROM changes WHERE topic = 'consent' AND time < ?"), (cutoff,))
    # An erased id's fingerprint is needed only while a browser may still hold the id:
    # at most a consent lifetime after the erasure, which retention must cover anyway
    # (a receipt must outlive the consent it proves). Then it goes (GDPR Art 5(1)(e)).
    conn.execute(d.q("DELETE FROM forgotten_consent_ids WHERE time < ?"), (cutoff,))
    if last is None:
        return 0
    seq, value = last
    removed: int = conn.execute(d.q("DELETE FROM receipts WHERE seq <= ?"), (seq,)).rowcount
    conn.execute(d.q("INSERT INTO receipt_checkpoints (seq, chain, seal, time, removed) VALUES (?, ?, ?, ?, ?)"),
                 (seq, value, seal.sign(chain.checkpoint_text(seq, value)) if seal else None, time_text(), removed))
    return removed


# -- mail ----------------------------------------------------------------------------------


def suppression_keys(address: str, seal: Seal | None) -> list[str]:
    """The address and, for a store with keys, its keyed hashes (a forgotten address)."""
    return [address, *(seal.address_hashes(address) if seal else [])]


def suppressed_query(d: Dialect, address: str, list_id: str, seal: Seal | None) -> tuple[str, Row]:
    keys = suppression_keys(address, seal)
    marks = ", ".join("?" * len(keys))
    return (d.q(f"SELECT 1 FROM mail_suppressions WHERE list_id = ? AND recipient IN ({marks}) LIMIT 1"),
            (list_id, *keys))


def is_suppressed(conn: Any, d: Dialect, address: str, list_id: str, seal: Seal | None) -> bool:
    return conn.execute(*suppressed_query(d, address, list_id, seal)).fetchone() is not None


def forget_recipient(conn: Any, d: Dialect, address: str, seal: Seal) -> dict[str, Any]:
    """Erase ``address`` (GDPR Art 17): its opens, clicks, tracking permissions and
    number go; its sends stay as counts with no one behind them; its unsubscribes stay
    as a keyed hash, so it is never mailed again (Art 17(3)(b), Art 21(3))."""
    hashed = seal.address_hashes(address)[0]
    q = d.q
    lists = [row[0] for row in conn.execute(
        q("SELECT list_id FROM mail_suppressions WHERE recipient = ? ORDER BY list_id"), (address,))]
    for list_id in lists:
        conn.execute(q("INSERT INTO mail_suppressions (recipient, list_id, time, source, campaign) "
                       "SELECT ?, list_id, time, source, campaign FROM mail_suppressions "
                       "WHERE recipient = ? AND list_id = ? ON CONFLICT (recipient, list_id) DO NOTHING"),
                     (hashed, address, list_id))
    done = {
        "unsubscribes": conn.execute(q("DELETE FROM mail_suppressions WHERE recipient = ?"), (address,)).rowcount,
        "events": conn.execute(q("DELETE FROM mail_events WHERE recipient = ?"), (address,)).rowcount,
        "tracking": conn.execute(q("DELETE FROM mail_tracking WHERE recipient = ?"), (address,)).rowcount,
        "sends": conn.execute(q("UPDATE mail_sends SET recipient = ? WHERE recipient = ?"),
                              (FORGOTTEN_SENDS, address)).rowcount,
        "recipient": conn.execute(q("DELETE FROM mail_recipients WHERE address = ?"), (address,)).rowcount,
    }
    done["found"] = any(done.values())
    if done["found"]:
        # Earlier changes about the address are replaced by one erasure change: a handler
        # that tells the mail provider to erase the address also stops its mail. An
        # erasure still waiting from an earlier request stays.
        conn.execute(q("DELETE FROM changes WHERE topic = 'mail' AND subject = ? AND kind <> 'mail-erasure'"),
                     (address,))
        enqueue(conn, d, "mail", "mail-erasure", address, {"recipient": address, "unsubscribed_from": lists})
    return done


def mail_data(read: Read, d: Dialect, address: str) -> dict[str, Any]:
    sends = read(d.q("SELECT campaign, list_id, sent_at, links, tracked FROM mail_sends WHERE recipient = ? "
                     "ORDER BY seq"), (address,))
    events = read(d.q("SELECT campaign, list_id, event, kind, time, agent, link FROM mail_events WHERE recipient = ? "
                      "ORDER BY seq"), (address,))
    return {
        "sends": [dict(zip(("campaign", "list_id", "sent_at", "links", "tracked"), (*r[:4], bool(r[4])))) for r in sends],
        "events": [dict(zip(("campaign", "list_id", "event", "kind", "time", "agent", "link"), r)) for r in events],
    }


def prune_mail(conn: Any, d: Dialect, before: datetime) -> dict[str, int]:
    """Delete opens, clicks and sends older than ``before`` (statistics, not proof)."""
    cutoff = time_text(before)
    return {
        "events": conn.execute(d.q("DELETE FROM mail_events WHERE time < ?"), (cutoff,)).rowcount,
        "sends": conn.execute(d.q("DELETE FROM mail_sends WHERE sent_at < ?"), (cutoff,)).rowcount,
        "changes": conn.execute(d.q("DELETE FROM changes WHERE topic = 'mail' AND time < ?"), (cutoff,)).rowcount,
    }


# -- the change queue ----------------------------------------------------------------------


def enqueue(conn: Any, d: Dialect, topic: str, kind: str, subject: str | None, data: dict[str, Any]) -> str:
    change_id = uuid.uuid4().hex
    moment = time_text()
    conn.execute(d.q("INSERT INTO changes (change_id, topic, kind, subject, time, data, due) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)"),
                 (change_id, topic, kind, subject, moment, json.dumps(d.clean(data), sort_keys=True), moment))
    return change_id


_CHANGE_COLUMNS = "change_id, topic, kind, time, data, attempts, error"


def _change(row: Row) -> dict[str, Any]:
    change_id, topic, kind, moment, data, attempts, error = row
    return {"id": change_id, "topic": topic, "kind": kind, "time": moment, "data": json.loads(data),
            "attempt": attempts, "last_error": error}


def claim_changes(conn: Any, d: Dialect, topics: Sequence[str] | None, limit: int, lease_seconds: float
                  ) -> list[dict[str, Any]]:
    """The oldest due changes, leased for ``lease_seconds``: a worker that dies (kill -9)
    holding them lets them fall due again when the lease ends, so none is lost."""
    now = datetime.now(timezone.utc)
    where, params = "due <= ?", [time_text(now)]
    if topics:
        where += f" AND topic IN ({', '.join('?' * len(topics))})"
        params += list(topics)
    # SKIP LOCKED: two workers on PostgreSQL take different changes instead of waiting.
    skip = " FOR UPDATE SKIP LOCKED" if d.name == "postgres" else ""
    rows = conn.execute(d.q(f"SELECT seq, {_CHANGE_COLUMNS} FROM changes WHERE {where} ORDER BY seq LIMIT ?{skip}"),
                        (*params, limit)).fetchall()
    if not rows:
        return []
    due = time_text(now + timedelta(seconds=lease_seconds))
    marks = ", ".join("?" * len(rows))
    conn.execute(d.q(f"UPDATE changes SET due = ?, attempts = attempts + 1 WHERE seq IN ({marks})"),
                 (due, *(row[0] for row in rows)))
    changes = [_change(row[1:]) for row in rows]
    for change in changes:
        change["attempt"] += 1
    return changes


def finish_change(conn: Any, d: Dialect, change_id: str, error: str | None, retry_at: datetime | None) -> None:
    """Delivered: the change is deleted (nothing about anyone lingers in the queue).
    Failed: it falls due again at ``retry_at``."""
    if error is None:
        conn.execute(d.q("DELETE FROM changes WHERE change_id = ?"), (change_id,))
    else:
        conn.execute(d.q("UPDATE changes SET error = ?, due = ? WHERE change_id = ?"),
                     (error[:2000], time_text(retry_at), change_id))


def list_changes(read: Read, d: Dialect, subject: str | None) -> list[dict[str, Any]]:
    where, params = ("WHERE subject = ?", (subject,)) if subject is not None else ("", ())
    return [_change(row) for row in read(d.q(f"SELECT {_CHANGE_COLUMNS} FROM changes {where} ORDER BY seq"), params)]
