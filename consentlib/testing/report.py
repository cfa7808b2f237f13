"""The audit's reports: JSON for machines, JUnit XML for CI, HTML (with screenshots) for people."""
from __future__ import annotations

import json
from html import escape
from typing import Any
from xml.etree import ElementTree


def write_json(report: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)


def write_junit(report: dict[str, Any], path: str) -> None:
    """One test case per state and page: failed with its violations, skipped when not reached."""
    suite = ElementTree.Element("testsuite", name=f"consent audit of {report['url']}")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for state in ("before", "rejected", "accepted"):
        for page in report["pages"]:
            counts["tests"] += 1
            reached = _reached(report, state, page)
            violations = [v for v in report["violations"] if v["state"] == state and v["page"] == page]
            reasons = [u["reason"] for u in report["unverified"]
                       if u["state"] == state and (u["page"] == page or not reached)]
            case = ElementTree.SubElement(suite, "testcase", classname=f"consent.{state}", name=f"{state} {page}")
            if violations:
                counts["failures"] += 1
                failure = ElementTree.SubElement(case, "failure", type="violation",
                                                 message=f"{len(violations)} violation(s) {_STATE_WORDS[state]}")
                failure.text = "\n".join(f"{v['kind']}: {v['detail']} [evidence: {v['evidence']}]" for v in violations)
            elif not reached:
                counts["skipped"] += 1
                ElementTree.SubElement(case, "skipped", message="; ".join(reasons) or "state not reached")
            elif reasons:
                ElementTree.SubElement(case, "system-out").text = "Not verified: " + "; ".join(reasons)
    for name, value in counts.items():
        suite.set(name, str(value))
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _reached(report: dict[str, Any], state: str, page: str) -> bool:
    return any(s["state"] == state and s["page"] == page for s in report["snapshots"])


_STATE_WORDS = {"before": "before any choice", "rejected": "after 'Reject all'", "accepted": "after 'Accept all'"}


def _verdict_cell(verdict: dict[str, Any] | None) -> str:
    if not verdict:
        return "<td></td><td></td>"
    return f"<td>{escape(verdict['category'])}</td><td>{escape(verdict['evidence'])}: {escape(verdict['source'])}</td>"


def _snapshot_html(snapshot: dict[str, Any]) -> str:
    cookies = "".join(
        f"<tr><td>{escape(c['name'])}</td>{_verdict_cell(c.get('verdict'))}<td>{escape(str(c['domain']))}</td>"
        f"<td>{escape(str(c['path']))}</td><td>{'yes' if c['httpOnly'] else 'no'}</td>"
        f"<td>{'yes' if c['secure'] else 'no'}</td><td>{escape(str(c['sameSite']))}</td></tr>"
        for c in snapshot["cookies"]
    ) or '<tr><td colspan="8">No cookies.</td></tr>'
    storage = "".join(
        f"<tr><td>{escape(s['area'])}</td><td>{escape(s['key'])}</td>{_verdict_cell(s.get('verdict'))}</tr>"
        for s in snapshot["storage"]
    ) or '<tr><td colspan="4">Nothing stored.</td></tr>'
    requests = "".join(f"<li>{escape(r['why'])}: {escape(r['url'])}</li>" for r in snapshot["requests"]) or "<li>None.</li>"
    etags = "".join(f"<li>{escape(t['url'])}: {escape(t['etag'])}{' (sent back in If-None-Match)' if t['replayed'] else ''}</li>"
                    for t in snapshot["etags"]) or "<li>None.</li>"
    prints = "".join(f"<li>{escape(f['api'])} by {escape(f['url'])}</li>"
                     for f in snapshot.get("fingerprints", [])) or "<li>None.</li>"
    shot = (f'<img alt="screenshot: {escape(snapshot["state"])}" style="max-width:640px;border:1px solid #888" '
            f'src="data:image/png;base64,{snapshot["screenshot"]}">' if snapshot.get("screenshot") else "")
    return f"""<section><h2>{escape(_STATE_WORDS[snapshot['state']])}: {escape(snapshot['page'])}</h2>{shot}
<h3>Cookies</h3><table><tr><th>Name</th><th>Category</th><th>Evidence</th><th>Domain</th><th>Path</th><th>HttpOnly</th><th>Secure</th><th>SameSite</th></tr>{cookies}</table>
<h3>Storage</h3><table><tr><th>Where</th><th>Key</th><th>Category</th><th>Evidence</th></tr>{storage}</table>
<h3>Beacons, pings, tracker and image requests</h3><ul>{requests}</ul>
<h3>Fingerprinting calls</h3><ul>{prints}</ul>
<h3>ETags received</h3><ul>{etags}</ul></section>"""


def write_html(report: dict[str, Any], path: str) -> None:
    verdict = {"clean": "Clean", "violation": f"{len(report['violations'])} violation(s)",
               "could not verify": "Could not verify"}[report["verdict"]]
    rows = "".join(
        f"<tr><td>{escape(v['state'])}</td><td>{escape(v['page'])}</td><td>{escape(v['kind'])}</td>"
        f"<td>{escape(v['detail'])}</td><td>{escape(v['evidence'])}</td></tr>"
        for v in report["violations"]
    ) or '<tr><td colspan="5">None.</td></tr>'
    unverified = "".join(f"<li>{escape(u['state'])} on {escape(u['page'])}: {escape(u['reason'])}</li>"
                         for u in report["unverified"]) or "<li>Nothing: every state was reached.</li>"
    notes = "".join(f"<li>{escape(n)}</li>" for n in report["notes"])
    judged = report["judged_by"]
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Consent audit of {escape(report['url'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}</style></head>
<body><h1>Consent audit of {escape(report['url'])}</h1><p><strong>{verdict}</strong> (exit code {report['exit_code']}).
Banner: {escape(report['banner'] or 'none found')}. Cookies judged by: {escape(judged['evidence'])} ({escape(judged['where'])}).</p>
<h2>Violations</h2><table><tr><th>State</th><th>Page</th><th>Kind</th><th>Detail</th><th>Evidence</th></tr>{rows}</table>
<h2>Not verified</h2><ul>{unverified}</ul>{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
{''.join(_snapshot_html(s) for s in report['snapshots'])}</body></html>"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(html)
