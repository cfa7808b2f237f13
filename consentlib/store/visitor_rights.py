"""The Store methods behind the visitor's rights, shared by the SQLite and PostgreSQL
stores. A store provides ``_transact(work)`` (run ``work(conn)`` in one committed
transaction), ``_read(sql, params)`` and ``dialect``; see consentlib.store.rights for
what each step does and why."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import consentlib.store.rights as rights
from consentlib.errors import ConfigurationError
from consentlib.store.base import Retention
from consentlib.store.chain import ChainState

if TYPE_CHECKING:
    from consentlib.store.seal import Seal

T = TypeVar("T")


class VisitorRights:
    seal: Seal | None = None  # given by open_store(..., secret_key=...)
    retention: Retention = Retention()
    dialect: rights.Dialect

    def _transact(self, work: Callable[[Any], T]) -> T:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _read(self, sql: str, params: rights.Params = ()) -> list[rights.Row]:  # pragma: no cover - the store's
        raise NotImplementedError

    # -- receipts ----------------------------------------------------------------------

    def add_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        """Append ``receipt`` to the chain (sealed when the store has keys), fill in
        ``replaces`` with the consent id's previous record, and queue its change."""
        return self._transact(lambda conn: rights.append_receipt(conn, self.dialect, receipt, self.seal))

    def prune_receipts(self, *, before: datetime) -> int:
        """Delete the oldest receipts up to the first one from ``before`` on; the chain
        keeps a (sealed) checkpoint where it was cut."""
        return self._transact(lambda conn: rights.prune_receipts(conn, self.dialect, before, self.seal))

    def receipt_chain(self) -> ChainState:
        return self._transact(lambda conn: rights.chain_state(conn, self.dialect))

    def minimise_receipts(self, consent_id: str) -> int:
        seal = self._keys_for("Erasing a consent id", "so that the id stays only as a keyed fingerprint")
        return self._transact(lambda conn: rights.minimise_receipts(conn, self.dialect, consent_id, seal))

    def consent_id_forgotten(self, consent_id: str) -> bool:
        if self.seal is None:
            return False  # erasing needs the keys: without them nothing was fingerprinted
        return bool(self._read(*rights.forgotten_query(self.dialect, consent_id, self.seal)))

    # -- mail ---------------------------------------------------------------------------

    def forget_mail_recipient(self, recipient: str) -> dict[str, Any]:
        seal = self._keys_for("Forgetting an address", "so that its unsubscribes can stay as a keyed hash")
        return self._transact(lambda conn: rights.forget_recipient(conn, self.dialect, recipient, seal))

    def mail_data(self, recipient: str) -> dict[str, Any]:
        return rights.mail_data(self._read, self.dialect, recipient)

    def prune_mail(self, *, before: datetime) -> dict[str, int]:
        return self._transact(lambda conn: rights.prune_mail(conn, self.dialect, before))

    def _keys_for(self, what: str, why: str) -> Seal:
        if self.seal is None:
            raise ConfigurationError(
                f"{what} needs the store opened with the site's secret key (open_store(url, secret_key=...)), {why}."
            )
        return self.seal

    # -- changes --------------------------------------------------------------------------

    def claim_changes(self, *, topics: Sequence[str] | None = None, limit: int = 100,
                      lease_seconds: float = 60.0) -> list[dict[str, Any]]:
        return self._transact(lambda conn: rights.claim_changes(conn, self.dialect, topics, limit, lease_seconds))

    def finish_change(self, change_id: str, *, error: str | None = None, retry_at: datetime | None = None) -> None:
        self._transact(lambda conn: rights.finish_change(conn, self.dialect, change_id, error, retry_at))

    def changes(self, *, subject: str | None = None) -> list[dict[str, Any]]:
        return rights.list_changes(self._read, self.dialect, subject)
