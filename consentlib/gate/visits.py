"""A request's visit: what its ``Cookie`` header and privacy signals decide, on plain values.

Every door (the WSGI middleware, the ASGI and Django ones) reads the same four things
from a request: the ``Cookie`` header, ``Sec-GPC``, ``DNT``, and whether its cookies are
``Secure`` (which names the consent cookies: :func:`consentlib.consent.cookie_names`).
From them follows the visitor's :class:`~consentlib.consent.Consent`, the ``Cookie``
header the app may see, and the cookies to expire. Nothing here knows a server interface.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import NamedTuple

from consentlib.gate.bounded import BoundedCache
from consentlib.consent import (
    CLOCK_SKEW,
    COOKIE_NAME,
    Consent,
    ConsentCookie,
    CookieNames,
    CookiePayload,
    cookie_names,
)
from consentlib.gate.cookies import CookieGate
from consentlib.policy import Policy

_FOREVER = float("inf")
# Distinct Cookie headers remembered, bounded by bytes so that random headers cannot grow
# it: 4 MiB, each entry costing twice its header (the key, and the filtered copy kept).
_VISIT_CACHE_BUDGET = 4 * 1024 * 1024
# A header is kept in the visit cache on its second sight (see Visits.of): the hashes of
# this many headers seen once are remembered, about 50 bytes each (an int, a set slot).
_SEEN_ONCE_LIMIT = 16 * 1024
# After this many probes of the visit cache in a row that missed, one request in
# _SAMPLE_EVERY probes it until one hits (see Visits.of). 64 misses in a row: a hit rate
# under a few per cent, where a probe costs more than the hits save.
_MISSES_BEFORE_SAMPLING = 64
_SAMPLE_EVERY = 16
# Longer Cookie headers are verified every time rather than kept.
_VISIT_CACHE_MAX_HEADER = 4096
# Decisions per visitor (their consent cookies' values): room for tens of thousands of
# visitors. An entry holds the values plus a Consent and a payload, about 600 bytes.
_DECISION_CACHE_BUDGET = 24 * 1024 * 1024
_DECISION_SIZE = 600
# (consent, verified payload, valid until, signed with an older key or format): what a
# visitor's consent cookies prove (Visits._decide gives the first three).
_Decision = tuple[Consent, CookiePayload | None, float, bool]
# A decision's key: the consent cookies' values (each one string when the header holds one
# of each, as a browser sends it; else tuples, never equal to a string), GPC, DNT, region.
_DecisionKey = tuple[str | tuple[str, ...], str | tuple[str, ...], bool, bool, str | None]
# A Cookie header's shape: the header with each pair's value cut out after its first
# '=' ("consent=; consent_id=; sid=; _ga="). Which pairs are consent cookies, and which
# pairs the app may see, follow from the shape alone: a visitor's shape stays the same
# while their values change (GA4's _ga_<id> on every page view).
_VALUES = re.compile(r"=[^;]*")
# Shapes remembered: a few per site (the cookies its visitors hold), 512 KiB in all.
_SHAPES_BUDGET = 512 * 1024
# What a remembered shape holds: its text (the key), its pattern once compiled (about 16
# bytes a character: sys.getsizeof of a compiled pattern), the _Shape, its tuples, its set.
_SHAPE_SIZE = 300
_PATTERN_BYTES_PER_CHARACTER = 16
# Granted sets noted per shape as letting its header through whole: a handful in practice.
_PASSES_LIMIT = 64
# Uses of a shape after which it gets its own pattern (see _Shape.compile), if its text
# is at most _COMPILE_MAX characters. Compiling costs about 1 µs a character (330 µs for
# 256): spread over 64 requests of the shape, a client inventing shapes cannot make each
# of its requests cost much more than it does anyway; a site's own shapes recur far more.
_COMPILE_AFTER = 64
_COMPILE_MAX = 256
# new_tuple(Visit, fields): a Visit without NamedTuple's Python-level __new__ (0.15 µs of
# a many-visitors request's few).
_new_tuple = tuple.__new__
# Distinct category sets shared (see Visits._shared): more than a policy's subsets ever
# reach in practice; past it the table starts again.
_SHARED_SETS_LIMIT = 1024


class _Shape:
    """What a ``Cookie`` header's shape decides, whatever its values: where its consent
    and consent id pairs stand, and under which granted sets every pair passes."""

    __slots__ = ("text", "consent_at", "id_at", "last", "single", "passes", "uses", "match")

    def __init__(self, text: str, consent_at: tuple[int, ...], id_at: tuple[int, ...]) -> None:
        self.text = text
        self.consent_at = consent_at
        self.id_at = id_at
        self.last = max(consent_at + id_at, default=-1)  # split no further than this pair
        # What a browser sends, one of each: their two positions, read inline.
        self.single = (consent_at[0], id_at[0]) if len(consent_at) == 1 and len(id_at) == 1 else None
        # Granted sets under which the header reaches the app whole (nothing withheld).
        self.passes: set[frozenset[str]] = set()
        self.uses = 0
        # Once the shape recurs: a pattern that matches exactly the headers of this shape
        # and captures their two consent values (see Visits._new_visit).
        self.match: Callable[[str], re.Match[str] | None] | None = None

    def compile(self) -> None:
        """Build ``match``: the shape's text with each cut value put back as ``[^;]*``.

        Between two cuts the text holds no '=' and, after the first, starts with ';' (a
        value runs to the next ';'), so a header matches exactly when cutting its values
        gives this text, each value where the cut found it: the same pairs, names and
        spaces, hence the same positions.
        """
        assert self.single is not None
        pieces = self.text.split("=")
        pattern, pair = [re.escape(pieces[0])], pieces[0].count(";")
        for piece in pieces[1:]:
            pattern.append("=([^;]*)" if pair in self.single else "=[^;]*")
            pattern.append(re.escape(piece))
            pair += piece.count(";")
        self.match = re.compile("".join(pattern)).fullmatch


class Visit(NamedTuple):
    """Everything a request needs that follows from its consent and ``Cookie`` header.

    A tuple (unpacked on every request, cheaply) whose fields also have names.
    """

    consent: Consent
    payload: CookiePayload | None  # the verified consent cookie, if any
    filtered: str  # the Cookie header the app may see
    refused: tuple[str, ...]  # names of cookies sent that the consent does not cover
    valid_until: float  # UNIX time after which the visit must be worked out again
    stripped: bool  # the Cookie header lost a pair: the app's answer depends on consent
    gpc_refused: bool  # a refused cookie is of a gpc category (the answer depends on Sec-GPC)
    resign: bool  # a genuine choice to re-issue with the newest key and format


class Visits:
    """Visits worked out per ``Cookie`` header, those of headers that recur remembered
    within a memory budget; the consent cookies' signatures checked once per visitor."""

    def __init__(self, policy: Policy, cookie: ConsentCookie, gate: CookieGate, *, honour_dnt: bool,
                 cookie_domain: str | None = None) -> None:
        self.policy = policy
        # Indexed by "the request's cookies are Secure": only that kind's names are read.
        self.names = (cookie_names(False, cookie_domain), cookie_names(True, cookie_domain))
        self.cookie = cookie
        self.gate = gate
        self.honour_dnt = honour_dnt
        self._required = policy.required
        self._gpc_categories = policy.gpc_categories
        # Under an opt-out regime GPC also denies sale or sharing (11 CCR §7025(c)(1)).
        self._opt_out_denied = policy.gpc_categories | policy.sale_or_share_categories
        self._names = frozenset(policy.category_names)
        # What an undecided visitor has in an opt-out or notice region: every category
        # but those that need their own explicit consent (PIPL Art 23, 29, 39).
        self._by_default = self._names - policy.separate
        self.cache: BoundedCache[tuple[str, bool, bool, bool, str | None], Visit] = BoundedCache(
            budget=_VISIT_CACHE_BUDGET, max_size=2 * _VISIT_CACHE_MAX_HEADER)
        # Hashes of headers seen once and not kept (see of): a set of ints, cleared when full.
        self._seen_once: set[int] = set()
        # Probes of the visit cache that missed in a row, and requests not probing since
        # the last probe (see of). Unsynchronised on purpose: a lost count only shifts
        # when probing pauses or resumes.
        self._misses = 0
        self._unprobed = 0
        self._decisions: BoundedCache[_DecisionKey, _Decision] = BoundedCache(
            budget=_DECISION_CACHE_BUDGET, max_size=_DECISION_SIZE + _VISIT_CACHE_MAX_HEADER)
        self._shapes: BoundedCache[tuple[str, bool], _Shape] = BoundedCache(
            budget=_SHAPES_BUDGET, max_size=_shape_size(_VISIT_CACHE_MAX_HEADER))
        # The compiled shape the last header read had, by "cookies are Secure" (names differ).
        self._recent: list[_Shape | None] = [None, None]
        # One frozenset object per distinct granted or chosen set (subsets of the
        # categories: a handful in practice), shared by every visitor's Consent.
        self._sets: dict[frozenset[str], frozenset[str]] = {}

    def of(self, header: str, gpc: bool, dnt: bool, secure: bool = False, region: str | None = None) -> Visit:
        """The visit of a request with this ``Cookie`` header, ``Sec-GPC: 1`` (``gpc``)
        and ``DNT: 1`` (``dnt``), whose cookies are ``Secure`` (``secure``: the door's
        ``ConsentCore.is_secure``), which decides the consent cookies' names, from
        ``region`` (an ISO 3166 code, None: unknown), which decides the regime."""
        if self._misses >= _MISSES_BEFORE_SAMPLING:
            # The last many probes all missed (many visitors, GA4's cookie new on every
            # view): probing costs a pass over each header and a cold lookup that decide
            # nothing, so only one request in _SAMPLE_EVERY probes, and a hit among them
            # turns probing back on for every request. Correctness never depends on the
            # cache: an unprobed request gets the visit a fresh worker would give it.
            self._unprobed += 1
            if self._unprobed < _SAMPLE_EVERY:
                return self._new_visit(header, gpc, dnt, secure, region)
            self._unprobed = 0
        key = (header, gpc, dnt, secure, region)
        visit = self.cache.get(key)
        # A cached visit holds what the signature proved and what was derived from it;
        # the lifetime is checked again on every request, so no answer ever changes.
        if visit is not None and time.time() < visit.valid_until:
            if self._misses:
                self._misses = 0
            return visit
        self._misses += 1
        visit = self._new_visit(header, gpc, dnt, secure, region)
        # Most headers are seen once (GA4's session cookie changes on every page view):
        # kept, each would cost an insert, twice its length in memory the CPU's caches
        # must stream through, and a clear of the cache every few thousand visitors.
        # So a header is kept on its second sight (a "doorkeeper", as in TinyLFU): its
        # hash (the header's own is cached by the probe above, so this costs no pass
        # over it) is noted the first time. A repeated visitor's, a page's assets', a
        # reload's header is kept from its second request on. A hash shared by chance
        # only keeps a header early; the cache itself is keyed by the whole header.
        # Unsynchronised on purpose: a lost note only keeps a header one sight later.
        seen = self._seen_once
        marker = hash(key)
        if marker in seen:
            seen.discard(marker)
            self.cache.remember(key, visit, size=2 * len(header))
        else:
            if len(seen) >= _SEEN_ONCE_LIMIT:
                seen.clear()  # amortised O(1) a header: the notes go, a few headers wait a sight more
            seen.add(marker)
        return visit

    def _new_visit(self, header: str, gpc: bool, dnt: bool, secure: bool, region: str | None) -> Visit:
        # What the consent cookies prove depends on their values alone, not on the rest
        # of the header (GA4's _ga_<id> changes on every page view): remembered per
        # visitor, so many visitors cost a header scan each, not two signature checks.
        # The scan itself is done once per shape (the header without its values); each
        # request only cuts the values out (in C) and reads its consent pairs by position.
        # Most requests have the shape the previous one had (one per site, mostly): its
        # pattern, when it matches, reads both consent values in one C pass, in place of
        # cutting the values out, looking the shape up and splitting the header.
        key: _DecisionKey
        shape: _Shape
        recent = self._recent[secure]
        found = recent.match(header) if recent is not None and recent.match is not None else None
        if recent is not None and found is not None:
            shape = recent
            # The values as the split below reads them: the pair stripped (a value's
            # trailing space; its leading space follows the '='), then its quotes.
            consent_value, id_value = found.group(1, 2)
            if shape.consent_at[0] > shape.id_at[0]:  # the pattern's groups are in header order
                consent_value, id_value = id_value, consent_value
            key = (consent_value.rstrip().strip('"'), id_value.rstrip().strip('"'), gpc, dnt, region)
        else:
            shape_text = _VALUES.sub("=", header)
            known = self._shapes.get((shape_text, secure))
            if known is None:
                known = _Shape(shape_text, *_consent_positions(header.split(";"), self.names[secure]))
                self._shapes.remember((shape_text, secure), known, size=_shape_size(len(shape_text)))
            shape = known
            single = shape.single
            if single is not None:  # what a browser sends, read inline
                # Split only as far as the last consent pair (they usually come first).
                parts = header.split(";", shape.last + 1)
                key = (parts[single[0]].strip().partition("=")[2].strip('"'),
                       parts[single[1]].strip().partition("=")[2].strip('"'), gpc, dnt, region)
                # A pattern costs a compile: only for a short shape that recurs, never
                # for each of a stream of random names.
                shape.uses += 1
                if shape.uses == _COMPILE_AFTER and len(shape.text) <= _COMPILE_MAX:
                    shape.compile()
                if shape.match is not None:
                    self._recent[secure] = shape
            else:
                key = (*_values_at(header.split(";", shape.last + 1), shape), gpc, dnt, region)
        decided = self._decisions.get(key)
        if decided is None or time.time() >= decided[2]:
            # A visitor's first sight: their values read again, by the split.
            consent_values, id_values = _values_at(header.split(";", shape.last + 1), shape)
            consent, payload, valid_until = self._decide(consent_values, id_values, gpc, dnt, region)
            decided = (consent, payload, valid_until, payload is not None and payload.needs_reissue)
            self._decisions.remember(key, decided, size=_DECISION_SIZE + sum(map(len, consent_values + id_values)))
        consent, payload, valid_until, reissue = decided
        # Re-issue a genuine choice still within its lifetime that is signed with an older
        # key or still in the first format (see _derived).
        resign = reissue and payload is not None and self.cookie.remaining(payload) > 0
        if consent.granted in shape.passes:
            return _new_tuple(Visit, (consent, payload, header, (), valid_until, False, False, resign))
        visit = self._derived(consent, payload, header.split(";"), header, valid_until)
        if not visit.stripped:
            # Nothing withheld: so it is for every header of this shape, under this consent.
            if len(shape.passes) >= _PASSES_LIMIT:
                shape.passes = set()
            shape.passes.add(consent.granted)
        return visit

    def _decide(self, consent_values: tuple[str, ...], id_values: tuple[str, ...], gpc: bool,
                dnt: bool, region: str | None = None) -> tuple[Consent, CookiePayload | None, float]:
        """The visitor's consent from their consent cookies' values and the regime of
        their region, and until when it holds."""
        payload = self._verified_payload(consent_values, id_values)
        regime = self.policy.regime_of(region)
        signal = gpc or (dnt and self.honour_dnt)
        denied = (self._opt_out_denied if regime == "opt-out" else self._gpc_categories) if signal else frozenset()
        valid_until = _FOREVER
        if payload is not None and self.cookie.is_current(payload, self.policy):
            chosen = payload.categories & self._names
            granted = (self._required | chosen) - denied
            consent = Consent(True, self._shared(granted), self._shared(chosen), payload.consent_id, payload.revision,
                              payload.decided_at, gpc, dnt, region=region, regime=regime)
            valid_until = payload.decided_at + self.cookie.lifetime
        else:
            consent_id = payload.consent_id if payload is not None else None
            # opt-in (GDPR Art 6(1)(a), ePrivacy Art 5(3)): only what is required until
            # the visitor chooses. opt-out (Cal. Civ. Code §1798.120) and notice: all but
            # the separate categories, less what a GPC signal opts out of.
            granted = self._required if regime == "opt-in" else (self._by_default | self._required) - denied
            consent = Consent(False, self._shared(granted), frozenset(), consent_id, self.policy.revision,
                              None, gpc, dnt, region=region, regime=regime)
            if payload is not None and payload.revision == self.policy.revision:
                starts = payload.decided_at - CLOCK_SKEW
                if starts > time.time():
                    # Decided on a host whose clock runs ahead: it counts from then on.
                    valid_until = starts
        return consent, payload, valid_until

    def _shared(self, categories: frozenset[str]) -> frozenset[str]:
        """The one object of this set (see ``_sets``)."""
        shared = self._sets.get(categories)
        if shared is None:
            if len(self._sets) >= _SHARED_SETS_LIMIT:
                self._sets.clear()
            shared = self._sets[categories] = categories
        return shared

    def derive(self, consent: Consent, payload: CookiePayload | None, header: str, valid_until: float) -> Visit:
        """The visit that follows from ``consent`` (the cookies' own, or a minor's)."""
        return self._derived(consent, payload, header.split(";"), header, valid_until)

    def _derived(self, consent: Consent, payload: CookiePayload | None, parts: list[str], header: str,
                 valid_until: float) -> Visit:
        # ``parts``: ``header`` split at ';', as the caller had it.
        filtered, refused = self.gate.filter_parts(parts, header, consent.granted) if header else (header, [])
        # Expiring a gpc category's cookie depends on Sec-GPC as well as on the Cookie header.
        gpc_refused = bool(refused) and not self._gpc_categories.isdisjoint(map(self.gate.category_of, refused))
        # Re-issue a genuine choice still within its lifetime that is signed with an older
        # key or still in the first format (its id readable by scripts), even of an older
        # revision: the id must leave script reach now, not at the next decision.
        resign = payload is not None and payload.needs_reissue and self.cookie.remaining(payload) > 0
        return Visit(consent, payload, filtered, tuple(refused), valid_until, filtered is not header, gpc_refused, resign)

    def _verified_payload(self, consent_values: tuple[str, ...], id_values: tuple[str, ...]) -> CookiePayload | None:
        """The one genuine consent cookie, with the consent id of the ``consent_id`` cookie
        that belongs to it; None unless exactly one consent cookie was sent.

        Fail closed on several of one name. consentlib sets one of each (Path=/), so a
        second one was set by someone else: with ``cookie_domain`` any host under it (a
        Domain or a longer Path shadows ours, and RFC 6265bis §5.8.3 sends the longer
        path first), or a client that is no browser (a browser keeps one ``__Host-``
        cookie per name and host). Which of them is the visitor's own cannot be told,
        so none counts and the visitor is asked again; likewise, of several id cookies
        none is bound, since an id cookie of any visitor who chose alike the same day
        names the same decision.
        """
        if len(consent_values) != 1:
            return None
        payload = self.cookie.verify(consent_values[0])
        if payload is None:
            return None
        return self.cookie.bind(payload, id_values) if len(id_values) == 1 else payload


