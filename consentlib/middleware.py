"""Kept so that ``from consentlib.middleware import ConsentMiddleware`` of earlier releases keeps working: the code is in
:mod:`consentlib.wsgi.middleware`."""
from consentlib.wsgi.middleware import ENVIRON_KEY as ENVIRON_KEY
from consentlib.wsgi.middleware import ConsentMiddleware as ConsentMiddleware
