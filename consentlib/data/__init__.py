"""Data sets shipped with consentlib, each beside its licence and source.

- ``open-cookie-database/``: the Open Cookie Database (Apache-2.0), read through
  :mod:`consentlib.data.cookiedb`.
- :mod:`consentlib.data.trackers`: hosts of well-known analytics and advertising services.
"""
