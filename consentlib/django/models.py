"""The receipts in Django's admin: a model that names them, with no table of its own.

The receipts live in consentlib's store (``CONSENTLIB['STORE']``), which the middleware
writes and Django's database does not hold; :mod:`consentlib.django.admin` reads them
through the store. ``managed = False`` and no field but the key: Django creates, migrates
and queries nothing for it. Only the "view" permission exists: receipts are the proof
of consent (GDPR Art 7(1)) and nobody edits or deletes them here.
"""
from __future__ import annotations

from django.db import models


class Receipt(models.Model):
    """A consent receipt, as the admin lists it (read from the store, never from Django's database)."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "consent receipt"
        verbose_name_plural = "consent receipts"

    def __str__(self) -> str:
        return "consent receipt"
