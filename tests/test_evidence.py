"""Evidence values: relaxed alignment, and picking a proof by domain and method."""

from __future__ import annotations

from inboxcore.mail.evidence import Evidence, EvidenceMethod, aligned, proof_for

SPF = Evidence(domain="acme.example", method=EvidenceMethod.SPF)
DKIM = Evidence(domain="mail.acme.example", method=EvidenceMethod.DKIM)
ARC = Evidence(domain="customer.example", method=EvidenceMethod.ARC, via="google.com")


def test_alignment_is_by_registrable_domain() -> None:
    """Subdomains align with their organization; other organizations and suffixes do not."""
    assert aligned("mail.acme.example", "ACME.example.")
    assert aligned("anna@acme.example", "lists.acme.example")
    assert not aligned("acme.example", "acme.example.org")
    assert not aligned("evil.co.uk", "acme.co.uk")
    assert not aligned(None, "acme.example")
    assert not aligned("", "acme.example")


def test_proof_for_takes_the_first_aligned_proof_of_the_methods_asked() -> None:
    """SPF comes first when any method will do; asking for signatures skips it."""
    evidence = (SPF, DKIM, ARC)
    assert proof_for(evidence, "acme.example") == SPF
    signed = {EvidenceMethod.DKIM, EvidenceMethod.ARC}
    assert proof_for(evidence, "acme.example", signed) == DKIM
    assert proof_for((SPF,), "acme.example", signed) is None
    assert proof_for(evidence, "victim.example") is None
    assert proof_for((), "acme.example") is None


def test_each_proof_describes_itself_for_reasons() -> None:
    """The phrase names the method and domain, and for ARC the sealer that vouched."""
    assert SPF.describe() == "SPF of acme.example"
    assert DKIM.describe() == "DKIM of mail.acme.example"
    assert ARC.describe() == "customer.example through the trusted ARC seal of google.com"
