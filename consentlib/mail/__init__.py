"""Web beacons in email: MailTracker, the signed tokens, the mail endpoints.

``from consentlib.mail import MailTracker`` keeps working; the class lives in
:mod:`consentlib.mail.tracker`.
"""
from consentlib.mail.tracker import MailStats, MailTracker, Suppressed

__all__ = ["MailStats", "MailTracker", "Suppressed"]
