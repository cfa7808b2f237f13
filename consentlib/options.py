"""The options of every door, in one schema: :data:`OPTIONS`.

The WSGI and ASGI ``ConsentMiddleware``, ``FlaskConsent`` (its keywords and
``app.config["CONSENTLIB_*"]``), Django's ``settings.CONSENTLIB`` and docs/options.md
each list them; tests/unit/test_options_schema.py holds every one of those lists to
this one, so an option cannot be added to one door and forgotten in another.

A policy given by name is written ``"package.module:NAME"`` or ``"package.module.NAME"``
and loaded by :func:`load_policy`, whichever door reads it.

The checks themselves live in :mod:`consentlib.checks`; they are importable from here
too, where ConsentMiddleware has always found them.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from werkzeug.utils import ImportStringError, import_string

import consentlib.checks as checks
from consentlib.checks import endpoint_options, flag, function, iso_date, one_of, origins, strings, whole_number
from consentlib.consent import DEFAULT_LIFETIME
from consentlib.errors import ConfigurationError
from consentlib.policy import Policy

__all__ = ["OPTIONS", "REQUIRED", "Option", "checked", "did_you_mean", "import_path", "load_policy",
           "no_such_option", "options_of",
           # the checks ConsentMiddleware imports from here (consentlib.checks)
           "endpoint_options", "flag", "function", "iso_date", "origins", "strings", "whole_number"]

#: The doors: ``consentlib.wsgi``, ``consentlib.asgi``, ``consentlib.flask``, ``consentlib.django``.
EVERY_DOOR: Final = frozenset({"wsgi", "asgi", "flask", "django"})


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that has none: it must be given.
REQUIRED: Final = _Required()


@dataclass(frozen=True)
class Option:
    """One option: its ``name``, its ``type`` as the WSGI signature writes it, its
    ``default`` (or :data:`REQUIRED`), one ``doc`` sentence, and its ``check``,
    called as ``check(name, value)``: the value to use, or ConfigurationError."""

    name: str
    type: str
    default: object
    doc: str
    check: Callable[[str, Any], object]
    #: The doors that take it; the others do not know it.
    doors: frozenset[str] = EVERY_DOOR
    #: Given by position (after the app) in the middleware's signature, not by keyword.
    positional: bool = False
    #: The ASGI signature's type, where the request it speaks of is the ASGI scope.
    asgi_type: str = ""
    #: Its key in Django's ``CONSENTLIB`` and, after ``CONSENTLIB_``, in Flask's ``app.config``.
    key: str = ""

    @property
    def setting(self) -> str:
        """The settings key: the name in capitals, unless ``key`` says otherwise."""
        return self.key or self.name.upper()


OPTIONS: Final[tuple[Option, ...]] = (
    Option("policy", "Policy", REQUIRED,
           "The site's Policy: its categories, cookies, beacons and notice.",
           checks.policy, positional=True),
    Option("secret_key", "str | bytes | Sequence[str | bytes]", REQUIRED,
           "A key or a list of keys, newest first, at least 16 characters each, that sign visitors' choices.",
           checks.secret_keys, key="SECRET_KEYS"),
    Option("store", "str | Store", "sqlite:///consent.db",
           "Where receipts, undeclared cookie names and mail data are kept: a store URL or a Store.",
           checks.store),
    Option("prefix", "str", "/_consent/",
           "Where the consent endpoints live; it starts and ends with '/'.",
           checks.prefix_path),
    Option("lifetime", "int", DEFAULT_LIFETIME,
           "Seconds a choice counts; then the visitor is asked again.",
           partial(whole_number, minimum=1, unit="seconds")),
    Option("secure", "bool | None", None,
           "Whether the consent cookies are Secure; None follows the request's scheme.",
           checks.optional_flag),
    Option("cookie_domain", "str | None", None,
           "A domain like 'example.com' whose hosts share the consent cookies; None keeps them to this host.",
           checks.cookie_domain),
    Option("trusted_origins", "Iterable[str]", (),
           "Extra origins, like 'https://www.example.com', whose pages may post choices.",
           origins),
    Option("honour_dnt", "bool", False,
           "Whether DNT: 1 also denies the gpc categories, like a GPC signal.",
           flag),
    Option("gpc_last_update", "str | None", None,
           "The lastUpdate date of /.well-known/gpc.json, written YYYY-MM-DD.",
           iso_date),
    Option("max_body", "int", 16 * 1024,
           "The largest consent form or JSON body accepted, in bytes.",
           partial(whole_number, minimum=1024, unit="bytes")),
    Option("etag_body_limit", "int", 1 << 20,
           "The largest body, in bytes, the ETag firewall buffers to compute its own validator.",
           partial(whole_number, minimum=0, unit="bytes")),
    Option("is_minor", "Callable[[WSGIEnvironment], bool] | None", None,
           "The site's rule for who is below the age of digital consent, given the request.",
           partial(function, shape=checks.IS_MINOR_SHAPE), asgi_type="Callable[[Scope], bool] | None"),
    Option("guardian_mailer", "Callable[[str, str, list[str]], None] | None", None,
           "Sends a guardian the link that confirms consent for a minor; needs site_url.",
           partial(function, shape=checks.GUARDIAN_MAILER_SHAPE)),
    Option("site_url", "str | None", None,
           "The site's public origin, from which mailed links and redirects are built.",
           checks.site_origin),
    Option("on_change", "Callable[[dict[str, Any]], object] | None", None,
           "Hears of every recorded choice and receipt erasure, at least once, in a background thread.",
           partial(function, shape="(change), called with each recorded change")),
    Option("templates", "str | os.PathLike[str] | None", None,
           "A directory whose templates and message catalogues win over the shipped ones.",
           checks.directory),
    Option("locale_dirs", "Sequence[str | os.PathLike[str]]", (),
           "Directories of gettext catalogues (<language>/LC_MESSAGES/consentlib.po) laid over the shipped ones.",
           checks.directories),
    Option("mode", "str", "enforce",
           "'enforce' blocks what the visitor did not allow; 'report' lets it through and lists it.",
           partial(one_of, choices=("enforce", "report"), meaning=checks.MODE_MEANING)),
    Option("third_party_csp", "str | None", None,
           "'enforce' or 'report': a Content-Security-Policy on HTML that lets pages reach only granted hosts.",
           partial(one_of, choices=("enforce", "report", None), meaning=checks.CSP_MEANING)),
    Option("region_header", "str | None", None,
           "The header your CDN sets to the visitor's country, like 'CF-IPCountry'; it decides the regime.",
           checks.header_name),
    Option("subdivision_header", "str | None", None,
           "The header your CDN sets to the visitor's ISO 3166-2 subdivision, like 'CF-Region-Code'.",
           checks.header_name),
    Option("geoip", "str | None", None,
           "The path of a MaxMind database that gives a visitor's country when no region_header does.",
           checks.geoip_path),
    Option("consent_mode", "dict[str, list[str]] | None", None,
           "Maps the policy's categories to Google Consent Mode types, for the banner.",
           checks.consent_mode, doors=frozenset({"flask", "django"})),
    Option("csp_nonce", "Callable[[], str | None] | None", None,
           "Returns this request's CSP nonce; None reads g.csp_nonce, else request.environ['csp_nonce'].",
           partial(function, shape="returning this request's nonce or None"), doors=frozenset({"flask"})),
    Option("locale_selector", "Callable[[], str | None] | None", None,
           "Returns this request's language (as Flask-Babel's locale_selector), before Accept-Language.",
           partial(function, shape="returning this request's language tag or None"), doors=frozenset({"flask"})),
)


def options_of(door: str) -> tuple[Option, ...]:
    """The options ``door`` takes, in the schema's order."""
    return tuple(option for option in OPTIONS if door in option.doors)


