"""Kept so that ``from consentlib.tags import banner_tags`` of earlier releases keeps working: the code is in
:mod:`consentlib.web.tags`."""
from consentlib.web.tags import banner_tags as banner_tags
from consentlib.web.tags import script_tag as script_tag
