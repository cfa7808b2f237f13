"""The errors consentlib raises. All derive from :class:`ConsentError`."""
from __future__ import annotations


class ConsentError(Exception):
    """Base class of every error consentlib raises."""


class ConfigurationError(ConsentError, ValueError):
    """A policy, middleware or store was built with a value that cannot work.

    Raised when the object is built, never while serving a request; the message says
    what to change.
    """


class StoreUnavailable(ConsentError):
    """The store could not be read or written (database down, disk full, locked too long).

    The middleware answers 503 for a recording request and reports nothing as saved.
    """


class UnusableMessage(ConsentError, ValueError):
    """A mail given to ``MailTracker.prepare`` cannot be prepared: it has no body, or a
    text part that cannot be read. Nothing was recorded as sent; the message says what
    to add or change.
    """
