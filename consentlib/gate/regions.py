"""Where a visitor is: the region code read from the one source the site trusts.

A client can send any header, so the region is read only from the header the site
names (``region_header``: its CDN's, such as Cloudflare's ``CF-IPCountry``, which the
CDN overwrites on every request) or looked up in a MaxMind database (``geoip``) by the
peer's address. Nothing else a request carries is read. A value that is not one plain
ISO 3166 code is "unknown" (None), and an unknown visitor is under the policy's
``default_regime``, the strictest by default: a wrong guess must never loosen consent.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from consentlib.errors import ConfigurationError
from consentlib.gate.peer import peer_ip
from consentlib.gate.responses import add_vary

# ISO 3166-1 alpha-2, upper case as every CDN sends it. "XX" (Cloudflare: no country),
# "T1" (Cloudflare: Tor), "A1"/"A2"/"O1" (MaxMind's old anonymous proxy, satellite,
# other) and "ZZ" (unknown) name no place whose law applies.
_COUNTRY = re.compile(r"[A-Z]{2}")
_SUBDIVISION = re.compile(r"[A-Z0-9]{1,3}")
_NO_PLACE = frozenset({"XX", "T1", "A1", "A2", "O1", "ZZ", "EU", "AP"})


def country_code(value: str | None) -> str | None:
    """The country ``value`` names, or None for anything but one ISO 3166-1 code.

    Lower case, spaces, a list (two lines of the header, joined by the server with
    ",") and the CDNs' "no country" codes are all unknown: the header is the CDN's own,
    and a value it would never write was not written by it.
    """
    if value is None or not _COUNTRY.fullmatch(value) or value in _NO_PLACE:
        return None
    return value


def region_code(country: str | None, subdivision: str | None = None) -> str | None:
    """``"US-CA"`` from ``"US"`` and ``"CA"`` (ISO 3166-2), ``"US"`` without a usable
    subdivision, None without a country. ``subdivision`` may also come whole ("US-CA")."""
    country = country_code(country)
    if country is None:
        return None
    if subdivision:
        code = subdivision[3:] if subdivision.startswith(country + "-") else subdivision
        if _SUBDIVISION.fullmatch(code):
            return f"{country}-{code}"
    return country


def environ_key(header: str) -> str:
    """Where a WSGI server puts ``header`` in the environ (PEP 3333, CGI's HTTP_ names)."""
    return "HTTP_" + header.upper().replace("-", "_")


class GeoIP:
    """Country and subdivision of an address, from a MaxMind database (GeoLite2 or
    GeoIP2 Country or City), opened once with the optional ``maxminddb`` package."""

    def __init__(self, path: str) -> None:
        try:
            import maxminddb
        except ImportError:
            raise ConfigurationError(
                "geoip needs the maxminddb package: pip install 'consentlib[geoip]', or use region_header "
                "with your CDN's country header instead.") from None
        try:
            self._reader: Any = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigurationError(
                f"geoip={path!r} could not be opened as a MaxMind database ({exc}); give the path of a "
                ".mmdb file such as GeoLite2-City.mmdb.") from None

    def lookup(self, address: str | None) -> str | None:
        """The region code of ``address`` (``"US-CA"``, ``"DE"``), None when unknown."""
        ip = peer_ip(address)
        if ip is None:
            return None
        try:
            record = self._reader.get(ip)
        except ValueError:  # an IPv6 address in an IPv4-only database
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country")
        iso = country.get("iso_code") if isinstance(country, dict) else None
        subdivisions = record.get("subdivisions")
        sub = None
        if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
            sub = subdivisions[0].get("iso_code")
        return region_code(iso if isinstance(iso, str) else None, sub if isinstance(sub, str) else None)


class Regions:
    """One site's way of finding a request's region: its trusted headers or its database."""

    def __init__(self, header: str | None, subdivision_header: str | None = None, geoip: str | None = None) -> None:
        self.header = header
        self.subdivision_header = subdivision_header
        self.geoip = GeoIP(geoip) if geoip else None
        #: The request headers a response's content may depend on through the region
        #: (RFC 9110 §12.5.5 Vary); empty with geoip alone (it varies by address).
        self.vary: tuple[str, ...] = tuple(h for h in (header, subdivision_header) if h)

    @property
    def configured(self) -> bool:
        return self.header is not None or self.geoip is not None

    def of(self, country: str | None, subdivision: str | None = None, client: str | None = None) -> str | None:
        """The region code of a request whose trusted header says ``country`` (and
        ``subdivision``), from ``client``; the header wins when both are configured."""
        if self.header is not None:
            found = region_code(country, subdivision)
            if found is not None or self.geoip is None:
                return found
        return self.geoip.lookup(client) if self.geoip is not None else None


def with_vary(start_response: Callable[..., Any], fields: tuple[str, ...]) -> Callable[..., Any]:
    """``start_response`` (PEP 3333) that adds ``fields`` to the response's ``Vary``:
    what the gate let through depended on the region, so a shared cache must not give
    one visitor's answer to a visitor elsewhere (RFC 9110 §12.5.5)."""

    def varied(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        headers = list(headers)  # a copy: an endpoint's answer may be shared (a static asset)
        add_vary(headers, fields, [value for name, value in headers if name.lower() == "vary"])
        return start_response(status, headers, *exc_info)

    return varied


def vary_raw(headers: Iterable[tuple[bytes, bytes]], fields: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    """ASGI's response ``headers`` (bytes) with ``fields`` added to ``Vary``, as :func:`with_vary`."""
    kept = list(headers)
    added: list[tuple[str, str]] = []
    add_vary(added, fields, [value.decode("latin-1") for name, value in kept if name.lower() == b"vary"])
    kept.extend((b"vary", value.encode("latin-1")) for _, value in added)
    return kept