def _shape_size(length: int) -> int:
    """What a remembered shape of ``length`` characters costs, by BoundedCache's measure."""
    return length * (1 + _PATTERN_BYTES_PER_CHARACTER) + _SHAPE_SIZE


def _values_at(parts: list[str], shape: _Shape) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The values of the consent pairs of ``shape`` in ``parts``, read as the scan reads
    a pair: stripped, the value after its first '=', without quotes."""
    return (tuple(parts[i].strip().partition("=")[2].strip('"') for i in shape.consent_at),
            tuple(parts[i].strip().partition("=")[2].strip('"') for i in shape.id_at))


def _consent_positions(parts: list[str], names: CookieNames) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where in ``parts`` (a Cookie header split at ';') the consent and consent id pairs
    of ``names`` stand, in order: pairs whose name, up to the first '=', is exactly theirs.

    Exactly, case and all. The other kind's names are not the consent cookies here: a
    planted ``consent`` on https, and a ``__Host-consent`` over plain http, which no
    browser sets without ``Secure``, so it came from no browser. Nor are case variants
    (``__host-consent``): RFC 6265bis §4.1.3 has servers match a prefix case-sensitively,
    while its user agents match it case-insensitively only since draft 11 (2022), so a
    browser from before may have taken one from any host, without ``Secure``.
    """
    consent_at: list[int] = []
    id_at: list[int] = []
    consent_name, id_name = names.consent, names.consent_id
    for index, part in enumerate(parts):
        if COOKIE_NAME in part:
            name, sep, _ = part.strip().partition("=")
            if sep:
                if name == consent_name:
                    consent_at.append(index)
                elif name == id_name:
                    id_at.append(index)
    return tuple(consent_at), tuple(id_at)
