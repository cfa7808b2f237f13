"""The ``consentlib.django`` app: template tags, and the system checks (:mod:`consentlib.django.checks`)."""
from __future__ import annotations

from django.apps import AppConfig


class ConsentlibConfig(AppConfig):
    name = "consentlib.django"
    label = "consentlib"
    verbose_name = "consentlib"

    def ready(self) -> None:
        from django.core import checks

        from consentlib.django.checks import check_django_cookies, check_middleware_order, check_store_path
        from consentlib.django.settings import check_settings

        for check in (check_settings, check_middleware_order, check_django_cookies, check_store_path):
            checks.register(check, checks.Tags.security)
