"""The security check of forwarded mail: SPF, DKIM, ARC, DMARC, trusted forwarders, spam.

A hosted inbox receives mail *forwarded* by its customers' providers. Forwarding breaks SPF (the
connecting host is the forwarder), lists break DKIM (they edit subject and body), and ARC carries
the evidence across. :func:`authenticate` runs the checks and decides the disposition:

- DMARC pass, none, or a failing ``p=none``: deliver.
- DMARC fails under quarantine or reject: deliver only through a **trusted forwarder** (the ARC
  chain passes, the newest sealer is on the trusted list, and its ARC-Authentication-Results show
  DMARC pass, or an aligned DKIM/SPF pass, for the same From); the override is recorded as such.
  Otherwise quarantine, or reject with ``550 5.7.26`` where the channel is set to reject.
- A temporary DNS error that could change the outcome is ``TEMPORARY``: intake defers (451) in a
  live SMTP session and quarantines for a recheck otherwise. Never a rejection.
- Spam: a host-supplied scorer (or trusted upstream headers) against the channel's thresholds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

import attrs

from inboxcore.auth.arc import (
    ArcResult,
    AuthenticationResults,
    parse_authentication_results,
    validate_arc,
)
from inboxcore.auth.bodyhash import BodyHashes
from inboxcore.auth.dkim_verify import DkimSignatureResult, verify_dkim
from inboxcore.auth.dmarc import DmarcResult, evaluate_dmarc, sampling_value
from inboxcore.auth.results import incoming_results, results_header
from inboxcore.auth.spf import SPF_RESULTS, SpfResult, SpfResultWord, check_spf
from inboxcore.domain.errors import PortError
from inboxcore.domain.ids import raw_message_id
from inboxcore.domain.model import DmarcFailureAction, Envelope, IntakeSettings
from inboxcore.domain.outcomes import Reason, Reply, SmtpReply
from inboxcore.mail.evidence import Evidence, EvidenceMethod, aligned, proof_for
from inboxcore.mail.parsing import ParsedMessage
from inboxcore.ports import DnsResolver, SpamScorer

__all__ = [
    "AuthVerdict",
    "AuthenticationConfig",
    "AuthenticationResult",
    "DEFAULT_TRUSTED_FORWARDERS",
    "Evidence",
    "EvidenceMethod",
    "authenticate",
]

DEFAULT_TRUSTED_FORWARDERS: tuple[str, ...] = ("google.com",)
"""ARC sealers trusted by default to vouch for forwarded mail: Gmail and Google Groups seal as
google.com. Hosts add Microsoft 365 (``microsoft.com``) and others per channel or globally."""


def _lower_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


class AuthVerdict(enum.Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    REJECT = "reject"
    TEMPORARY = "temporary"


@attrs.frozen(kw_only=True)
class AuthenticationConfig:
    """Host-wide authentication settings."""

    authserv_id: str = "inboxcore"
    """Our authserv-id in Authentication-Results; upstream headers claiming it are discarded."""
    trusted_authserv_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_lower_set)
    """The host's own edge MTAs whose Authentication-Results may be used."""
    trusted_forwarders: tuple[str, ...] = DEFAULT_TRUSTED_FORWARDERS
    trust_upstream_spam_headers: bool = False
    """Read X-Spam-Status / X-Spam-Score of a trusted upstream filter when no scorer is plugged."""


@attrs.frozen(kw_only=True)
class AuthenticationResult:
    """The checks' results (RFC 8601 words) and the disposition they lead to."""

    verdict: AuthVerdict
    reasons: tuple[Reason, ...] = ()
    smtp: SmtpReply | None = None
    spf: str = "none"
    dkim: tuple[DkimSignatureResult, ...] = ()
    """Every DKIM signature's result, topmost first."""
    arc: str = "none"
    dmarc: str = "none"
    dmarc_policy: str | None = None
    disposition_reason: str = "not_checked"
    header: str = ""
    """Our Authentication-Results header value, for storage and display."""
    spam_score: float | None = None
    trusted_forwarder: str | None = None
    """The ARC sealer whose word overrode a failing DMARC, if any."""
    spf_detail: SpfResult | None = None
    arc_detail: ArcResult | None = None
    dmarc_detail: DmarcResult | None = None
    upstream: AuthenticationResults | None = None
    """Authentication-Results of a trusted upstream authserv-id, where one was used."""
    evidence: tuple[Evidence, ...] = ()
    """Every domain the message provably comes from (empty offline): see :meth:`authenticates`."""

    def authenticates(self, domain: str) -> Evidence | None:
        """The proof that ``domain`` (an address's domain) sent the message, or None.

        Relaxed alignment, as DMARC's default: a passing SPF or DKIM identity, or a domain a
        trusted ARC sealer saw pass, of the same organizational domain. Offline (no DNS) nothing
        is authenticated.
        """
        return proof_for(self.evidence, domain)


