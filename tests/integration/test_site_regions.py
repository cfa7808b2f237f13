"""The reference site's region switcher (development only), over a real server."""
from __future__ import annotations

import json

from tests.integration.test_regions_http import cookies_set, send


def test_the_switcher_plays_the_cdn_and_the_site_follows_the_law_there(tmp_path, live_site):
    _, url = live_site(tmp_path, demo_regions=True)
    _, headers, _ = send(url, "/")
    assert "_ga" not in cookies_set(headers)  # no place: the default, opt-in
    status, headers, _ = send(url, "/region", [("Content-Type", "application/x-www-form-urlencoded"),
                                               ("Origin", url)], "POST", "region=US-CA")
    assert status == 303
    jar = "; ".join(v.partition(";")[0] for n, v in headers if n.lower() == "set-cookie")
    assert jar.startswith("demo_region=US-CA")
    _, headers, _ = send(url, "/", [("Cookie", jar)])
    assert {"_ga", "_fbp"} <= cookies_set(headers)
    _, _, body = send(url, "/_consent/", [("Cookie", jar)])
    assert json.loads(body)["regime"] == "opt-out"
    # The browser's own region header is overwritten, as a CDN does.
    _, _, body = send(url, "/_consent/", [("Cookie", jar), ("CF-IPCountry", "DE")])
    assert json.loads(body)["region"] == "US-CA"


def test_without_the_switcher_the_site_reads_no_region(tmp_path, live_site):
    _, url = live_site(tmp_path)
    _, _, body = send(url, "/_consent/", [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")])
    assert (json.loads(body)["region"], json.loads(body)["regime"]) == (None, "opt-in")
