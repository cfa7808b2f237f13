"""``consentlib forget``, ``receipts verify``, ``receipts prune``, ``mail prune``,
``changes deliver``: exit 0 success, 1 the finding, 2 usage, 3 store down or could
not verify; against SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from consentlib.cli import main
from consentlib.store import ForgottenConsentId, open_store
from tests.integration.test_store_contract import _receipt, backend  # noqa: F401
from tests.integration.test_store_rights import ANA, KEYS, _subscriber, raw, tables_holding

def exit_code(argv: list[str]) -> int:
    """What the command exits with, whether it returns or (a usage error) raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def accept(change: dict) -> None:
    pass


def refuse(change: dict) -> None:
    raise ConnectionError("the provider is down")


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "secret_keys"
    path.write_text("\n".join(KEYS) + "\n")
    return str(path)


@pytest.fixture
def url(backend):
    return backend.url()


def test_forget_recipient(backend, url, keyfile, capsys):
    store = open_store(url, secret_key=KEYS)
    _subscriber(store)
    store.suppress_mail(ANA, list_id="news", source="one-click")
    assert main(["forget", "--store", url, "--recipient", " ana@EXAMPLE.com", "--secret-key-file", keyfile]) == 0
    assert "forgot ana@example.com" in capsys.readouterr().out
    assert tables_holding(backend, url, ANA) == {"changes"}  # the erasure, waiting to be passed on
    assert store.mail_suppressed(ANA, list_id="news")
    assert main(["forget", "--store", url, "--recipient", ANA, "--secret-key-file", keyfile]) == 0
    assert "nothing to forget" in capsys.readouterr().out  # again: a no-op that says so
    assert [c["kind"] for c in store.changes()] == ["mail-erasure"]  # and the first erasure still waits
    store.close()


def test_forget_recipient_without_the_key_is_a_usage_error(url, capsys, monkeypatch):
    monkeypatch.delenv("CONSENTLIB_SECRET_KEYS", raising=False)
    assert exit_code(["forget", "--store", url, "--recipient", ANA]) == 2
    assert "secret key" in capsys.readouterr().err


def test_forget_with_the_key_from_the_environment(url, monkeypatch, capsys):
    open_store(url).mail_stats()  # an existing store: commands that delete never create one
    monkeypatch.setenv("CONSENTLIB_SECRET_KEYS", "\n".join(KEYS))
    assert main(["forget", "--store", url, "--recipient", "nobody@example.com"]) == 0
    assert "nothing to forget" in capsys.readouterr().out


def test_forget_store_down_exits_3_and_changes_nothing(backend, keyfile, capsys):
    down = backend.unreachable()
    assert main(["forget", "--store", down, "--recipient", ANA, "--secret-key-file", keyfile]) == 3
    assert main(["forget", "--store", down, "--consent-id", "aa" * 16, "--secret-key-file", keyfile]) == 3
    assert main(["receipts", "verify", "--store", down]) == 3
    assert main(["mail", "prune", "--store", down, "--older-than", "30"]) == 3
    assert "consentlib:" in capsys.readouterr().err


def test_forget_consent_id(backend, url, keyfile, capsys):
    # GDPR Art 17: the receipts keep only the proof (Art 17(3)(b),(e)), and the id is kept
    # only as a keyed fingerprint, so it never takes a receipt again.
    store = open_store(url, secret_key=KEYS)
    store.add_receipt(_receipt("aa" * 16))
    assert main(["forget", "--store", url, "--consent-id", "aa" * 16, "--secret-key-file", keyfile]) == 0
    out = capsys.readouterr().out
    assert "minimised 1 receipt" in out and "keyed fingerprint" in out
    assert store.receipts()[0]["ip_network"] is None
    assert store.consent_id_forgotten("aa" * 16)
    assert "forgotten_consent_ids" not in tables_holding(backend, url, "aa" * 16)
    with pytest.raises(ForgottenConsentId):
        store.add_receipt(_receipt("aa" * 16))
    assert main(["forget", "--store", url, "--consent-id", "bb" * 16, "--secret-key-file", keyfile]) == 0
    assert "nothing to forget" in capsys.readouterr().out
    assert not store.consent_id_forgotten("bb" * 16)  # unknown: nothing kept
    store.close()


def test_forget_consent_id_without_the_key_is_a_usage_error(url, capsys, monkeypatch):
    # Without the key the id could only be kept in clear, or not at all: refuse, change nothing.
    monkeypatch.delenv("CONSENTLIB_SECRET_KEYS", raising=False)
    store = open_store(url, secret_key=KEYS)
    store.add_receipt(_receipt("aa" * 16))
    assert exit_code(["forget", "--store", url, "--consent-id", "aa" * 16]) == 2
    assert "secret key" in capsys.readouterr().err
    assert store.receipts()[0]["ip_network"] == "192.0.2.0/24"
    store.close()


