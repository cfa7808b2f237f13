"""The ``consentlib.django`` app: template tags, and a system check of ``CONSENTLIB``."""
from __future__ import annotations

from django.apps import AppConfig


class ConsentlibConfig(AppConfig):
    name = "consentlib.django"
    label = "consentlib"
    verbose_name = "consentlib"

    def ready(self) -> None:
        from django.core import checks

        from consentlib.django.settings import check_settings

        checks.register(check_settings, checks.Tags.security)
