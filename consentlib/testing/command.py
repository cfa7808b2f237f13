"""``consentlib audit``: run the audit in a fresh headless Chromium, print and write its findings.

Exit codes: 0 clean; 1 a violation was seen (in any state, even when a later state
could not be reached); 3 nothing was seen but something could not be verified, or
the audit could not run (no browser, the site did not answer). Usage errors are
argparse's 2.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from consentlib.testing import report as reports

if TYPE_CHECKING:
    from consentlib.policy import Policy

CLEAN, VIOLATION, UNVERIFIED = 0, 1, 3


def run_audit_command(url: str, *, policy: Policy | None = None, policy_name: str = "--policy",
                      json_path: str | None = None, html_path: str | None = None, junit_path: str | None = None,
                      timeout: float = 15.0,
                      accept: str | None = None, reject: str | None = None, reopen: str | None = None,
                      pages: int = 3, headers: Mapping[str, str] | None = None, lang: str | None = None) -> int:
    from consentlib.testing.audit import ConsentAudit
    from consentlib.testing.browser import audit_driver

    try:
        driver = audit_driver()
    except Exception as exc:  # no browser: the audit could not run at all
        print(f"consentlib audit: cannot start Chromium: {exc}", file=sys.stderr)
        return UNVERIFIED
    try:
        audit = ConsentAudit(driver, url, policy=policy, policy_name=policy_name, accept=accept, reject=reject,
                             reopen=reopen, pages=pages, timeout=timeout, fresh_driver=audit_driver,
                             headers=headers, lang=lang)
        audit.run()
        report = audit.report(screenshots=True)
    except Exception as exc:
        print(f"consentlib audit: error: could not audit {url}: {exc}", file=sys.stderr)
        return UNVERIFIED
    finally:
        driver.quit()
    if json_path:
        reports.write_json(audit.report(), json_path)
    if html_path:
        reports.write_html(report, html_path)
    if junit_path:
        reports.write_junit(report, junit_path)
    _print(report)
    code: int = report["exit_code"]
    return code


def _print(report: dict[str, Any]) -> None:
    judged = report["judged_by"]
    print(f"Banner: {report['banner'] or 'none found'}; judged by {judged['evidence']} ({judged['where']}); "
          f"{len(report['pages'])} page(s).")
    for v in report["violations"]:
        print(f"VIOLATION [{v['state']}] {v['kind']}: {v['detail']} (page {v['page']}; evidence: {v['evidence']})")
    for u in report["unverified"]:
        print(f"NOT VERIFIED [{u['state']}] {u['reason']} (page {u['page']})")
    unknown = sorted({f"{c['name']}" for s in report["snapshots"] for c in s["cookies"]
                      if c["verdict"]["needs_consent"] is None}
                     | {f"{k['key']}" for s in report["snapshots"] for k in s["storage"]
                        if k["verdict"]["needs_consent"] is None})
    if unknown:
        print(f"unknown, not an identifier or not judged: {', '.join(unknown)}")
    for note in report["notes"]:
        print(f"note: {note}")
    if report["verdict"] == "clean":
        print("clean: no tracking before a choice or after a rejection")
    elif report["verdict"] == "violation":
        print(f"{len(report['violations'])} violation(s)")
    else:
        print("could not verify: see NOT VERIFIED above")