def no_such_option(owner: str, name: str, known: Iterable[str], what: str = "option") -> ConfigurationError:
    """The error for an option (or a settings key) ``owner`` does not have, with the
    nearest one it has: a typo is named where it was written, not found as a default."""
    known = list(known)
    return ConfigurationError(f"{owner} has no {what} {name!r}{did_you_mean(name, known)} "
                              f"Its {what}s are: {', '.join(known)}.")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'secret_key'?"`` for the nearest of ``known``, else ``"."``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else "."


def arguments_of(door: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The options among a door's arguments (its ``__init__``'s ``locals()``): each option
    ``door`` takes, as given. The signature itself is tested against the schema."""
    return {option.name: arguments[option.name] for option in options_of(door)}


def checked(values: Mapping[str, Any], door: str = "wsgi", owner: str = "ConsentMiddleware") -> dict[str, Any]:
    """Every option ``door`` takes, checked: what ``values`` gives, else its default.

    Raises ConfigurationError naming the option for an unknown name, a missing required
    option, a value its check refuses, or guardian_mailer without site_url.
    """
    known = options_of(door)
    for name in values:
        if name not in {option.name for option in known}:
            raise no_such_option(owner, name, [option.name for option in known])
    result: dict[str, Any] = {}
    for option in known:
        value = values.get(option.name, option.default)
        if value is REQUIRED:
            raise ConfigurationError(f"{owner} needs {option.name}: {option.doc}")
        result[option.name] = option.check(option.name, value)
    checks.mailer_needs_site_url(result.get("guardian_mailer"), result.get("site_url"))
    checks.subdivision_needs_region(result.get("subdivision_header"), result.get("region_header"))
    return result


def import_path(target: str, source: str) -> object:
    """What ``"package.module:NAME"`` or ``"package.module.NAME"`` names (werkzeug's
    ``import_string`` reads both). ``source`` says where the path was written."""
    try:
        return import_string(target)
    except (ImportStringError, ValueError) as exc:  # ValueError: an empty module name (":POLICY", "..x")
        reason = exc.exception if isinstance(exc, ImportStringError) else exc
        raise ConfigurationError(
            f"{source} names {target!r}, which could not be imported ({reason}); write the path of "
            "an importable object, like 'mysite.consent:POLICY' or 'mysite.consent.POLICY'.") from None


def load_policy(target: object, source: str) -> Policy:
    """A :class:`~consentlib.Policy`, or the one the path ``target`` names.

    ``source`` says where ``target`` was written (``"app.config['CONSENTLIB_POLICY']"``),
    for the ConfigurationError raised when it cannot be imported or is not a Policy.
    """
    if isinstance(target, Policy):
        return target
    value = import_path(target, source) if isinstance(target, str) and target.strip() else None
    if not isinstance(value, Policy):
        named = f" (it names a {type(value).__name__})" if isinstance(target, str) and target.strip() else ""
        raise ConfigurationError(
            f"{source} must be a consentlib.Policy or a path naming one, like 'mysite.consent:POLICY' "
            f"or 'mysite.consent.POLICY', not {target!r}{named}.")
    return value
