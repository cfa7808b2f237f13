"""Kept so that ``from consentlib.http import cross_origin_refusal`` of earlier releases keeps working: the code is in
:mod:`consentlib.web.http`."""
from consentlib.web.http import cross_origin_refusal as cross_origin_refusal
from consentlib.web.http import safe_next as safe_next