def test_receipts_verify_exit_codes(backend, url, keyfile, capsys):
    store = open_store(url, secret_key=KEYS)
    rows = [store.add_receipt(_receipt(cid)) for cid in ("aa" * 16, "bb" * 16, "cc" * 16)]
    assert main(["receipts", "verify", "--store", url, "--secret-key-file", keyfile]) == 0
    assert "3 receipt(s) verified (3 sealed)" in capsys.readouterr().out
    assert main(["receipts", "verify", "--store", url, "--secret-key", "not-the-key-0123456789"]) == 3
    raw(backend, url, "DELETE FROM receipts WHERE record_id = ?", (rows[1]["record_id"],))
    assert main(["receipts", "verify", "--store", url, "--secret-key-file", keyfile]) == 1
    err = capsys.readouterr().err
    assert "removed" in err and rows[2]["record_id"] in err
    store.close()


def test_receipts_verify_after_a_key_rotation_needs_the_retired_key(url, capsys):
    # Receipts sealed before a rotation carry the retired key's seal: verify needs it too
    # (the site no longer lists it), and says so when it is missing, naming the receipt.
    retired, current = "the-retired-key-0123456789", "the-current-key-0123456789"
    before = open_store(url, secret_key=[retired])
    first = before.add_receipt(_receipt("aa" * 16))
    before.close()
    after = open_store(url, secret_key=[current])
    after.add_receipt(_receipt("bb" * 16))
    after.close()
    assert main(["receipts", "verify", "--store", url, "--secret-key", current]) == 3
    err = capsys.readouterr().err
    assert first["record_id"] in err and "retired ones too" in err
    assert main(["receipts", "verify", "--store", url, "--secret-key", current, "--secret-key", retired]) == 0
    assert "2 receipt(s) verified (2 sealed)" in capsys.readouterr().out


def test_receipts_prune_by_the_urls_retention_then_verify(url, keyfile, capsys):
    store = open_store(url, secret_key=KEYS)
    now = datetime.now(timezone.utc)
    store.add_receipt(_receipt(when=now - timedelta(days=500)))
    store.add_receipt(_receipt(when=now - timedelta(days=1)))
    joiner = "&" if "?" in url else "?"
    with_retention = f"{url}{joiner}receipts_days=400"
    for _ in range(2):  # cron: idempotent
        assert main(["receipts", "prune", "--store", with_retention, "--secret-key-file", keyfile]) == 0
    out = capsys.readouterr().out
    assert "removed 1 receipt(s) older than 400 day(s)" in out and "removed 0 receipt(s)" in out
    assert main(["receipts", "verify", "--store", url, "--secret-key-file", keyfile]) == 0
    assert exit_code(["receipts", "prune", "--store", url]) == 2  # no retention anywhere: say how long
    assert "--older-than" in capsys.readouterr().err
    store.close()


def test_receipts_export_marks_expired_categories(url, capsys):
    store = open_store(url)
    old = store.add_receipt(_receipt("aa" * 16, when=datetime.now(timezone.utc) - timedelta(days=200)))
    assert main(["receipts", "export", "--store", url]) == 0
    (exported,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert exported["status"] == "expired"  # ISO/IEC TS 27560: the choice no longer counts
    assert set(exported["categories"].values()) == {"expired"}
    assert exported["granted"] == old["granted"]  # what was chosen stays readable
    store.close()


def test_mail_prune(url, capsys):
    store = open_store(url)
    _subscriber(store)
    joiner = "&" if "?" in url else "?"
    assert main(["mail", "prune", "--store", f"{url}{joiner}mail_days=180"]) == 0
    assert "removed 0 open/click event(s)" in capsys.readouterr().out  # all recent
    store.close()


def test_changes_deliver_once_and_retry(url, capsys):
    store = open_store(url)
    store.suppress_mail(ANA, list_id="news", source="one-click")
    store.add_receipt(_receipt())
    assert main(["changes", "deliver", "--store", url, "--handler", "tests.integration.test_cli_rights:refuse", "--once"]) == 0
    assert "0 change(s); 2 failed" in capsys.readouterr().out
    assert [c["attempt"] for c in store.changes()] == [1, 1]
    assert all(c["last_error"].startswith("ConnectionError") for c in store.changes())
    store.close()


def test_changes_deliver_by_topic(url, capsys):
    store = open_store(url)
    store.suppress_mail(ANA, list_id="news", source="one-click")
    store.add_receipt(_receipt())
    assert main(["changes", "deliver", "--store", url, "--handler", "tests.integration.test_cli_rights:accept",
                 "--topic", "mail", "--once"]) == 0
    assert "delivered 1 change(s)" in capsys.readouterr().out
    assert [c["kind"] for c in store.changes()] == ["consent"]
    store.close()


@pytest.mark.parametrize("spec", ["tests.integration.test_cli_rights", "tests.nope:x", "tests.integration.test_cli_rights:ANA"])
def test_changes_deliver_bad_handler_is_a_usage_error(url, spec, capsys):
    assert exit_code(["changes", "deliver", "--store", url, "--handler", spec, "--once"]) == 2
    assert "--handler" in capsys.readouterr().err
