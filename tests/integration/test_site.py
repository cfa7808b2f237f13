"""The reference site without a browser: what its code promises beyond the pages."""
from __future__ import annotations

import multiprocessing
import re
import stat

from werkzeug.test import Client

from examples.flask_site import create_app


def _start_worker(instance: str, queue) -> None:
    app = create_app(instance)
    queue.put(list(app.extensions["consentlib"].core.secret_keys))


def test_workers_starting_at_once_share_one_secret_key(tmp_path):
    """Several gunicorn workers start at once on a fresh instance: one key for all."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_start_worker, args=(str(tmp_path), queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    keys = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len({tuple(k) for k in keys}) == 1
    assert stat.S_IMODE((tmp_path / "secret_keys").stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".secret_keys.*"))


def test_newsletter_refuses_cross_site_sign_ups(tmp_path):
    app = create_app(tmp_path)
    client = Client(app)
    forged = client.post("/newsletter", data={"email": "victim@example.com", "track_opens": "yes"},
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    assert app.extensions["site_outbox"].all() == []
    assert not app.extensions["site_tracker"].tracking_allowed("victim@example.com", list_id="news")
    own = client.post("/newsletter", data={"email": "ana@example.com"}, headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and len(app.extensions["site_outbox"].all()) == 1


def test_outbox_shows_a_guardian_mail_only_to_the_browser_that_asked(tmp_path):
    """docs/rules.md, "Children": only the guardian may answer. The demo outbox shows a mail
    only to the browser that caused it; a stranger can neither see nor use its link."""
    app = create_app(tmp_path, site_url="http://localhost")
    child, stranger = Client(app), Client(app)
    assert child.get("/kids").status_code == 200
    asked = child.post("/_consent/guardian", data={"guardian": "parent@example.com", "category": "analytics",
                                                   "next": "/kids"})
    assert asked.status_code == 303
    (mail,) = app.extensions["site_outbox"].all()

    own = child.get("/outbox").get_data(as_text=True)
    assert f'id="outbox-mail-{mail["id"]}"' in own and "parent@example.com" in own
    link = re.search(r'id="guardian-link" href="http://localhost([^"]+)"',
                     child.get(f"/outbox/{mail['id']}").get_data(as_text=True))[1]

    for forged_key in (None, "x" * 43, ""):
        if forged_key is not None:
            stranger.set_cookie("outbox", forged_key)
        listed = stranger.get("/outbox").get_data(as_text=True)
        assert "parent@example.com" not in listed and "outbox-mail-" not in listed
        opened = stranger.get(f"/outbox/{mail['id']}")
        assert opened.status_code == 404 and "/_consent/guardian/" not in opened.get_data(as_text=True)
    # The stranger never had the link: nothing was allowed for the child.
    receipts = app.extensions["consentlib"].store.receipts()
    assert [r["method"] for r in receipts] == ["form"]
    assert link.startswith("/_consent/guardian/")
