"""Verifying a forwarding confirmation: the provider's only when its own domain is proven."""

from __future__ import annotations

import pytest

from inboxcore.mail.confirmations import (
    detect_forwarding_confirmation,
    provider_domains,
    verify_confirmation,
)
from inboxcore.mail.evidence import Evidence, EvidenceMethod
from inboxcore.mail.parsing import parse_message
from tests.test_classify import GMAIL_OLD, GMAIL_OLD_BODY, message

GOOGLE_DKIM = Evidence(domain="google.com", method=EvidenceMethod.DKIM)
GOOGLE_SPF = Evidence(domain="google.com", method=EvidenceMethod.SPF)
ATTACKER_DKIM = Evidence(domain="attacker.example", method=EvidenceMethod.DKIM)
ZOHO = """\
From: Zoho Mail <noreply@zohomail.com>
To: acme-support@inbox.helpdesk.example
Subject: Confirm email forwarding request
Message-ID: <z1@zohomail.com>
"""
GENERIC = """\
From: Mail Service <no-reply@attacker.example>
To: acme-support@inbox.helpdesk.example
Subject: Confirm forwarding to acme-support@inbox.helpdesk.example
Message-ID: <g1@attacker.example>
"""


def _verify(raw: bytes, *evidence: Evidence) -> tuple[bool, str | None, str]:
    parsed = parse_message(raw)
    found = detect_forwarding_confirmation(parsed)
    assert found is not None
    checked, reason = verify_confirmation(found, parsed, evidence)
    return checked.verified, checked.proof, reason.code


def test_gmails_confirmation_proven_for_google_is_verified() -> None:
    """Google's From with a passing DKIM or SPF of google.com: verified, naming the proof."""
    raw = message(GMAIL_OLD, GMAIL_OLD_BODY)
    assert _verify(raw, GOOGLE_DKIM) == (True, "DKIM of google.com", "confirmation.verified")
    assert _verify(raw, ATTACKER_DKIM, GOOGLE_SPF)[:2] == (True, "SPF of google.com")


def test_gmails_confirmation_without_proof_is_unverified() -> None:
    """Nothing proven (offline, or a forgery from elsewhere): unverified."""
    raw = message(GMAIL_OLD, GMAIL_OLD_BODY)
    assert _verify(raw) == (False, None, "confirmation.unverified")
    assert _verify(raw, ATTACKER_DKIM)[0] is False


def test_googles_header_on_another_senders_mail_is_unverified() -> None:
    """X-Google-Address-Confirmation from attacker.example, proven as itself: not Google's."""
    raw = message(
        GMAIL_OLD.replace("Gmail Team <forwarding-noreply@google.com>", "<x@attacker.example>"),
        GMAIL_OLD_BODY,
    )
    parsed = parse_message(raw)
    found = detect_forwarding_confirmation(parsed)
    assert found is not None
    assert found.provider == "gmail"
    checked, reason = verify_confirmation(found, parsed, (ATTACKER_DKIM, GOOGLE_DKIM))
    assert not checked.verified
    assert "not on google.com" in reason.message


def test_a_known_provider_is_verified_by_its_own_domain() -> None:
    """Zoho's confirmation is Zoho's when zohomail.com is proven."""
    raw = message(ZOHO, "Click https://mail.zoho.com/confirm?x=1 to confirm.\n")
    zoho = Evidence(domain="zohomail.com", method=EvidenceMethod.DKIM)
    assert _verify(raw, zoho)[0] is True
    assert _verify(raw, GOOGLE_DKIM)[0] is False


def test_the_generic_rule_is_never_verified() -> None:
    """An unknown sender's "confirm forwarding" names no provider: even proven, unverified."""
    raw = message(GENERIC, "Code: 99887766 https://attacker.example/c\n")
    verified, proof, code = _verify(raw, ATTACKER_DKIM)
    assert (verified, proof, code) == (False, None, "confirmation.unverified")


@pytest.mark.parametrize(
    ("provider", "domains"),
    [("gmail", ("google.com",)), ("attacker.example", ())],
)
def test_provider_domains(provider: str, domains: tuple[str, ...]) -> None:
    """Gmail confirms from google.com; a provider the generic rule named has no domains."""
    assert provider_domains(provider) == domains
    assert "zohomail.com" in provider_domains("zoho")
