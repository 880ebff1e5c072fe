"""What an incoming message is: a forwarding confirmation, a bounce, an auto-reply, our own mail
coming back, or a message for the team.

The order of the checks matters and is fixed:

1. **forwarding confirmation**, first, because it comes from a no-reply address and carries
   auto-reply-like headers, yet the team must see it to finish connecting the channel (whether
   the provider really sent it is decided after authentication, by
   :func:`~inboxcore.mail.confirmations.verify_confirmation`);
2. **bounce** (and the other delivery reports: success notices, feedback reports, read
   receipts), which never open tickets;
3. **auto-reply** (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, Microsoft's out-of-office,
   vacation notices), accepted but never routed as new work nor answered, which is what keeps a
   helpdesk out of ping-pong with auto-responders;
4. **loop**: mail we sent ourselves coming back, dropped;
5. otherwise a **message**; list mail is recorded as such.

:func:`classify` is pure and total: any :class:`~inboxcore.mail.parsing.ParsedMessage` gets a
:class:`Classification`, never an exception.
"""

from __future__ import annotations

import re

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.model import MessageKind
from inboxcore.mail.bounces import (
    BounceReport,
    DeliveryReport,
    read_delivery_report,
    reads_as_delivery_failure,
)
from inboxcore.mail.confirmations import ForwardingConfirmation, detect_forwarding_confirmation
from inboxcore.mail.parsing import ParsedMessage

__all__ = [
    "BounceReport",
    "Classification",
    "ClassificationContext",
    "ForwardingConfirmation",
    "LOOP_HEADER",
    "classify",
    "is_auto_reply_subject",
]

LOOP_HEADER = "X-Inboxcore-Loop"
"""The header on inboxcore's outbound mail (valued per channel) that recognises it coming back."""

# Subject prefixes that auto-responders put before the original subject, in the languages a
# helpdesk meets (Exchange/Outlook, Gmail, Apple Mail, Thunderbird, common server vacation tools).
_AUTO_REPLY_PREFIXES = (
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "automatic response",
    "out of office",
    "out of office autoreply",
    "out of the office",
    "ooo",
    "automatische antwort",
    "automatische antwort (abwesenheit)",
    "abwesenheitsnotiz",
    "abwesend",
    "réponse automatique",
    "absence",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori sede",
    "resposta automática",
    "resposta automatica",
    "automatisch antwoord",
    "afwezig",
    "autosvar",
    "automatiskt svar",
    "frånvarande",
    "automatisk svar",
    "fraværende",
    "fravær",
    "automaattinen vastaus",
    "poissa",
    "automatyczna odpowiedź",
    "automatická odpověď",
    "automatikus válasz",
    "автоматический ответ",
    "自动回复",
    "自動回覆",
    "自動応答",
    "不在通知",
    "vacation",
    "on vacation",
    "away",
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:"
    + "|".join(re.escape(p) for p in sorted(_AUTO_REPLY_PREFIXES, key=len, reverse=True))
    + r")\s*(?:\([^)]*\)\s*)?[:：]",
    re.I,
)
# Phrases that mark a vacation notice anywhere in the subject; alone they are weak (a customer
# may write "Out of office next week?"), so they count only beside another automated signal.
_VACATION_WORDS = re.compile(
    r"out of (?:the )?office|on vacation|on holiday|on leave|away from (?:the )?office|"
    r"currently away|away until|vacation (?:notice|reply|message)|abwesenheit|"
    r"nicht im büro|absent du bureau|absence|fuera de la oficina|fuori ufficio|"
    r"niet aanwezig|afwezig|frånvarande|fraværende|poissa|\bOOO\b|autoreply|"
    r"auto-?reply|automatic reply",
    re.I,
)
_AUTOREPLY_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
    "X-Vacation",
)


@attrs.frozen(kw_only=True)
class ClassificationContext:
    """What classification needs to know about the channel a message arrived for."""

    channel_address: EmailAddress
    """The channel's forwarding address."""
    channel_id: str
    own_message_id_domains: frozenset[str] = frozenset()
    """Domains of the Message-IDs inboxcore generates for outbound mail (lowercase)."""
    loop_header_value: str | None = None
    """The value inboxcore puts in :data:`LOOP_HEADER` on this channel's outbound mail."""


@attrs.frozen(kw_only=True)
class Classification:
    """What a message is, why, and what was extracted on the way."""

    kind: MessageKind
    reason: str
    """A stable machine code: ``bounce.rfc3464``, ``auto_reply.subject``, ``loop.own_header``."""
    explanation: str
    """One sentence for people."""
    forwarding_confirmation: ForwardingConfirmation | None = None
    bounce: BounceReport | None = None
    list_id: str | None = None
    is_list: bool = False
    precedence: str | None = None
    """The Precedence header's value (``bulk``, ``list``, ``junk``), lowercased, if any."""
    feedback_type: str | None = None
    """For a feedback report (ARF): its Feedback-Type (``abuse``, ``opt-out``...)."""

    @property
    def opens_ticket(self) -> bool:
        """Only a plain message (or a confirmation the team must see) may become work."""
        return self.kind is MessageKind.MESSAGE


