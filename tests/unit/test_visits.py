"""A visit is the same whether worked out from scratch or from what other headers taught.

consentlib.gate.visits remembers, per header *shape* (the names, values cut out), where the
consent pairs stand and whether every pair passes, so that many visitors whose GA4
session cookie changes on every page view cost no full scan each; a shape that recurs
gets a pattern of its own that reads the next header's consent values in one pass. The remembered shape
must never change an answer: a header that shares its shape with earlier ones, but
carries other values (another visitor's consent, a forged one, quotes, spaces, '='
inside values), gets exactly the visit a worker that never saw those earlier headers
gives it. Otherwise one visitor's header could decide what another's app sees
(ePrivacy Art 5(3): no cookie the visitor refused reaches the app).
"""
from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from consentlib import ConsentMiddleware
from consentlib.gate.visits import _COMPILE_AFTER, _MISSES_BEFORE_SAMPLING
from tests.support.apps import KEYS, POLICY

_STORE_DIR = tempfile.mkdtemp(prefix="consentlib-visits-")


def _middleware() -> ConsentMiddleware:
    return ConsentMiddleware(lambda environ, start_response: [], POLICY, secret_key=KEYS,
                             store=f"sqlite:///{_STORE_DIR}/consent.db")


SHARED = _middleware()


def _genuine(categories: frozenset[str], visitor: int) -> tuple[str, str]:
    decision = {"revision": POLICY.revision, "categories": categories | {"necessary"}, "decided_at": 1_790_000_000}
    return (SHARED.cookie.dumps(**decision),
            SHARED.cookie.dumps_id(consent_id=f"{visitor:032x}", **decision))


NAMES = st.sampled_from(["consent", "consent_id", "sid", "theme", "_ga", "_ga_X1Y2Z3", "_fbp", "unknown",
                         "consent ", " consent", "consentx", ""])
SPACE = st.sampled_from(["", " ", "  ", "\t", "\xa0"])
CATEGORIES = st.frozensets(st.sampled_from(["preferences", "analytics", "marketing"]))
JUNK_VALUES = st.sampled_from(["", "1", '"quoted"', "a=b", " spaced ", "GS1.1.1700000000.5", "\"", "x" * 40])


@st.composite
def shape_and_values(draw):
    """A header shape (each pair's name and spacing, whether it has '=') and two sets of
    values for it, one of which may be a genuine consent of another visitor."""
    pairs = draw(st.lists(st.tuples(SPACE, NAMES, SPACE, st.booleans()), min_size=1, max_size=6))
    # Most headers hold the consent pairs as a browser sends them, and a cookie the
    # visitor may or may not have granted: put them in, anywhere.
    for name in ("consent", "consent_id", "_ga", "theme", "consent"):
        if draw(st.integers(0, 2)):
            pairs.insert(draw(st.integers(0, len(pairs))), (draw(st.sampled_from(["", " "])), name, "", True))

    def values():
        consent, consent_id = _genuine(draw(CATEGORIES), draw(st.integers(0, 3)))
        chosen = []
        for _, name, _, _ in pairs:
            if name == "consent" and draw(st.booleans()):
                chosen.append(consent if draw(st.integers(0, 3)) else f'"{consent}"')
            elif name == "consent_id" and draw(st.booleans()):
                chosen.append(consent_id)
            else:
                chosen.append(draw(JUNK_VALUES))
        return chosen

    return pairs, values(), values()


def _values(header: str, name: str) -> tuple[str, ...]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return tuple(value.strip('"') for found, sep, value in pairs if sep and found == name)


def _header(pairs, values) -> str:
    return ";".join(f"{before}{name}{after}" + (f"={value}" if has_value else "")
                    for (before, name, after, has_value), value in zip(pairs, values))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(case=shape_and_values(), gpc=st.booleans())
def test_a_header_gets_the_visit_a_fresh_worker_gives_it(case, gpc):
    pairs, first, second = case
    earlier, later = _header(pairs, first), _header(pairs, second)
    SHARED.visits.of(earlier, gpc, False)  # teaches the shared worker this shape
    for _ in range(_COMPILE_AFTER):  # and, recurring, its pattern, which then reads the next header
        SHARED.visits._new_visit(earlier, gpc, False, False, None)
    remembered = SHARED.visits.of(later, gpc, False)
    fresh = _middleware().visits
    assert remembered == fresh.of(later, gpc, False)
    # A worker among many visitors (its visit cache missed often enough to pause
    # probing) reads a header of its last compiled shape by its pattern and answers from
    # the visitor's remembered decision: the same visit again.
    for i in range(_MISSES_BEFORE_SAMPLING):
        SHARED.visits.of(f"{earlier}; _ga_X1Y2Z3=GS1.1.{i}", gpc, False)
    for _ in range(_COMPILE_AFTER):
        SHARED.visits._new_visit(earlier, gpc, False, False, None)
    assert SHARED.visits.of(later, gpc, False) == SHARED.visits.of(later, gpc, False) == remembered
    # And both are what the plain reading of the header gives: every pair split out,
    # the consent pairs' values read, the whole header filtered (RFC 6265 §5.4 syntax).
    consent, payload, valid_until = fresh._decide(_values(later, "consent"), _values(later, "consent_id"), gpc, False)
    assert remembered == fresh.derive(consent, payload, later, valid_until)
    # What the app would see: never a pair the visit's consent does not grant.
    assert (remembered.filtered == later) is (not remembered.stripped)


def test_a_header_that_recurs_among_many_new_ones_is_remembered_again():
    """Many headers seen once (GA4's cookie new on every view) pause the probing of the
    visit cache; a header that then recurs gets the same visit, and is soon served from
    memory again (the very object, not one worked out anew)."""
    visits = _middleware().visits
    consent, consent_id = _genuine(frozenset({"analytics"}), 1)
    for i in range(1000):
        visits.of(f"consent={consent}; consent_id={consent_id}; _ga_X1Y2Z3=GS1.1.{i}", False, False)
    recurring = f"consent={consent}; consent_id={consent_id}; theme=dark; _fbp=fb.1"
    fresh = _middleware().visits.of(recurring, False, False)
    assert fresh.stripped and fresh.filtered == f"consent={consent}; consent_id={consent_id}"
    assert all(visits.of(recurring, False, False) == fresh for _ in range(100))
    assert visits.of(recurring, False, False) is visits.of(recurring, False, False)


def test_a_long_shape_never_costs_a_compile():
    """Compiling a shape's pattern costs about 1 µs a character: a client sending long
    invented cookie names, however often, must not make the worker compile them."""
    visits = _middleware().visits
    consent, consent_id = _genuine(frozenset(), 2)
    names = "; ".join(f"n{i:03d}{'x' * 40}=1" for i in range(8))
    fresh = _middleware().visits.of(f"consent={consent}; consent_id={consent_id}; {names}; v=0", False, False)
    for i in range(3 * _COMPILE_AFTER):
        visit = visits._new_visit(f"consent={consent}; consent_id={consent_id}; {names}; v={i}", False, False, False,
                                  None)
    assert visits._recent == [None, None]
    assert visit.consent == fresh.consent and visit.refused == fresh.refused
