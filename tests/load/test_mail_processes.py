"""RFC 8058 one-click unsubscribes from several real processes at once, each running its
own server on one SQLite file: none is lost, none is counted twice, none redirects."""
from __future__ import annotations

import multiprocessing
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from consentlib import ConsentMiddleware, Suppressed
from consentlib.store import open_store
from consentlib.testing.server import serve_wsgi
from tests.support.mailkit import KEYS, POLICY, app_setting_cookies, make_site, newsletter, unsubscribe_path

PROCESSES = 4
SHARED = 4  # recipients every process unsubscribes at once
OWN = 6  # recipients only one process unsubscribes
BODY = b"List-Unsubscribe=One-Click"
MULTIPART = (
    b"--b0und4ry\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0und4ry--\r\n"
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect must show up as what it is


def _post(base: str, path: str, multipart: bool) -> tuple[str, int, str | None]:
    request = urllib.request.Request(
        base + path,
        data=MULTIPART if multipart else BODY,
        method="POST",
        headers={"Content-Type": "multipart/form-data; boundary=b0und4ry" if multipart
                 else "application/x-www-form-urlencoded",
                 "Origin": "https://mail.provider.example", "Sec-Fetch-Site": "cross-site"},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return path, response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        return path, error.code, error.headers.get("Location")


def _worker(store_url: str, paths: list[str], ready, results) -> None:
    """One web process: its own middleware, store connection and server, same file."""
    site = ConsentMiddleware(app_setting_cookies, POLICY, secret_key=KEYS, store=store_url)
    try:
        with serve_wsgi(site) as base:
            ready.wait(timeout=120)  # every server is up: fire together
            with ThreadPoolExecutor(max_workers=8) as pool:
                outcomes = list(pool.map(lambda item: _post(base, item[1], item[0] % 2 == 1), enumerate(paths)))
        results.put(outcomes)
    except BaseException as exc:  # report, never hang the parent
        results.put(repr(exc))
        raise


def test_concurrent_one_click_unsubscribes_from_several_processes_lose_none(tmp_path):
    site = make_site(tmp_path)
    recipients = [f"shared{i}@example.com" for i in range(SHARED)]
    recipients += [f"p{p}r{i}@example.com" for p in range(PROCESSES) for i in range(OWN)]
    path_of = {
        r: unsubscribe_path(site.tracker.prepare(newsletter(), recipient=r, campaign="2026-11", list_id="news"))
        for r in recipients
    }
    # The same people are on another list, which nobody leaves.
    for r in recipients:
        site.tracker.prepare(newsletter(), recipient=r, campaign="2026-11", list_id="offers")
    shared = [path_of[r] for r in recipients[:SHARED]]
    work = [shared + [path_of[f"p{p}r{i}@example.com"] for i in range(OWN)] for p in range(PROCESSES)]

    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(site.store_url, paths, ready, results)) for paths in work]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=180) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    for outcome in outcomes:
        assert isinstance(outcome, list), outcome
    flat = [item for outcome in outcomes for item in outcome]
    assert len(flat) == PROCESSES * (SHARED + OWN)
    assert {(status, location) for _, status, location in flat} == {(200, None)}

    fresh = open_store(site.store_url)
    for r in recipients:
        assert fresh.mail_suppressed(r, list_id="news"), r
        assert not fresh.mail_suppressed(r, list_id="offers"), r
    unsubscribes = [row for row in fresh.mail_permissions() if row["type"] == "unsubscribe"]
    assert len(unsubscribes) == len(recipients)
    assert fresh.mail_stats(campaign="2026-11")[0]["unsubscribes"] == len(recipients)
    for r in recipients:
        with pytest.raises(Suppressed):
            site.tracker.prepare(newsletter(), recipient=r, campaign="2026-12", list_id="news")
