"""Cache validators that cannot carry a visitor's identity: the ETag firewall's rules.

A browser stores the ``ETag`` and ``Last-Modified`` it was given and sends them back
unasked (``If-None-Match``, ``If-Modified-Since``, ``If-Range``). A site that hands every
visitor a unique ETag can therefore recognise them again with cookies blocked or
cleared — the "evercookie" trick, which the ePrivacy Directive art. 5(3) treats like a
cookie. Without consent the firewall cuts that channel in both directions and puts back
a validator derived from the body alone, so caching still works.

These are the decisions, on plain header text; the WSGI firewall
(:mod:`consentlib.wsgi.etag`) and the ASGI one (:mod:`consentlib.asgi.etag`) apply them.
"""
from __future__ import annotations

from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_etags
from xxhash import xxh3_128_hexdigest

from consentlib.gate.fields import canonical_name, unsafe_value, warn_dropped

Headers = list[tuple[str, str]]

_APP_VALIDATORS = frozenset({"etag", "last-modified"})

# RFC 9110 §15.4.5: a 304 repeats these and SHOULD NOT carry other representation
# metadata. Set-Cookie is not representation metadata and RFC 6265 §3 lets any response
# set cookies; dropping it would silently change the app's sessions. Which cookies may
# leave at all is decided by ConsentMiddleware outside this one.
_KEPT_ON_304 = frozenset(
    {"cache-control", "content-location", "date", "etag", "expires", "vary", "set-cookie"}
)


def weak_etag(body: bytes) -> str:
    # XXH3-128 of the bytes: thirteen times faster than the standard library's fastest
    # digest (CRC-32), which alone cost the firewall its 0.85 budget on a 16 KB page
    # (bench/etag.py). A weak validator only has to change when the content does (RFC
    # 9110 §8.8.1); 128 bits make an accidental clash of two versions of one URL
    # negligible. It is not a secret and needs no key: the same body, the same tag.
    return f'W/"{xxh3_128_hexdigest(body)}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against ``*`` or a list of entity tags."""
    if not if_none_match:
        return False
    if_none_match = if_none_match.strip()
    if if_none_match == "*":
        return True
    opaque = etag[3:-1]
    # Our opaque tag is fixed text: a linear substring test spares parsing a long or
    # malformed header that cannot match.
    if opaque not in if_none_match:
        return False
    return parse_etags(if_none_match).contains_weak(opaque)



def validator_plan(status: str | None, headers: Headers, warned: set[str]) -> tuple[Headers, int | None]:
    """The response headers without the app's validators (nor any header a browser
    could read as one), and whether one of ours may be given.

    The second item is None when no validator may be given (not a 200, or
    ``no-store``), else the ``Content-Length`` (-1 when there is none). Plain text
    pairs: the WSGI and the ASGI firewalls both decide here.
    """
    kept = []
    length = -1
    no_store = False
    for name, value in headers:
        lname = canonical_name(name)
        if lname in _APP_VALIDATORS:
            continue
        if not lname or unsafe_value(value):
            warn_dropped(name, warned)
            continue
        if lname == "content-length":
            # Leniency is harmless: the limit is enforced on the bytes themselves.
            try:
                length = int(value)
            except ValueError:
                pass
        elif lname == "cache-control" and "no-store" in value.lower():
            # RFC 9111 §5.2.2.5: nothing of it may be stored, so a validator would be
            # an identifier with nothing to validate. Directive names ignore case
            # (RFC 9111 §5.2).
            no_store = no_store or parse_cache_control_header(
                value.lower(), cls=ResponseCacheControl
            ).no_store
        kept.append((name, value))
    if no_store or status is None or status[:3] != "200":
        return kept, None
    return kept, length


def not_modified(headers: Headers) -> Headers:
    """What a 304 repeats of a 200's headers (RFC 9110 §15.4.5)."""
    return [h for h in headers if h[0].lower() in _KEPT_ON_304]


def without_validators(headers: Headers, warned: set[str]) -> Headers:
    """``headers`` without the app's validators, nor any header a browser could read as one."""
    return validator_plan(None, headers, warned)[0]
