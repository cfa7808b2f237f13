"""The reference site shows a newsletter subscriber "download my data" and "forget me"
(GDPR Art 15, 17), reached from the mail they received, and keeps its retention in one
place (the store URL)."""
from __future__ import annotations

import json
import re

from examples.flask_site import create_app


def test_subscriber_downloads_their_data_then_is_forgotten(tmp_path):
    app = create_app(tmp_path / "instance")
    client = app.test_client()
    page = client.get("/newsletter").get_data(as_text=True)
    assert "download my data" in page and "forget me" in page
    assert client.post("/newsletter", data={"email": "ana@example.com", "track_opens": "yes"},
                       headers={"Origin": "http://localhost"}).status_code == 200
    (mail,) = app.extensions["site_outbox"].all()
    shown = client.get(f"/outbox/{mail['id']}").get_data(as_text=True)
    (data_url,) = set(re.findall(r'http://127\.0\.0\.1:5000(/_consent/m/d/[A-Za-z0-9_\-.]+)', shown))
    your_data = client.get(data_url).get_data(as_text=True)
    assert "Download my data" in your_data and "Forget me" in your_data
    mine = json.loads(client.get(data_url + "?download=1").data)
    assert mine["recipient"] == "ana@example.com" and mine["sends"][0]["campaign"] == "welcome"
    assert client.post(data_url, data={"forget": "yes"}).status_code == 200
    tracker = app.extensions["site_tracker"]
    assert tracker.export(recipient="ana@example.com") == []
    assert client.get(data_url).status_code == 404


def test_site_retention_is_set_once_in_the_store_url(tmp_path):
    app = create_app(tmp_path / "instance")
    retention = app.extensions["consentlib"].store.retention
    assert (retention.receipts_days, retention.mail_days) == (400, 180)
    assert "/_consent/receipts?download=1" in app.test_client().get("/privacy").get_data(as_text=True)
