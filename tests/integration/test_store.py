"""What only the SQLite store does (file on first use, WAL, recovery), and receipt building.

Everything every store does — receipt chains, since, prune, undeclared cookies, several
processes, fork — is in test_store_contract.py, which runs against SQLite too.
"""
from __future__ import annotations

import sqlite3

import pytest

from consentlib import ConfigurationError, StoreUnavailable
from consentlib.records.receipts import build_receipt, truncate_ip, user_agent_family
from consentlib.store import Store, open_store
from consentlib.store.sqlite import SQLiteStore
from tests.support.apps import ALL, NECESSARY, POLICY


def _receipt(consent_id="ab" * 16, granted=ALL, when=None, method="api", previously=frozenset()):
    return build_receipt(policy=POLICY, consent_id=consent_id, granted=granted, previously_granted=previously,
                         method=method, gpc=False, dnt=False, lifetime=180 * 86400, ip="192.0.2.10",
                         user_agent=None, when=when)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/consent.db")
    yield s
    s.close()


def test_sqlite_store_file_created_on_first_use(tmp_path):
    path = tmp_path / "deep" / "dir" / "consent.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SQLiteStore) and isinstance(store, Store)
    assert not path.exists()
    assert store.receipts() == []
    assert path.exists()
    store.close()


def test_sqlite_store_relative_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel.db")
    store.add_receipt(_receipt())
    assert (tmp_path / "rel.db").exists()
    store.close()


def test_sqlite_store_uses_wal_and_busy_timeout(store, tmp_path):
    store.add_receipt(_receipt())
    with sqlite3.connect(tmp_path / "consent.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = store._connection()
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: str(p), id="path-is-directory"),
        pytest.param(lambda p: (p / "junk.db").write_bytes(b"not a database" * 100) and str(p / "junk.db"),
                     id="not-a-database"),
    ],
)
def test_store_unavailable_is_store_unavailable(tmp_path, make):
    store = SQLiteStore(make(tmp_path))
    with pytest.raises(StoreUnavailable) as info:
        store.add_receipt(_receipt())
    assert str(tmp_path) in str(info.value)
    with pytest.raises(StoreUnavailable):
        store.receipts()


def test_store_recovers_after_failed_first_use(tmp_path):
    # The first connection fails (the file is not a database); once the file is fixed
    # the same store object works: a failure must not leave a half-made connection.
    path = tmp_path / "c.db"
    path.write_bytes(b"not a database" * 100)
    store = SQLiteStore(str(path))
    with pytest.raises(StoreUnavailable):
        store.receipts()
    path.unlink()
    store.add_receipt(_receipt())
    assert len(store.receipts()) == 1
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://db/consent", id="unknown-scheme"),
        pytest.param("sqlite:///", id="no-file"),
        pytest.param("consent.db", id="bare-path"),
        pytest.param(None, id="none"),
    ],
)
def test_open_store_bad_url_is_configuration_error(url):
    with pytest.raises(ConfigurationError) as info:
        open_store(url)
    assert "sqlite:///" in str(info.value)


# -- receipt building -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "previously", "statuses"),
    [
        pytest.param(ALL, frozenset(), {"necessary": "given", "preferences": "given", "analytics": "given",
                                        "marketing": "given"}, id="accept-all"),
        pytest.param(NECESSARY, frozenset(), {"necessary": "given", "preferences": "refused",
                                              "analytics": "refused", "marketing": "refused"}, id="reject-all"),
        pytest.param(NECESSARY | {"analytics"}, ALL, {"necessary": "given", "preferences": "withdrawn",
                                                      "analytics": "given", "marketing": "withdrawn"},
                     id="narrowed"),
    ],
)
def test_consent_proof_receipt_statuses(granted, previously, statuses):
    receipt = _receipt(granted=granted, previously=previously)
    assert receipt["categories"] == statuses
    assert receipt["granted"] == sorted(granted)
    assert receipt["denied"] == sorted(ALL - granted)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.255", "192.0.2.0/24"),
        ("::ffff:192.0.2.9", "192.0.2.0/24"),
        ("2001:db8:ffff:1::9", "2001:db8:ffff::/48"),
        (" 10.1.2.3 ", "10.1.2.0/24"),
        ("10.1.2.3, 10.0.0.1", None),
        ("", None),
        (None, None),
    ],
)
def test_consent_proof_ip_truncated_to_network(address, network):
    assert truncate_ip(address) == network


def test_consent_proof_user_agent_family_only():
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert user_agent_family(firefox) == "Firefox 128 / Linux"
    assert user_agent_family(None) is None
    assert user_agent_family("x" * 10000)  # long junk does not fail


def test_incomplete_store_object_error_names_what_is_missing():
    from consentlib import ConfigurationError
    from consentlib.store import open_store

    class ReceiptsOnly:
        def add_receipt(self, receipt):
            return receipt

        def receipts(self, **kwargs):
            return []

    with pytest.raises(ConfigurationError, match="lacks .*suppress_mail"):
        open_store(ReceiptsOnly())


@pytest.mark.parametrize("query", ["_GUARDIAN_RECEIPTS", "_GUARDIAN_TOKEN_USED"])
def test_minor_grant_lookup_searches_an_index_never_scans(tmp_path, query):
    """A minor's page view looks up the guardian's grant: one index search, however many
    receipts the visitor made (they can add them through the public endpoint)."""
    from consentlib.store import sqlite

    store = sqlite.SQLiteStore(str(tmp_path / "c.db"))
    store.receipts()  # the schema, as a first request makes it
    plan = [row[3] for row in store._connection().execute(
        "EXPLAIN QUERY PLAN " + getattr(sqlite, query), {"consent_id": "ab" * 16, "revision": 3, "token": "n1"})]
    assert any("receipts_guardian" in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