def _upstream_spam_score(parsed: ParsedMessage) -> float | None:
    for name in ("X-Spam-Score", "X-Rspamd-Score"):
        value = parsed.header(name)
        if value:
            try:
                return float(value.split()[0])
            except ValueError:
                continue
    status = parsed.header("X-Spam-Status")
    if status:
        for token in status.replace(",", " ").split():
            if token.startswith(("score=", "hits=")):
                try:
                    return float(token.split("=", 1)[1])
                except ValueError:
                    continue
    return None


def _spam(
    raw: bytes,
    parsed: ParsedMessage,
    envelope: Envelope,
    settings: IntakeSettings,
    config: AuthenticationConfig,
    spam: SpamScorer | None,
) -> tuple[AuthVerdict, Reason | None, SmtpReply | None, float | None]:
    if settings.spam_quarantine_threshold is None and settings.spam_reject_threshold is None:
        return AuthVerdict.DELIVER, None, None, None
    score: float | None
    if spam is not None:
        try:
            score = spam.score(raw, envelope).score
        except PortError as exc:
            return (
                AuthVerdict.TEMPORARY,
                Reason(code="spam.unavailable", message=f"The spam filter is unavailable ({exc})."),
                Reply.SPAM_FILTER_DOWN.value,
                None,
            )
    elif config.trust_upstream_spam_headers:
        score = _upstream_spam_score(parsed)
    else:
        score = None
    if score is None:
        return AuthVerdict.DELIVER, None, None, None
    if settings.spam_reject_threshold is not None and score >= settings.spam_reject_threshold:
        return (
            AuthVerdict.REJECT,
            Reason(
                code="spam.reject",
                message=f"Spam score {score:g} is at or above the channel's rejection threshold "
                f"{settings.spam_reject_threshold:g}.",
            ),
            Reply.SPAM.value,
            score,
        )
    if (
        settings.spam_quarantine_threshold is not None
        and score >= settings.spam_quarantine_threshold
    ):
        return (
            AuthVerdict.QUARANTINE,
            Reason(
                code="spam.quarantine",
                message=f"Spam score {score:g} is at or above the channel's quarantine threshold "
                f"{settings.spam_quarantine_threshold:g}.",
            ),
            None,
            score,
        )
    return AuthVerdict.DELIVER, None, None, score


def _trusted(sealer: str | None, trusted: Sequence[str]) -> str | None:
    if not sealer:
        return None
    sealer = sealer.lower().rstrip(".")
    for domain in trusted:
        domain = domain.lower().rstrip(".")
        if sealer == domain or sealer.endswith("." + domain):
            return domain
    return None


def _forwarder_vouches(aar: AuthenticationResults | None, from_domain: str) -> bool:
    """Whether the newest sealer's ARC-Authentication-Results show DMARC pass, or an aligned
    DKIM or SPF pass, for the message's From domain."""
    return any(aligned(domain, from_domain) for domain in _arc_vouched(aar))


def _arc_vouched(aar: AuthenticationResults | None) -> list[str]:
    """The domains a (trusted, passing) sealer's ARC-Authentication-Results saw pass."""
    if aar is None:
        return []
    found = [d.get("header.from") for d in aar.dmarc if d.result == "pass"]
    found += [d.get("header.d") or d.get("header.i") for d in aar.dkim if d.result == "pass"]
    found += [s.get("smtp.mailfrom") for s in aar.spf if s.result == "pass"]
    return [f.lower().rstrip(".").rpartition("@")[2] for f in found if f]


def _evidence(
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    arc: ArcResult | None,
    trusted: Sequence[str],
) -> tuple[Evidence, ...]:
    proofs: list[Evidence] = []
    if spf is not None and spf.result == "pass" and spf.identity == "mailfrom":
        proofs.append(Evidence(domain=spf.domain.lower(), method=EvidenceMethod.SPF))
    proofs.extend(
        Evidence(domain=d.domain.lower(), method=EvidenceMethod.DKIM) for d in dkim if d.passed
    )
    if arc is not None and arc.passed and _trusted(arc.newest_sealer, trusted):
        proofs.extend(
            Evidence(domain=domain, method=EvidenceMethod.ARC, via=arc.newest_sealer)
            for domain in dict.fromkeys(_arc_vouched(arc.newest_aar))
        )
    return tuple(proofs)