def is_auto_reply_subject(subject: str) -> bool:
    """True when ``subject`` starts with an auto-responder's prefix (``Automatic reply:``...)."""
    return _AUTO_REPLY_SUBJECT.match(subject) is not None


def _null_sender(parsed: ParsedMessage, envelope_mail_from: str | None) -> bool:
    if envelope_mail_from is not None:
        return envelope_mail_from.strip().strip("<>").strip() == ""
    return_path = parsed.header("Return-Path")
    return return_path is not None and return_path.strip().strip("<>").strip() == ""


def _precedence(parsed: ParsedMessage) -> str | None:
    value = parsed.header("Precedence") or parsed.header("X-Precedence")
    if not value:
        return None
    return value.strip().split()[0].strip(";").lower() if value.strip() else None


def _header_token(parsed: ParsedMessage, name: str) -> str | None:
    value = parsed.header(name)
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _auto_reply(parsed: ParsedMessage, null_sender: bool) -> tuple[str, str] | None:
    auto_submitted = _header_token(parsed, "Auto-Submitted")
    if auto_submitted and auto_submitted != "no":
        return (
            "auto_reply.auto_submitted",
            f"The message is marked Auto-Submitted: {auto_submitted} (RFC 3834).",
        )
    for name in _AUTOREPLY_HEADERS:
        value = parsed.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return (
                "auto_reply.x_autoreply",
                f"The message carries {name}, set by auto-responders.",
            )
    if _header_token(parsed, "X-Autogenerated") == "reply":
        return ("auto_reply.x_autoreply", "The message carries X-Autogenerated: Reply.")
    if "autoresponder" in (parsed.header("X-POST-MessageClass") or "").lower():
        return ("auto_reply.x_autoreply", "The message is classed as an autoresponder.")
    precedence = _precedence(parsed)
    if precedence == "auto_reply":
        return ("auto_reply.precedence", "The message carries Precedence: auto_reply.")
    subject = parsed.subject
    if is_auto_reply_subject(subject):
        return (
            "auto_reply.subject",
            f"The subject {subject[:80]!r} is an auto-responder's (out-of-office) subject.",
        )
    if _VACATION_WORDS.search(subject):
        automated = (
            null_sender
            or parsed.header("X-Auto-Response-Suppress") is not None
            or precedence in ("bulk", "junk")
        )
        if automated:
            return (
                "auto_reply.vacation",
                f"The subject {subject[:80]!r} is a vacation notice's, from an automated sender.",
            )
    return None


def _own_header(parsed: ParsedMessage, context: ClassificationContext) -> tuple[str, str] | None:
    if context.loop_header_value is not None:
        values = {v.strip() for v in parsed.headers(LOOP_HEADER)}
        if context.loop_header_value.strip() in values:
            return (
                "loop.own_header",
                f"The message carries our {LOOP_HEADER} header for this channel: it is our own "
                "outbound mail coming back.",
            )
    return None


def _loop(parsed: ParsedMessage, context: ClassificationContext) -> tuple[str, str] | None:
    message_id = parsed.message_id
    if message_id and "@" in message_id:
        domain = message_id.rsplit("@", 1)[1].strip().lower().rstrip(".")
        if domain in {d.lower() for d in context.own_message_id_domains}:
            return (
                "loop.own_message_id",
                f"The Message-ID is on our own domain {domain}: the message is one we sent.",
            )
    for sender in parsed.from_:
        if sender == context.channel_address or (
            sender.untagged == context.channel_address.untagged
        ):
            return (
                "loop.own_address",
                "The message is from the channel's own forwarding address.",
            )
    return None


def classify(
    parsed: ParsedMessage, envelope_mail_from: str | None, context: ClassificationContext
) -> Classification:
    """Classify ``parsed``, received with SMTP MAIL FROM ``envelope_mail_from``.

    ``envelope_mail_from`` is ``""`` for the null sender and None when the host does not know
    it (then a ``Return-Path: <>`` header stands in). Never raises.
    """
    base = _plain_message(parsed)

    confirmation = detect_forwarding_confirmation(parsed, context.channel_address.address)
    if confirmation is not None:
        return _as_confirmation(base, confirmation)

    # Our own header at the top level is proof that the message itself is ours, even when it
    # also looks automatic (our owner notifications carry Auto-Submitted): checked before the
    # auto-reply signals. A bounce *about* our mail does not carry it at its top level.
    own = _own_header(parsed, context)
    if own is not None:
        return attrs.evolve(base, kind=MessageKind.LOOP, reason=own[0], explanation=own[1])

    null_sender = _null_sender(parsed, envelope_mail_from)
    report = read_delivery_report(parsed, "" if null_sender else envelope_mail_from)
    reported = _as_delivery_report(base, report)
    if reported is not None:
        return reported
    if _is_read_receipt(parsed):
        return attrs.evolve(
            base,
            kind=MessageKind.AUTO_REPLY,
            reason="auto_reply.read_receipt",
            explanation="A read receipt (message disposition notification, RFC 8098).",
        )

    auto = _auto_reply(parsed, null_sender)
    if auto is not None:
        return attrs.evolve(base, kind=MessageKind.AUTO_REPLY, reason=auto[0], explanation=auto[1])

    if null_sender:
        return _as_null_sender(base, parsed)

    loop = _loop(parsed, context)
    if loop is not None:
        return attrs.evolve(base, kind=MessageKind.LOOP, reason=loop[0], explanation=loop[1])

    return _as_message(base)


