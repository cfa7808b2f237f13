"""The WSGI door: :class:`ConsentMiddleware` wraps any PEP 3333 application.

``from consentlib import ConsentMiddleware`` is the same class.
"""
from consentlib.wsgi.middleware import ENVIRON_KEY, ConsentMiddleware

__all__ = ["ENVIRON_KEY", "ConsentMiddleware"]
