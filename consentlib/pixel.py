"""Kept so that ``from consentlib.pixel import TRANSPARENT_GIF`` of earlier releases keeps working: the code is in
:mod:`consentlib.web.pixel`."""
from consentlib.web.pixel import TRANSPARENT_GIF as TRANSPARENT_GIF
