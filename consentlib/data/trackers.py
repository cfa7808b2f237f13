"""Hosts of well-known analytics and advertising services.

A request to one of them before any choice or after "Reject all" sends the visitor's
IP address, the page and usually an identifier to a third party, which needs consent
(ePrivacy Art 5(3) for what the tag reads or stores, GDPR Art 6(1)(a) for the
processing). Services that collect nothing identifying by design are not listed.
Maintained by hand: each host is the one the service's own tag snippet loads or sends to.
"""
from __future__ import annotations

from urllib.parse import urlsplit

TRACKER_HOSTS = {
    "google-analytics.com": "Google Analytics",
    "analytics.google.com": "Google Analytics",
    "googletagmanager.com": "Google Tag Manager",
    "doubleclick.net": "Google Ads (DoubleClick)",
    "googleadservices.com": "Google Ads",
    "googlesyndication.com": "Google AdSense",
    "connect.facebook.net": "Meta Pixel",
    "bat.bing.com": "Microsoft Advertising",
    "clarity.ms": "Microsoft Clarity",
    "hotjar.com": "Hotjar",
    "hotjar.io": "Hotjar",
    "mixpanel.com": "Mixpanel",
    "api.segment.io": "Segment",
    "cdn.segment.com": "Segment",
    "amplitude.com": "Amplitude",
    "heapanalytics.com": "Heap",
    "fullstory.com": "FullStory",
    "mouseflow.com": "Mouseflow",
    "crazyegg.com": "Crazy Egg",
    "snap.licdn.com": "LinkedIn Insight",
    "px.ads.linkedin.com": "LinkedIn Insight",
    "analytics.tiktok.com": "TikTok Pixel",
    "ct.pinterest.com": "Pinterest Tag",
    "static.ads-twitter.com": "X (Twitter) Pixel",
    "analytics.twitter.com": "X (Twitter) Pixel",
    "sc-static.net": "Snap Pixel",
    "mc.yandex.ru": "Yandex Metrica",
    "scorecardresearch.com": "Comscore",
    "quantserve.com": "Quantcast",
    "criteo.com": "Criteo",
    "criteo.net": "Criteo",
    "taboola.com": "Taboola",
    "outbrain.com": "Outbrain",
    "adnxs.com": "Xandr",
}

# The category a site usually declares each service's hosts under: advertising and
# retargeting services are "marketing", measurement services "analytics" (the category
# names of the docs' examples). A suggestion for `consentlib hosts`.
MARKETING_SERVICES = frozenset({
    "Google Ads (DoubleClick)", "Google Ads", "Google AdSense", "Meta Pixel", "Microsoft Advertising",
    "LinkedIn Insight", "TikTok Pixel", "Pinterest Tag", "X (Twitter) Pixel", "Snap Pixel", "Criteo",
    "Taboola", "Outbrain", "Xandr", "Quantcast",
})

# Paths that are a tracker wherever they are served from (a server-side tag proxy on
# the site's own domain still sends the same hits).
TRACKER_PATHS = {
    "/g/collect": "Google Analytics 4 hit",
    "/tr": "Meta Pixel hit",
}


def tracker_of(url: str) -> str | None:
    """The service a request to ``url`` reports to, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    for known, name in TRACKER_HOSTS.items():
        if host == known or host.endswith("." + known):
            return name
    if parts.path in TRACKER_PATHS and ("tid=" in parts.query or "id=" in parts.query):
        return TRACKER_PATHS[parts.path]
    return None


def suggested_category(url: str) -> tuple[str, str] | None:
    """The service a request to ``url`` reports to and the category its hosts are usually
    declared under (``"marketing"`` or ``"analytics"``), or None for a host not listed."""
    service = tracker_of(url)
    if service is None:
        return None
    return service, "marketing" if service in MARKETING_SERVICES else "analytics"