def _plain_message(parsed: ParsedMessage) -> Classification:
    """The default verdict, carrying the list and Precedence facts every verdict keeps."""
    list_id = parsed.list_id
    is_list = bool(
        list_id
        or parsed.header("List-Post") is not None
        or parsed.header("Mailing-List") is not None
    )
    return Classification(
        kind=MessageKind.MESSAGE,
        reason="message",
        explanation="A message for the team.",
        list_id=list_id,
        is_list=is_list,
        precedence=_precedence(parsed),
    )


def _as_confirmation(base: Classification, confirmation: ForwardingConfirmation) -> Classification:
    """``base`` as a provider's request to confirm forwarding to this channel."""
    return attrs.evolve(
        base,
        kind=MessageKind.FORWARDING_CONFIRMATION,
        reason=f"forwarding_confirmation.{_code_word(confirmation.provider)}",
        explanation=(
            f"A {confirmation.provider} request to confirm forwarding"
            + (
                f" from {confirmation.requesting_address}"
                if confirmation.requesting_address
                else ""
            )
            + " to this channel."
        ),
        forwarding_confirmation=confirmation,
    )


def _as_delivery_report(
    base: Classification, report: DeliveryReport | None
) -> Classification | None:
    """``base`` as the bounce, success notice or feedback report ``report`` is, if any."""
    if report is not None and report.kind == "bounce" and report.bounce is not None:
        bounce = report.bounce
        failed = ", ".join(bounce.recipients[:3]) or "an unnamed recipient"
        return attrs.evolve(
            base,
            kind=MessageKind.BOUNCE,
            reason=f"bounce.{bounce.format}",
            explanation=(
                f"A delivery failure report ({bounce.status or 'no status'}) for {failed}."
            ),
            bounce=bounce,
        )
    if report is not None and report.kind == "delivery_success":
        return attrs.evolve(
            base,
            kind=MessageKind.AUTO_REPLY,
            reason="auto_reply.delivery_success",
            explanation="A delivery status notification saying the mail was delivered.",
        )
    if report is not None and report.kind == "feedback_report":
        return attrs.evolve(
            base,
            kind=MessageKind.AUTO_REPLY,
            reason="auto_reply.feedback_report",
            explanation=(
                f"A feedback report (RFC 5965) of type {report.feedback_type or 'unknown'} "
                "about mail sent earlier."
            ),
            feedback_type=report.feedback_type,
        )
    return None


def _as_null_sender(base: Classification, parsed: ParsedMessage) -> Classification:
    """``base`` from the null sender with no readable report: a notice, or a broken bounce."""
    if not reads_as_delivery_failure(parsed):
        # RFC 5321 keeps the null sender for automated mail, so it is never answered; but
        # without a report or failure wording it is no bounce (spam sends from <> too).
        return attrs.evolve(
            base,
            kind=MessageKind.AUTO_REPLY,
            reason="auto_reply.null_sender",
            explanation="The message came from the null sender (MAIL FROM:<>), which only "
            "automated mail uses, but it is no delivery report: an automated notice, never "
            "answered.",
        )
    # A delivery report too broken to read: still a bounce, with an empty report.
    return attrs.evolve(
        base,
        kind=MessageKind.BOUNCE,
        reason="bounce.null_sender",
        explanation="The message came from the null sender (MAIL FROM:<>) and reads as a "
        "delivery failure, but its report could not be read.",
        bounce=BounceReport(
            status=None,
            recipients=(),
            original_message_id=None,
            diagnostic=None,
            permanent=None,
            format="unknown",
        ),
    )


def _as_message(base: Classification) -> Classification:
    """``base`` as a message for the team, saying whether it is list or bulk mail."""
    list_id, precedence = base.list_id, base.precedence
    if base.is_list:
        reason, explanation = "message.list", f"A message from the mailing list {list_id or ''}."
    elif precedence in ("bulk", "list", "junk"):
        reason = f"message.precedence_{precedence}"
        explanation = f"A message marked Precedence: {precedence}."
    else:
        reason, explanation = "message", "A message for the team."
    return attrs.evolve(
        base, reason=reason, explanation=explanation.replace("  ", " ").replace(" .", ".")
    )


def _is_read_receipt(parsed: ParsedMessage) -> bool:
    if parsed.content_type != "multipart/report":
        return False
    content_type = (parsed.header("Content-Type") or "").lower().replace(" ", "")
    return "report-type=disposition-notification" in content_type or (
        'report-type="disposition-notification"' in content_type
    )


def _code_word(provider: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", provider.lower()).strip("_") or "unknown"
