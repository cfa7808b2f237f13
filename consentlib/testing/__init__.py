"""Tools for QA engineers who prove that a site honours its visitors' choices.

Needs the ``testing`` extra (selenium) and Debian's ``chromium`` and
``chromium-driver``; nothing is ever downloaded.
"""
from consentlib.testing.browser import chrome_driver
from consentlib.testing.server import serve_asgi, serve_wsgi

__all__ = ["chrome_driver", "serve_asgi", "serve_wsgi"]
