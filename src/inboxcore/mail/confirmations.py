"""Recognising a mail provider's "confirm forwarding" message.

When a team sets up forwarding from their mailbox to the channel's forwarding address, some
providers first send a message *to that address* asking its owner to confirm. The team cannot
read the forwarding address anywhere but in the helpdesk inbox, so the message must reach the
inbox (it comes from a no-reply sender, so this check runs before any no-reply or auto-reply
filter) and the code and link must be pulled out so the product can show them prominently.

What is known about each provider (see docs/classification.md for the sources):

- **Gmail / Google Workspace** (verified): from ``forwarding-noreply@google.com`` with an
  ``X-Google-Address-Confirmation`` header; subject ``Gmail Forwarding Confirmation - Receive
  Mail from user@gmail.com``. The older format also carries a numeric confirmation code in the
  subject (``(#123456789)``) and the body (``Confirmation code: 123456789``); both carry a link,
  ``https://mail.google.com/mail/vf-...`` in the older and ``https://mail-settings.google.com/
  mail/vf-...`` in the current format. Workspace domains forwarding inside the organisation
  send nothing.
- **Zoho Mail** (documented by Zoho, wording not verified): a verification mail with a link.
- **Yahoo Mail** (forwarding is a paid feature; wording not verified): a verification mail.
- Outlook.com, Microsoft 365, Fastmail, iCloud: not known to send one to the target.

For providers other than Gmail the check is a heuristic on the sender's domain and the words
of the subject; a generic rule (an automated sender whose subject speaks of confirming or
verifying forwarding) catches the rest.

**Detection is not trust.** Anyone can write an ``X-Google-Address-Confirmation`` header or a
"confirm forwarding" subject. :func:`verify_confirmation` decides, from the authentication
evidence, whether the provider sent it: the From is on one of the provider's own domains
(``google.com`` for Gmail) and that domain is proven (aligned SPF, DKIM, or a trusted ARC seal).
Only a verified confirmation's link and code are the provider's; the generic rule names no known
provider, so what it finds is never verified, and offline nothing is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from inboxcore.domain.outcomes import Reason
from inboxcore.mail.evidence import Evidence, proof_for
from inboxcore.mail.parsing import ParsedMessage

__all__ = [
    "ForwardingConfirmation",
    "detect_forwarding_confirmation",
    "provider_domains",
    "verify_confirmation",
]

_GOOGLE_SENDERS = frozenset({"forwarding-noreply@google.com", "mail-noreply@google.com"})
_GMAIL_LINK = re.compile(
    r"https://mail(?:-settings)?\.google\.com/mail/(?:u/\d+/)?vf-[^\s<>\"'()\[\]]+", re.I
)
_GMAIL_SUBJECT_CODE = re.compile(r"\(#\s*(\d{6,12})\)")
_BODY_CODE = re.compile(
    r"(?:confirmation|verification|bestätigungs|confirmación|código|code)"
    r"[^\n\d]{0,40}?(\d{6,12})\b",
    re.I,
)
_RECEIVE_FROM = re.compile(r"Receive (?:Mail|Email) from\s+<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.I)
_REQUESTED = re.compile(
    r"([^\s<>():;,]+@[^\s<>():;,]+?)\s+has requested to (?:automatically )?forward", re.I
)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,63}")
_URL = re.compile(r"https://[^\s<>\"'()\[\]]+", re.I)
_FORWARD_WORDS = re.compile(r"forward|weiterleit|reenv|transf|inoltr|doorstu|videresend", re.I)
_CONFIRM_WORDS = re.compile(
    r"confirm|verif|bestätig|verifizier|confirmaci|conferma|bevestig|bekräfta|bekræft",
    re.I,
)
_AUTOMATED_LOCAL = re.compile(
    r"no-?reply|do-?not-?reply|notification|verify|account|support|mailer", re.I
)
_PROVIDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("zoho", ("zoho.com", "zohomail.com", "zoho.eu", "zoho.in", "zohocorp.com")),
    ("yahoo", ("yahoo.com", "yahoo-inc.com", "yahoomail.com", "cc.yahoo-inc.com")),
    ("outlook", ("microsoft.com", "outlook.com", "accountprotection.microsoft.com")),
    ("fastmail", ("fastmail.com", "messagingengine.com")),
    ("icloud", ("icloud.com", "apple.com")),
    ("gmx", ("gmx.net", "gmx.com", "gmx.de", "web.de")),
    ("proton", ("proton.me", "protonmail.com")),
)


@attrs.frozen(kw_only=True)
class ForwardingConfirmation:
    """A provider's request to confirm forwarding to the channel, with what the team needs."""

    provider: str
    """``gmail``, ``zoho``, ``yahoo``..., or the sender's domain for the generic rule."""
    requesting_address: str | None
    """The mailbox that wants to forward to the channel (``support@company.example``)."""
    code: str | None
    """The confirmation code, where the provider sends one."""
    url: str | None
    """The confirmation link."""
    proof: str | None = None
    """What proves the provider sent it (``DKIM of google.com``); None until
    :func:`verify_confirmation` found a proof, and for a forgery."""

    @property
    def verified(self) -> bool:
        """Whether the provider is proven to have sent it: only then are its link and code the
        provider's."""
        return self.proof is not None


def _body(parsed: ParsedMessage) -> str:
    text = parsed.text or ""
    if parsed.html and not _URL.search(text):
        # some providers put the link only in the HTML part's href
        text = text + "\n" + parsed.html
    return text[:100_000]


