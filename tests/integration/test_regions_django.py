"""Regions through the Django door: ``settings.CONSENTLIB["REGION_HEADER"]`` and the
header read from ``request.META``, never another header."""
from __future__ import annotations

import dataclasses
import json

import pytest
from werkzeug.test import Client

from consentlib import Region
from tests.support import django_site
from tests.support.apps import KEYS, POLICY

REGIONAL = dataclasses.replace(POLICY, regions=[Region("EEA", "opt-in", ["DE"]),
                                                Region("California", "opt-out", ["US-CA"])])


@pytest.mark.parametrize(("headers", "regime", "more_than_required"), [
    pytest.param({"CF-IPCountry": "US", "CF-Region-Code": "CA"}, "opt-out", True, id="US-CA"),
    pytest.param({"CF-IPCountry": "DE"}, "opt-in", False, id="DE"),
    pytest.param({"X-Vercel-IP-Country": "US", "CF-Region-Code": "CA"}, "opt-in", False, id="unnamed-header"),
])
def test_the_django_door_reads_the_named_header(tmp_path, headers, regime, more_than_required):
    app, _ = django_site.handler(REGIONAL, {"secret_key": KEYS, "store": f"sqlite:///{tmp_path}/c.db",
                                            "region_header": "CF-IPCountry", "subdivision_header": "CF-Region-Code"})
    client = Client(app)
    state = json.loads(client.get("/_consent/", headers=headers).data)
    assert state["regime"] == regime
    page = client.get("/", headers=headers)
    granted = json.loads(page.data)["granted"]
    assert (set(granted) > REGIONAL.required) is more_than_required
    assert "CF-IPCountry" in page.headers.get("Vary", "")
