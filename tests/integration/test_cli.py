"""The ``consentlib`` command: receipts export/prune/verify (and the keys verify needs), the
cookie declaration table, each command's exit codes in its --help, the defaults from
CONSENTLIB_STORE and CONSENTLIB_SECRET_KEYS, the audit without selenium, --version in a
real process."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from consentlib.cli import build_parser, main
from consentlib.records.receipts import build_receipt
from consentlib.store import open_store

from tests.support.apps import ALL, NECESSARY, POLICY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_defaults_from_the_machine(monkeypatch):
    # The tests set them where they mean to; a developer's shell must not.
    monkeypatch.delenv("CONSENTLIB_STORE", raising=False)
    monkeypatch.delenv("CONSENTLIB_SECRET_KEYS", raising=False)


def _add(store, consent_id, days_ago=0, granted=ALL):
    when = datetime.now(timezone.utc) - timedelta(days=days_ago)
    return store.add_receipt(build_receipt(policy=POLICY, consent_id=consent_id, granted=granted,
                                           previously_granted=frozenset(), method="form", gpc=False, dnt=False,
                                           lifetime=180 * 86400, ip=None, user_agent=None, when=when))


@pytest.fixture
def filled(tmp_path):
    url = f"sqlite:///{tmp_path}/consent.db"
    store = open_store(url)
    rows = [_add(store, "aa" * 16, days_ago=400), _add(store, "bb" * 16, days_ago=10),
            _add(store, "aa" * 16, days_ago=1, granted=NECESSARY)]
    store.close()
    return url, rows


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_cli_receipts_export_json_lines(filled, capsys):
    url, rows = filled
    assert main(["receipts", "export", "--store", url]) == 0
    exported = _lines(capsys.readouterr().out)
    assert [r["record_id"] for r in exported] == [r["record_id"] for r in rows]
    assert exported[2]["replaces"] == rows[0]["record_id"]


def test_cli_receipts_export_by_id(filled, capsys):
    url, rows = filled
    assert main(["receipts", "export", "--store", url, "--id", "aa" * 16]) == 0
    exported = _lines(capsys.readouterr().out)
    assert [r["consent_id"] for r in exported] == ["aa" * 16] * 2


@pytest.mark.parametrize(
    ("since", "count"),
    [
        pytest.param((datetime.now(timezone.utc) - timedelta(days=30)).date().isoformat(), 2, id="date"),
        pytest.param((datetime.now(timezone.utc) - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S"), 1,
                     id="datetime"),
        pytest.param("2000-01-01", 3, id="long-ago"),
    ],
)
def test_cli_receipts_export_since(filled, capsys, since, count):
    url, _ = filled
    assert main(["receipts", "export", "--store", url, "--since", since]) == 0
    assert len(_lines(capsys.readouterr().out)) == count


def test_cli_receipts_export_bad_since_is_usage_error(filled, capsys):
    url, _ = filled
    with pytest.raises(SystemExit) as info:
        main(["receipts", "export", "--store", url, "--since", "last tuesday"])
    assert info.value.code == 2
    assert "2026-11-01" in capsys.readouterr().err


def test_cli_receipts_prune(filled, capsys):
    url, rows = filled
    assert main(["receipts", "prune", "--store", url, "--older-than", "365"]) == 0
    assert "removed 1 receipt" in capsys.readouterr().out
    remaining = open_store(url).receipts()
    assert [r["record_id"] for r in remaining] == [rows[1]["record_id"], rows[2]["record_id"]]


def test_cli_store_unavailable_exits_3_with_message(tmp_path, capsys):
    assert main(["receipts", "export", "--store", f"sqlite:///{tmp_path}"]) == 3
    assert "consentlib:" in capsys.readouterr().err


def test_cli_bad_store_url_exits_3(capsys):
    assert main(["receipts", "export", "--store", "mysql://x"]) == 3
    assert "sqlite:///" in capsys.readouterr().err


def test_cli_cookies_markdown(capsys):
    assert main(["cookies", "--policy", "tests.support.apps:POLICY"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| Name | Category | Purpose | Lifetime | Set by |"
    assert "| `sid` | necessary | Keeps you signed in | session | this site |" in out
    assert "| `_ga*` | analytics | Counts visits | 2 years | Google |" in out
    # consentlib's own two cookies first, then the policy's.
    assert len(out) == 2 + 2 + len(POLICY.cookies)
    assert out[2].startswith("| `__Host-consent` (`consent` over http) | necessary | Records your choice")
    assert out[3].startswith("| `__Host-consent_id` (`consent_id` over http) | necessary | Links your choice")
    assert out[3].endswith("HttpOnly: scripts cannot read it). | 180 days | this site |")
    assert main(["cookies", "--policy", "tests.support.apps:POLICY", "--format", "md"]) == 0
    assert capsys.readouterr().out.splitlines() == out


def test_cli_cookies_json(capsys):
    assert main(["cookies", "--policy", "tests.support.apps:POLICY", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["__Host-consent", "__Host-consent_id", *(c.name for c in POLICY.cookies)]
    assert [r.get("http_name") for r in rows[:3]] == ["consent", "consent_id", None]
    assert rows[2] == {"name": "sid", "category": "necessary", "purpose": "Keeps you signed in",
                       "lifetime": "session", "third_party": ""}
    assert {r["name"]: r["third_party"] for r in rows}["_ga*"] == "Google"


def test_cli_cookies_html_escaped(capsys, monkeypatch):
    import types

    from consentlib import Category, Cookie, Policy

    module = types.ModuleType("cli_html_policy")
    module.POLICY = Policy(revision=1, categories=[Category("necessary", required=True)],
                           cookies=[Cookie("sid", "necessary", purpose="<script>alert(1)</script> & co",
                                           third_party="<b>Ads</b> & co")])
    monkeypatch.setitem(sys.modules, "cli_html_policy", module)
    assert main(["cookies", "--policy", "cli_html_policy:POLICY", "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<table>") and "<th>Name</th>" in out
    assert "<td>sid</td>" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in out and "<script>" not in out
    assert "<td>&lt;b&gt;Ads&lt;/b&gt; &amp; co</td>" in out


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        pytest.param("tests.support.apps", "must be a consentlib.Policy or a path naming one", id="a-module"),
        pytest.param("tests.nope:POLICY", "could not be imported", id="no-module"),
        pytest.param("tests.support.apps:NOPE", "could not be imported", id="no-attribute"),
        pytest.param("tests.support.apps:KEYS", "must be a consentlib.Policy", id="not-a-policy"),
    ],
)
def test_cli_cookies_bad_policy_spec_is_a_usage_error(spec, says, capsys):
    # Exit 2 (usage), never 1, which means "violation" to a CI script.
    with pytest.raises(SystemExit) as info:
        main(["cookies", "--policy", spec])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "usage:" in err


@pytest.mark.parametrize("spec", [
    pytest.param("tests.support.apps:POLICY", id="colon"),
    pytest.param("tests.support.apps.POLICY", id="dotted"),
])
def test_cli_reads_a_policy_path_in_the_form_every_door_reads(spec, capsys):
    """One documented form everywhere: the CLI, Flask's CONSENTLIB_POLICY, Django's POLICY."""
    assert main(["cookies", "--policy", spec, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_cli_cookies_undeclared_needs_store(capsys):
    with pytest.raises(SystemExit) as info:
        main(["cookies", "--undeclared"])
    assert info.value.code == 2
    assert "--store" in capsys.readouterr().err


def test_cli_version(capsys):
    from consentlib import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"consentlib {__version__}"


def _all_parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_cli_every_option_has_help_and_help_lists_exit_codes(capsys):
    parser = build_parser()
    for sub in _all_parsers(parser):
        for action in sub._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{sub.prog} {action.option_strings or action.dest} has no help text"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "exit codes:" in out and "2  usage error" in out and "3  could not verify" in out


@pytest.mark.parametrize("days", ["-1", "0", "soon"])
def test_cli_receipts_prune_refuses_a_retention_that_deletes_everything(filled, capsys, days):
    # GDPR Art 7(1): receipts are the proof of consent; a slip of the keyboard must not erase it.
    url, rows = filled
    with pytest.raises(SystemExit) as info:
        main(["receipts", "prune", "--store", url, "--older-than", days])
    assert info.value.code == 2
    assert "--older-than" in capsys.readouterr().err
    assert len(open_store(url).receipts()) == len(rows)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["receipts", "export"], id="receipts-export"),
        pytest.param(["receipts", "prune", "--older-than", "30"], id="receipts-prune"),
        pytest.param(["mail", "stats"], id="mail-stats"),
        pytest.param(["mail", "export"], id="mail-export"),
        pytest.param(["cookies", "--undeclared"], id="cookies-undeclared"),
    ],
)
def test_cli_never_creates_a_store_from_a_typo(tmp_path, capsys, command):
    typo = tmp_path / "typo.db"
    assert main([*command, "--store", f"sqlite:///{typo}"]) == 3
    assert "no store at" in capsys.readouterr().err
    assert not typo.exists()


def test_cli_python_dash_m_in_a_real_process(filled):
    url, rows = filled
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "consentlib", "receipts", "export", "--store", url, "--id", "bb" * 16],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [r["record_id"] for r in _lines(done.stdout)] == [rows[1]["record_id"]]
    done = subprocess.run([sys.executable, "-m", "consentlib", "cookies", "--policy", "tests.support.apps:POLICY",
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)[:3]] == ["__Host-consent", "__Host-consent_id", "sid"]
    done = subprocess.run([sys.executable, "-m", "consentlib"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    assert done.returncode == 2 and "usage" in done.stderr


def _exit_codes_in(help_text: str) -> dict[int, str]:
    """The codes listed under 'exit codes:' at the end of a --help, with their meaning."""
    section = help_text.split("exit codes:\n", 1)[1]
    return {int(line[2]): line[5:] for line in section.splitlines() if line[:2] == "  " and line[2:3].isdigit()}


@pytest.mark.parametrize(
    ("command", "codes"),
    [
        pytest.param(["receipts", "export"], {0, 2, 3}, id="receipts-export"),
        pytest.param(["receipts", "prune"], {0, 2, 3}, id="receipts-prune"),
        pytest.param(["receipts", "verify"], {0, 1, 2, 3}, id="receipts-verify"),
        pytest.param(["cookies"], {0, 1, 2, 3}, id="cookies"),
        pytest.param(["audit"], {0, 1, 2, 3}, id="audit"),
        pytest.param(["mail", "stats"], {0, 2, 3}, id="mail-stats"),
        pytest.param(["mail", "export"], {0, 2, 3}, id="mail-export"),
        pytest.param(["mail", "prune"], {0, 2, 3}, id="mail-prune"),
        pytest.param(["forget"], {0, 2, 3}, id="forget"),
        pytest.param(["changes", "deliver"], {0, 2, 3}, id="changes-deliver"),
    ],
)
def test_cli_each_commands_help_names_the_exit_codes_it_gives(command, codes, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    listed = _exit_codes_in(capsys.readouterr().out)
    # Only the codes it gives: a script must not wait for a finding (1) the command never reports.
    assert set(listed) == codes
    assert listed[2].startswith("usage error")


def test_cli_no_command_without_its_exit_codes():
    # A command added later without them fails here, not in a user's CI script.
    missing = [sub.prog for sub in _all_parsers(build_parser()) if "exit codes:" not in sub.format_help()]
    assert not missing, f"these --help texts list no exit codes: {missing}"


def _installed_command() -> str:
    from tests.support.prerequisites import needs_missing

    script = Path(sys.executable).with_name("consentlib")
    if not script.exists():
        needs_missing(f"the consentlib command is not installed next to {sys.executable}: pip install -e .")
    return str(script)


@pytest.mark.parametrize(
    "command",
    [pytest.param("script", id="consentlib"), pytest.param("module", id="python-dash-m-consentlib")],
)
def test_cli_version_in_a_real_process(command):
    from consentlib import __version__

    argv = [_installed_command()] if command == "script" else [sys.executable, "-m", "consentlib"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"consentlib {__version__}"


# -- receipts verify and the keys it needs; the environment's defaults -----------------------

KEY = "the-site-secret-key-for-tests"
OTHER_KEY = "another-secret-key-not-the-sites"


@pytest.fixture
def sealed(tmp_path):
    """A store the middleware opened with the site's key: every receipt and the head sealed."""
    url = f"sqlite:///{tmp_path}/sealed.db"
    store = open_store(url, secret_key=[KEY])
    for consent_id in ("aa" * 16, "bb" * 16, "cc" * 16):
        _add(store, consent_id)
    store.close()
    return url