def _gmail(parsed: ParsedMessage) -> ForwardingConfirmation:
    subject = parsed.subject
    body = _body(parsed)
    code = None
    found = _GMAIL_SUBJECT_CODE.search(subject) or _BODY_CODE.search(body)
    if found:
        code = found.group(1)
    link = _GMAIL_LINK.search(body)
    url = link.group(0).rstrip(".,;") if link else None
    requester = None
    match = _RECEIVE_FROM.search(subject) or _REQUESTED.search(body)
    if match:
        requester = match.group(1).strip(".,;").lower()
    else:
        for candidate in _ADDRESS.findall(subject):
            requester = candidate.lower()
            break
    return ForwardingConfirmation(
        provider="gmail", requesting_address=requester, code=code, url=url
    )


def _sender_domain(parsed: ParsedMessage) -> tuple[str, str] | None:
    if not parsed.from_:
        return None
    sender = parsed.from_[0]
    return sender.local.lower(), sender.domain


def _provider_for(domain: str) -> str | None:
    for name, domains in _PROVIDERS:
        if any(domain == d or domain.endswith("." + d) for d in domains):
            return name
    return None


def _generic(
    parsed: ParsedMessage, provider: str, channel_address: str | None
) -> ForwardingConfirmation:
    body = _body(parsed)
    code_match = _BODY_CODE.search(body) or _BODY_CODE.search(parsed.subject)
    sender = _sender_domain(parsed)
    url = None
    for match in _URL.finditer(body):
        candidate = match.group(0).rstrip(".,;")
        if sender and sender[1].split(".")[-2] in candidate.lower():
            url = candidate
            break
        if url is None:
            url = candidate
    requester = None
    requested = _REQUESTED.search(body)
    if requested:
        requester = requested.group(1).lower()
    else:
        own = {channel_address.lower()} if channel_address else set()
        for candidate in _ADDRESS.findall(parsed.subject + "\n" + body[:4000]):
            lowered = candidate.lower()
            if lowered not in own and (sender is None or not lowered.endswith("@" + sender[1])):
                requester = lowered
                break
    return ForwardingConfirmation(
        provider=provider,
        requesting_address=requester,
        code=code_match.group(1) if code_match else None,
        url=url,
    )


def detect_forwarding_confirmation(
    parsed: ParsedMessage, channel_address: str | None = None
) -> ForwardingConfirmation | None:
    """The forwarding confirmation ``parsed`` is, or None.

    ``channel_address`` (the forwarding address) keeps the generic rule from taking the
    channel's own address for the requesting one.
    """
    sender = _sender_domain(parsed)
    sender_address = f"{sender[0]}@{sender[1]}" if sender else ""
    if parsed.header("X-Google-Address-Confirmation") is not None or (
        sender_address in _GOOGLE_SENDERS and "forward" in parsed.subject.lower()
    ):
        return _gmail(parsed)
    if sender_address == "forwarding-noreply@google.com":
        return _gmail(parsed)
    if sender is None:
        return None
    subject = parsed.subject
    if not (_FORWARD_WORDS.search(subject) and _CONFIRM_WORDS.search(subject)):
        return None
    if _REPLY_PREFIX.match(subject):
        return None
    provider = _provider_for(sender[1])
    if provider is not None:
        return _generic(parsed, provider, channel_address)
    if _AUTOMATED_LOCAL.search(sender[0]):
        return _generic(parsed, sender[1], channel_address)
    return None


def provider_domains(provider: str) -> tuple[str, ...]:
    """The domains a confirmation of ``provider`` is sent from; () for the generic rule's."""
    if provider == "gmail":
        return ("google.com",)
    return next((domains for name, domains in _PROVIDERS if name == provider), ())


def verify_confirmation(
    confirmation: ForwardingConfirmation, parsed: ParsedMessage, evidence: Iterable[Evidence]
) -> tuple[ForwardingConfirmation, Reason]:
    """``confirmation`` with its :attr:`~ForwardingConfirmation.proof` when the provider is
    proven to have sent it, and the reason either way (``confirmation.verified`` or
    ``confirmation.unverified``, naming the proof or what was missing)."""
    domains = provider_domains(confirmation.provider)
    domain = parsed.from_[0].domain if parsed.from_ else ""
    on_provider = any(domain == d or domain.endswith("." + d) for d in domains)
    proof = proof_for(evidence, domain) if on_provider else None
    if proof is not None:
        return attrs.evolve(confirmation, proof=proof.describe()), Reason(
            code="confirmation.verified",
            message=f"The {confirmation.provider} confirmation is proven by {proof.describe()}.",
        )
    if not domains:
        why = f"{confirmation.provider} is no provider known to send confirmations"
    elif not on_provider:
        why = f"its From is not on {' or '.join(domains)}"
    else:
        why = (
            f"nothing proves {domain} sent it (no aligned SPF or DKIM pass or trusted ARC seal; "
            "offline nothing is proven)"
        )
    return confirmation, Reason(
        code="confirmation.unverified",
        message=f"This looks like a {confirmation.provider} forwarding confirmation, but {why}: "
        "its link and code are not the provider's.",
    )


_REPLY_PREFIX = re.compile(r"\s*(?:re|fwd?|aw|wg|tr|sv|vs|antw|rv|enc)\s*:", re.I)