def _trusted_upstream(
    parsed: ParsedMessage, config: AuthenticationConfig
) -> AuthenticationResults | None:
    """The topmost Authentication-Results of a trusted authserv-id (our edge MTA), if any.

    Headers claiming our own authserv-id were not written by us (we never store ours in the raw
    message) and are ignored, as are all others not configured as trusted, and quoted or
    encoded spellings of a trusted id (read as written: :func:`incoming_results`).
    """
    for value in incoming_results(parsed):
        results = parse_authentication_results(value)
        if results is None:
            continue
        authserv = results.authserv_id.lower()
        if authserv == config.authserv_id.lower():
            continue
        if authserv in config.trusted_authserv_ids:
            return results
    return None


def _upstream_spf(upstream: AuthenticationResults, envelope: Envelope) -> SpfResult | None:
    """The SPF result our edge MTA recorded (it saw the real client), as our own value."""
    for spf in upstream.spf:
        mailfrom, helo = spf.get("smtp.mailfrom"), spf.get("smtp.helo")
        domain = mailfrom or helo
        if domain is None:
            continue
        # Only the RFC 8601 words are taken; anything else an upstream wrote reads as "none".
        word = cast(SpfResultWord, spf.result) if spf.result in SPF_RESULTS else "none"
        return SpfResult(
            result=word,
            domain=domain.rpartition("@")[2].lower(),
            identity="mailfrom" if mailfrom else "helo",
            ip=envelope.client_ip or "",
            reason=f"from trusted upstream {upstream.authserv_id}",
        )
    return None


def authenticate(
    raw: bytes,
    parsed: ParsedMessage,
    envelope: Envelope,
    *,
    dns: DnsResolver | None,
    settings: IntakeSettings,
    config: AuthenticationConfig,
    now: datetime,
    spam: SpamScorer | None = None,
) -> AuthenticationResult:
    """Authenticate one message and decide its disposition. ``dns=None`` runs offline: every
    result is ``none`` and only the spam check can hold the message back."""
    if dns is None:
        result = AuthenticationResult(
            verdict=AuthVerdict.DELIVER,
            disposition_reason="offline",
            header=results_header(config.authserv_id, None, (), None, None),
        )
    else:
        result = _check(raw, parsed, envelope, dns=dns, settings=settings, config=config, now=now)
    if result.verdict is not AuthVerdict.DELIVER:
        return result
    verdict, reason, smtp, score = _spam(raw, parsed, envelope, settings, config, spam)
    if verdict is not AuthVerdict.DELIVER and reason is not None:
        return attrs.evolve(
            result,
            verdict=verdict,
            reasons=(*result.reasons, reason),
            smtp=smtp,
            spam_score=score,
            disposition_reason=reason.code,
        )
    return attrs.evolve(result, spam_score=score)


def _check(
    raw: bytes,
    parsed: ParsedMessage,
    envelope: Envelope,
    *,
    dns: DnsResolver,
    settings: IntakeSettings,
    config: AuthenticationConfig,
    now: datetime,
) -> AuthenticationResult:
    upstream = _trusted_upstream(parsed, config)
    spf: SpfResult | None = None
    if envelope.client_ip:
        spf = check_spf(envelope.client_ip, envelope.mail_from, envelope.helo, dns)
    elif upstream is not None:
        spf = _upstream_spf(upstream, envelope)
    body_hashes = BodyHashes(raw)
    dkim = verify_dkim(raw, dns, now=now, body_hashes=body_hashes)
    arc: ArcResult | None = None
    if any(name.lower() == "arc-seal" for name in parsed.header_names()):
        arc = validate_arc(raw, dns, now=now, body_hashes=body_hashes)
    # DMARC aligns with the RFC 5322 From only. A From only a person can read (``Bank
    # bank@bank.example``) is checked against its domain's policy with nothing authenticated,
    # so that it never passes as that domain and a p=reject there still applies.
    strict = bool(parsed.rfc5322_from)
    from_domains = [a.domain for a in parsed.from_]
    dmarc = evaluate_dmarc(
        from_domains=from_domains,
        spf=spf if strict else None,
        dkim_pass_domains=[d.domain for d in dkim if d.result == "pass" and strict],
        dns=dns,
        sample=sampling_value(raw_message_id(raw)),
    )
    base = AuthenticationResult(
        verdict=AuthVerdict.DELIVER,
        spf=spf.result if spf else "none",
        dkim=dkim,
        arc=arc.result if arc else "none",
        dmarc=dmarc.result,
        dmarc_policy=dmarc.policy,
        header=results_header(config.authserv_id, spf, dkim, arc, dmarc),
        spf_detail=spf,
        arc_detail=arc,
        dmarc_detail=dmarc,
        upstream=upstream,
        evidence=_evidence(
            spf, dkim, arc, (*settings.trusted_forwarders, *config.trusted_forwarders)
        ),
    )
    return _disposition(base, dmarc, spf, dkim, arc, settings, config)


