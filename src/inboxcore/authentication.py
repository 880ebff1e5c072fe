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
from collections.abc import Sequence
from datetime import datetime

import attrs

from inboxcore.errors import PortError
from inboxcore.model import Envelope, IntakeSettings
from inboxcore.outcomes import Reason, SmtpReply
from inboxcore.parsing import ParsedMessage
from inboxcore.ports import DnsResolver, SpamScorer

__all__ = [
    "AuthVerdict",
    "AuthenticationConfig",
    "AuthenticationResult",
    "DEFAULT_TRUSTED_FORWARDERS",
    "DkimOutcome",
    "authenticate",
]

DEFAULT_TRUSTED_FORWARDERS: tuple[str, ...] = ("google.com",)
"""ARC sealers trusted by default to vouch for forwarded mail: Gmail and Google Groups seal as
google.com. Hosts add Microsoft 365 (``microsoft.com``) and others per channel or globally."""


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
    trusted_authserv_ids: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    """The host's own edge MTAs whose Authentication-Results may be used."""
    trusted_forwarders: tuple[str, ...] = DEFAULT_TRUSTED_FORWARDERS
    trust_upstream_spam_headers: bool = False
    """Read X-Spam-Status / X-Spam-Score of a trusted upstream filter when no scorer is plugged."""


@attrs.frozen(kw_only=True)
class DkimOutcome:
    """One DKIM signature's result, as shown to people and in the inspect JSON."""

    domain: str
    selector: str
    result: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class AuthenticationResult:
    """The checks' results (RFC 8601 words) and the disposition they lead to."""

    verdict: AuthVerdict
    reasons: tuple[Reason, ...] = ()
    smtp: SmtpReply | None = None
    spf: str = "none"
    dkim: tuple[DkimOutcome, ...] = ()
    arc: str = "none"
    dmarc: str = "none"
    dmarc_policy: str | None = None
    disposition_reason: str = "not_checked"
    header: str = ""
    """Our Authentication-Results header value, for storage and display."""
    spam_score: float | None = None
    trusted_forwarder: str | None = None
    """The ARC sealer whose word overrode a failing DMARC, if any."""


def _header_value(
    authserv_id: str, spf: str, dkim: Sequence[DkimOutcome], arc: str, dmarc: str
) -> str:
    parts = [authserv_id]
    parts.append(f"spf={spf}")
    if dkim:
        parts.extend(f"dkim={d.result} header.d={d.domain} header.s={d.selector}" for d in dkim)
    else:
        parts.append("dkim=none")
    parts.append(f"arc={arc}")
    parts.append(f"dmarc={dmarc}")
    return "; ".join(parts)


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
                SmtpReply(
                    code=451, enhanced="4.7.0", text="Spam filter unavailable, try again later"
                ),
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
            SmtpReply(code=550, enhanced="5.7.1", text="Message refused as spam"),
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
    result = AuthenticationResult(
        verdict=AuthVerdict.DELIVER,
        disposition_reason="offline" if dns is None else "not_checked",
        header=_header_value(config.authserv_id, "none", (), "none", "none"),
    )
    verdict, reason, smtp, score = _spam(raw, parsed, envelope, settings, config, spam)
    if verdict is not AuthVerdict.DELIVER and reason is not None:
        return attrs.evolve(
            result,
            verdict=verdict,
            reasons=(reason,),
            smtp=smtp,
            spam_score=score,
            disposition_reason=reason.code,
        )
    return attrs.evolve(result, spam_score=score)
