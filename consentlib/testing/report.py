"""The audit's reports: JSON for machines, HTML for people."""
from __future__ import annotations

import json
from html import escape
from typing import Any


def write_json(report: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)


def write_html(report: dict[str, Any], path: str) -> None:
    verdict = "clean" if report["clean"] else f"{len(report['violations'])} violation(s)"
    rows = "".join(
        f"<tr><td>{escape(v['state'])}</td><td>{escape(v['kind'])}</td><td>{escape(v['subject'])}</td>"
        f"<td>{escape(v['detail'])}</td></tr>"
        for v in report["violations"]
    ) or '<tr><td colspan="4">None.</td></tr>'
    sections = []
    for name, state in report["states"].items():
        cookies = "".join(
            f"<tr><td>{escape(c['name'])}</td><td>{escape(str(c.get('category') or 'undeclared'))}</td>"
            f"<td>{escape(str(c['domain']))}</td><td>{escape(str(c['path']))}</td>"
            f"<td>{'yes' if c['httpOnly'] else 'no'}</td><td>{'yes' if c['secure'] else 'no'}</td>"
            f"<td>{escape(str(c['sameSite']))}</td></tr>"
            for c in state["cookies"]
        ) or '<tr><td colspan="7">No cookies.</td></tr>'
        requests = "".join(f"<li>{escape(r['type'])}: {escape(r['url'])}</li>" for r in state["tracking_requests"]) or "<li>None.</li>"
        etags = "".join(f"<li>{escape(url)}: {escape(', '.join(tags))}</li>" for url, tags in state["etags_received"].items()) or "<li>None.</li>"
        storage = escape(", ".join(state["local_storage"])) or "none"
        sections.append(f"""<section><h2>State: {escape(name)}</h2>
<h3>Cookies</h3><table><tr><th>Name</th><th>Declared category</th><th>Domain</th><th>Path</th><th>HttpOnly</th><th>Secure</th><th>SameSite</th></tr>{cookies}</table>
<h3>Beacon, ping and image requests</h3><ul>{requests}</ul>
<h3>ETags received</h3><ul>{etags}</ul>
<p>localStorage keys: {storage}</p></section>""")
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Consent audit of {escape(report['url'])}</title></head>
<body><h1>Consent audit of {escape(report['url'])}</h1><p><strong>{verdict}</strong></p>
<h2>Violations</h2><table><tr><th>State</th><th>Kind</th><th>Subject</th><th>Detail</th></tr>{rows}</table>
{''.join(sections)}</body></html>"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(html)


def run_audit_command(url: str, *, policy_spec: str | None, json_path: str | None, html_path: str | None,
                      timeout: float, load_policy) -> int:
    """``consentlib audit``: 0 clean, 1 violation, 2 could not verify, 3 error."""
    import sys

    from consentlib.testing.audit import ConsentAudit, CouldNotVerify
    from consentlib.testing.browser import chrome_driver

    policy = load_policy(policy_spec) if policy_spec else None
    try:
        driver = chrome_driver()
    except Exception as exc:  # no browser: the audit could not run at all
        print(f"consentlib audit: cannot start Chromium: {exc}", file=sys.stderr)
        return 3
    try:
        audit = ConsentAudit(driver, url, policy=policy, timeout=timeout)
        try:
            audit.run()
        except CouldNotVerify as exc:
            print(f"consentlib audit: could not verify: {exc}", file=sys.stderr)
            return 2
        report = audit.report()
    except Exception as exc:
        print(f"consentlib audit: error: {exc}", file=sys.stderr)
        return 3
    finally:
        driver.quit()
    if json_path:
        write_json(report, json_path)
    if html_path:
        write_html(report, html_path)
    for violation in report["violations"]:
        print(f"VIOLATION [{violation['state']}] {violation['kind']}: {violation['detail']}")
    print("clean: no tracking before a choice or after a rejection" if report["clean"]
          else f"{len(report['violations'])} violation(s)")
    return 0 if report["clean"] else 1