def _disposition(
    base: AuthenticationResult,
    dmarc: DmarcResult,
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    arc: ArcResult | None,
    settings: IntakeSettings,
    config: AuthenticationConfig,
) -> AuthenticationResult:
    if dmarc.result == "temperror":
        return _decided(
            base,
            AuthVerdict.TEMPORARY,
            "dmarc.temperror",
            f"The DMARC policy could not be looked up for now ({dmarc.reason.message}).",
            Reply.DNS_TRY_LATER.value,
        )
    enforced = dmarc.result == "fail" and dmarc.applied_policy in ("quarantine", "reject")
    if not enforced:
        return _not_enforced(base, dmarc)
    from_domain = dmarc.from_domain or ""
    trusted = (*settings.trusted_forwarders, *config.trusted_forwarders)
    if arc is not None and arc.passed:
        vouching = _trusted(arc.newest_sealer, trusted)
        if vouching and _forwarder_vouches(arc.newest_aar, from_domain):
            return attrs.evolve(
                _decided(
                    base,
                    AuthVerdict.DELIVER,
                    "dmarc.fail.trusted_forwarder",
                    f"DMARC failed after forwarding, but the trusted forwarder {arc.newest_sealer} "
                    f"sealed the message (ARC) and saw it authenticate for {from_domain}.",
                ),
                trusted_forwarder=arc.newest_sealer,
            )
    # A temporary failure of a check that could have rescued the message keeps it for a recheck.
    if (
        (spf is not None and spf.result == "temperror")
        or any(d.result == "temperror" for d in dkim)
        or (arc is not None and arc.result == "temperror")
    ):
        return _decided(
            base,
            AuthVerdict.TEMPORARY,
            "auth.temperror",
            "DMARC failed while a check could not be completed (temporary DNS error); "
            "the message is held for a recheck.",
            Reply.DNS_TRY_LATER.value,
        )
    return _dmarc_enforced(base, dmarc, settings, from_domain)


def _decided(
    base: AuthenticationResult,
    verdict: AuthVerdict,
    code: str,
    message: str,
    smtp: SmtpReply | None = None,
) -> AuthenticationResult:
    """``base`` with its verdict decided, for one reason whose code is the disposition reason."""
    return attrs.evolve(
        base,
        verdict=verdict,
        reasons=(Reason(code=code, message=message),),
        smtp=smtp,
        disposition_reason=code,
    )


def _not_enforced(base: AuthenticationResult, dmarc: DmarcResult) -> AuthenticationResult:
    """Deliver: DMARC passed, or its outcome asks for no action."""
    if dmarc.result == "pass":
        return _decided(
            base,
            AuthVerdict.DELIVER,
            "dmarc.pass",
            "The sender's domain authenticated the message (DMARC pass).",
        )
    if dmarc.result == "fail":
        return _decided(
            base,
            AuthVerdict.DELIVER,
            "dmarc.fail.not_enforced",
            f"DMARC failed, but the domain's policy ({dmarc.applied_policy or 'none'}) "
            "asks for no action.",
        )
    return _decided(base, AuthVerdict.DELIVER, f"dmarc.{dmarc.result}", dmarc.reason.message)


def _dmarc_enforced(
    base: AuthenticationResult,
    dmarc: DmarcResult,
    settings: IntakeSettings,
    from_domain: str,
) -> AuthenticationResult:
    """Reject or quarantine a DMARC failure nothing rescued, as the policy and settings say."""
    explanation = (
        f"{from_domain} publishes DMARC p={dmarc.applied_policy} and the message did not "
        "authenticate for it (no aligned SPF or DKIM pass, no trusted forwarder's ARC seal)."
    )
    if (
        dmarc.applied_policy == "reject"
        and settings.dmarc_failure_action is DmarcFailureAction.REJECT
    ):
        return _decided(
            base,
            AuthVerdict.REJECT,
            "dmarc.fail.reject",
            explanation,
            Reply.DMARC_REJECT.value,
        )
    return _decided(base, AuthVerdict.QUARANTINE, f"dmarc.fail.{dmarc.applied_policy}", explanation)
