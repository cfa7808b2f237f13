"""consentlib: keep visitors' privacy choices at the HTTP layer.

The public names are re-exported here; ``consentlib.flask`` is imported only by
Flask users.
"""
from consentlib.consent import Consent
from consentlib.errors import ConfigurationError, ConsentError, StoreUnavailable, UnusableMessage
from consentlib.mail import MailStats, MailTracker, Suppressed
from consentlib.wsgi import ConsentMiddleware
from consentlib.policy import Beacon, Category, Cookie, Host, Policy, Region, Storage
from consentlib.version import __version__ as __version__

__all__ = [
    "Beacon",
    "Category",
    "ConfigurationError",
    "Consent",
    "ConsentError",
    "ConsentMiddleware",
    "Cookie",
    "Host",
    "MailStats",
    "MailTracker",
    "Policy",
    "Region",
    "Storage",
    "StoreUnavailable",
    "Suppressed",
    "UnusableMessage",
]
