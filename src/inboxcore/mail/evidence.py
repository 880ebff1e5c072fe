"""Evidence: the domains a message provably comes from, and how each was proved.

Authentication (:mod:`inboxcore.auth.authentication`) finds the evidence; every decision about who
a message is from reads it (the original sender, a team member writing by mail, a provider's
forwarding confirmation). It lives here, below ``auth``, so that those decisions in the mail
toolkit can take it as a plain value: a header, a quoted block or a display name never is evidence.

Alignment is relaxed, as DMARC's default: a proof for ``mail.acme.example`` counts for
``acme.example`` and the other way round (the same registrable domain).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable

import attrs

from inboxcore.mail.suffixes import registrable_domain

__all__ = ["ALL_METHODS", "Evidence", "EvidenceMethod", "aligned", "proof_for"]


class EvidenceMethod(enum.Enum):
    """How a domain was shown to have sent the message."""

    SPF = "spf"
    """SPF passed for the envelope sender (MAIL FROM) of that domain."""
    DKIM = "dkim"
    """A DKIM signature of that domain verified."""
    ARC = "arc"
    """A trusted forwarder's ARC seal passed, and it saw SPF, DKIM or DMARC pass for the domain."""


ALL_METHODS: frozenset[EvidenceMethod] = frozenset(EvidenceMethod)


@attrs.frozen(kw_only=True)
class Evidence:
    """One domain the message provably comes from, and the proof: what every decision about who
    a message is from rests on (a header, a quoted block or a display name never is)."""

    domain: str
    """Lowercase, A-label form."""
    method: EvidenceMethod
    via: str | None = None
    """For :attr:`EvidenceMethod.ARC`, the trusted sealer that vouched."""

    def describe(self) -> str:
        """A short phrase for reasons: ``DKIM of acme.example``, ``ARC seal of google.com``."""
        if self.method is EvidenceMethod.ARC:
            return f"{self.domain} through the trusted ARC seal of {self.via}"
        return f"{self.method.name} of {self.domain}"


def aligned(domain: str | None, other: str) -> bool:
    """Relaxed alignment: ``domain`` (or an address's domain) and ``other`` are the same
    organizational (registrable) domain."""
    if not domain:
        return False
    domain = domain.lower().rstrip(".").rpartition("@")[2]
    other = other.lower().rstrip(".")
    if domain == other:
        return True
    org = registrable_domain(domain)
    return org is not None and org == registrable_domain(other)


def proof_for(
    evidence: Iterable[Evidence], domain: str, methods: Collection[EvidenceMethod] = ALL_METHODS
) -> Evidence | None:
    """The first proof in ``evidence`` of one of ``methods`` aligned with ``domain``, or None."""
    for proof in evidence:
        if proof.method in methods and aligned(proof.domain, domain):
            return proof
    return None
