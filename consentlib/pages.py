"""Kept so that ``from consentlib.pages import guardian_form`` of earlier releases keeps working: the code is in
:mod:`consentlib.web.pages`."""
from consentlib.web.pages import guardian_form as guardian_form
