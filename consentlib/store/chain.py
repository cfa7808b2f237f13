"""The hash chain over all receipts of a store: tamper evidence for the proof of consent.

Each receipt row carries ``prev`` (the chain value before it) and ``chain``::

    chain = SHA-256(prev, SHA-256(core of the receipt), extras digest)

where the *core* is everything that proves the choice (GDPR Art 7(1)) and the *extras*
(``ip_network``, ``user_agent``) only help explain it. The extras enter the chain
through a salted digest, so that erasing them on request (``minimise``) leaves the
chain verifiable: the digest stays, the salt goes, and nothing can recover them.

A store opened with the site's keys seals every row and the chain head (HMAC, see
:class:`consentlib.store.seal.Seal`): someone who can write the database can rewrite
rows and recompute the hashes, but cannot seal them. Pruning by retention cuts the
chain's oldest end and leaves a sealed *checkpoint*: the chain value where it was cut.

What this cannot show: a database restored, as a whole, to an earlier state (head and
all). Keep the head that ``consentlib receipts verify`` prints somewhere else (a log) to
catch that too.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
EXTRA_FIELDS = ("ip_network", "user_agent")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def extras_digest(receipt: dict[str, Any], salt: str) -> str:
    return hashlib.sha256(salt.encode() + canonical({k: receipt.get(k) for k in EXTRA_FIELDS})).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def link(prev: str, receipt: dict[str, Any], digest: str) -> str:
    core = {k: v for k, v in receipt.items() if k not in EXTRA_FIELDS}
    return hashlib.sha256(f"{prev}\n{hashlib.sha256(canonical(core)).hexdigest()}\n{digest}".encode()).hexdigest()


def head_text(seq: int, chain: str) -> str:
    return f"head:{seq}:{chain}"


def checkpoint_text(seq: int, chain: str) -> str:
    return f"checkpoint:{seq}:{chain}"


@dataclass
class ChainRow:
    seq: int
    record_id: str
    data: dict[str, Any]
    prev: str
    chain: str
    seal: str | None
    digest: str
    salt: str | None  # None once minimised


@dataclass
class ChainState:
    """What a store holds of its chain, read in one snapshot."""

    rows: list[ChainRow]
    head: tuple[int, str, str | None]  # seq of the last receipt, chain value, seal
    checkpoint: tuple[int, str, str | None] | None = None  # the cut left by pruning


@dataclass
class ChainReport:
    ok: bool
    problem: str | None = None  # a sentence naming the first receipt altered or removed
    record_id: str | None = None
    checked: int = 0
    sealed: int = 0
    head: str = GENESIS
    notes: list[str] = field(default_factory=list)
    unverifiable: bool = False  # sealed with a key that was not given


def verify(state: ChainState, seal: Any | None) -> ChainReport:
    """Walk the chain from the checkpoint (or its start) to the head."""
    report = ChainReport(ok=True)
    start_seq, running = 0, GENESIS
    if state.checkpoint is not None:
        start_seq, running, cp_seal = state.checkpoint
        if seal is not None and not _sealed_ok(seal, checkpoint_text(start_seq, running), cp_seal, report,
                                                f"the pruning checkpoint at receipt number {start_seq}"):
            return report
    last_record, any_sealed = None, False
    for row in state.rows:
        if row.seq <= start_seq:
            continue
        where = f"receipt {row.record_id} (number {row.seq})"
        if row.salt is not None:
            if extras_digest(row.data, row.salt) != row.digest:
                return _broken(report, row, f"{where} was altered: its IP network or user agent changed.")
        elif any(row.data.get(k) is not None for k in EXTRA_FIELDS):
            return _broken(report, row, f"{where} was altered: it was minimised, yet holds an IP network or user agent.")
        if row.prev != running:
            after = f"after receipt {last_record}" if last_record else "at the start of the chain"
            if link(row.prev, row.data, row.digest) == row.chain:
                return _broken(report, row, f"A receipt was removed {after}, just before {where}.")
            return _broken(report, row, f"{where} was altered.")
        if link(running, row.data, row.digest) != row.chain:
            return _broken(report, row, f"{where} was altered.")
        if seal is not None:
            if row.seal is None:
                if any_sealed:
                    return _broken(report, row, f"{where} was altered: its seal was removed.")
            elif not _sealed_ok(seal, row.chain, row.seal, report, where, row):
                return report
            else:
                any_sealed = True
                report.sealed += 1
        running, last_record = row.chain, row.record_id
        report.checked += 1
    head_seq, head_chain, head_seal = state.head
    if head_chain != running:
        after = f"after receipt {last_record}" if last_record else "since the start of the chain"
        report.ok, report.problem = False, f"Receipts were removed {after}: the chain head names a later one."
        return report
    if seal is not None:
        if head_seal is None:
            if any_sealed:
                report.ok, report.problem = False, "The chain head's seal was removed."
                return report
            if report.checked:
                report.notes.append("No receipt is sealed yet: links were checked, seals could not be.")
        elif not _sealed_ok(seal, head_text(head_seq, head_chain), head_seal, report, "the chain head"):
            return report
        unsealed = report.checked - report.sealed
        if unsealed and any_sealed:
            report.notes.append(f"{unsealed} receipt(s) from before sealing began are covered by links only.")
    else:
        report.notes.append("Seals were not checked: pass the site's secret key to check them.")
    report.head = running
    return report


def _sealed_ok(seal: Any, text: str, value: str | None, report: ChainReport, what: str,
               row: ChainRow | None = None) -> bool:
    verdict = seal.check(text, value)
    if verdict:
        return True
    report.ok = False
    report.record_id = row.record_id if row else None
    if verdict is None:
        report.unverifiable = True
        report.problem = (f"The seal of {what} was made with a key that was not given; pass every key "
                          "the receipts were sealed with, retired ones too, newest first.")
    else:
        report.problem = f"{what[0].upper()}{what[1:]} was altered: its seal does not match."
    return False


def _broken(report: ChainReport, row: ChainRow, problem: str) -> ChainReport:
    report.ok, report.problem, report.record_id = False, problem, row.record_id
    return report