def _exit_code(argv: list[str]) -> int:
    """The code a shell would see: main's return, or argparse's exit for a usage error."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("store", "flags", "env_keys", "code", "says"),
    [
        pytest.param("filled", [], None, 0, "none is sealed, so there was no seal to check", id="unsealed-no-key"),
        pytest.param("sealed", [], None, 2, "--secret-key-file FILE, --secret-key KEY or the CONSENTLIB_SECRET_KEYS",
                     id="sealed-no-key-is-a-usage-error"),
        pytest.param("sealed", ["--secret-key", KEY], None, 0, "3 receipt(s) verified (3 sealed)",
                     id="sealed-key-flag"),
        pytest.param("sealed", [], KEY, 0, "(3 sealed)", id="sealed-key-from-the-environment"),
        pytest.param("sealed", [], f"{KEY}\n{OTHER_KEY}\n", 0, "(3 sealed)", id="environment-one-key-a-line"),
        pytest.param("sealed", ["--secret-key", KEY], OTHER_KEY, 0, "(3 sealed)", id="flag-wins-over-env"),
        pytest.param("sealed", ["--secret-key", OTHER_KEY], KEY, 3, "seal", id="a-wrong-flag-is-not-rescued-by-env"),
    ],
)
def test_cli_receipts_verify_says_what_it_checked(request, monkeypatch, capsys, store, flags, env_keys, code, says):
    # "ok (0 sealed)" with exit 0 for a sealed store vouched for seals nobody checked.
    url = request.getfixturevalue(store)
    url = url[0] if isinstance(url, tuple) else url
    if env_keys is not None:
        monkeypatch.setenv("CONSENTLIB_SECRET_KEYS", env_keys)
    assert _exit_code(["receipts", "verify", "--store", url, *flags]) == code
    out, err = capsys.readouterr()
    assert says in (out if code == 0 else err)
    assert "(0 sealed)" not in out


def test_cli_receipts_verify_of_a_sealed_store_without_key_still_reports_a_broken_chain(sealed, capsys):
    # A removed receipt is a finding (exit 1) even when the seals cannot be checked.
    import sqlite3

    path = sealed[len("sqlite:///"):]
    with sqlite3.connect(path) as db:
        table = next(name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                     if "receipt" in name and {"seq", "chain"} <= {c[1] for c in db.execute(f"PRAGMA table_info({name})")})
        db.execute(f"DELETE FROM {table} WHERE seq = (SELECT MIN(seq) + 1 FROM {table})")
    assert _exit_code(["receipts", "verify", "--store", sealed]) == 1
    assert "removed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env_store", "flag_store", "code"),
    [
        pytest.param("filled", None, 0, id="from-the-environment"),
        pytest.param("typo", "filled", 0, id="the-flag-wins"),
        pytest.param("filled", "typo", 3, id="the-flag-wins-even-when-wrong"),
        pytest.param(None, None, 2, id="neither-is-a-usage-error"),
    ],
)
def test_cli_store_defaults_to_consentlib_store(filled, tmp_path, monkeypatch, capsys, env_store, flag_store, code):
    urls = {"filled": filled[0], "typo": f"sqlite:///{tmp_path}/typo.db"}
    if env_store:
        monkeypatch.setenv("CONSENTLIB_STORE", urls[env_store])
    flags = ["--store", urls[flag_store]] if flag_store else []
    assert _exit_code(["receipts", "export", *flags]) == code
    out, err = capsys.readouterr()
    if code == 0:
        assert len(_lines(out)) == len(filled[1])
    elif code == 2:
        assert "--store" in err
    assert not (tmp_path / "typo.db").exists()


def test_cli_help_names_the_environment_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "CONSENTLIB_STORE" in capsys.readouterr().out
    store_parsers = [sub for sub in _all_parsers(build_parser())
                     if any("--store" in action.option_strings for action in sub._actions)]
    assert store_parsers
    for sub in store_parsers:
        text = " ".join(sub.format_help().split())
        assert "$CONSENTLIB_STORE; this flag wins" in text, sub.prog
        if "--secret-key" in text:
            assert "$CONSENTLIB_SECRET_KEYS" in text and "one key per line" in text, sub.prog


def test_cli_audit_without_selenium_names_the_extra_to_install():
    # A real process in which selenium cannot be imported, as on a machine without the extra.
    script = ("import sys; sys.modules['selenium'] = None\n"
              "from consentlib.cli import main\n"
              "sys.exit(main(['audit', 'http://127.0.0.1:9/']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 3, done.stderr
    assert 'pip install "consentlib[testing]"' in done.stderr
    assert "Traceback" not in done.stderr
