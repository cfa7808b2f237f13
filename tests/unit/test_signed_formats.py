"""What an earlier release signed still verifies: links already in people's inboxes
(unsubscribe, RFC 8058; a guardian's confirmation) and consent cookies in browsers.

The salts are written out here as literals on purpose: a refactoring that renames a
module must not rename a salt with it, or every mailed unsubscribe link would turn into
a 404 (and a person could no longer leave a list).
"""
from __future__ import annotations

import hashlib

import pytest
from itsdangerous import URLSafeTimedSerializer

from consentlib.mail.tokens import MailTokens

KEY = b"k" * 32


@pytest.mark.parametrize("kind, payload", [
    pytest.param("unsubscribe", [7, "2026-11", "news"], id="unsubscribe"),
    pytest.param("open", [7, "2026-11", "news"], id="open"),
    pytest.param("click", [7, "2026-11", "news", "https://example.com/a", 0, 1], id="click"),
])
def test_a_mail_token_of_an_earlier_release_still_verifies(kind, payload):
    earlier = URLSafeTimedSerializer([KEY], salt=f"consentlib.mail.{kind}",
                                     signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})
    token = MailTokens([KEY]).loads(kind, earlier.dumps(payload))
    assert token is not None, f"a {kind} link mailed by an earlier release no longer verifies"
    assert (token.recipient_id, token.campaign, token.list_id) == tuple(payload[:3])


def test_a_token_of_one_kind_does_not_pass_for_another():
    tokens = MailTokens([KEY])
    assert tokens.loads("unsubscribe", tokens.dumps("open", [7, "2026-11", "news"])) is None
