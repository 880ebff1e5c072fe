"""The intake pipeline: one raw message in, one verdict out.

:func:`ingest` takes the bytes (or a binary stream) as the host received them, with the envelope
the host saw, and decides what the message is. The stages, in order:

1. **recipient**: the envelope recipients (or, when the host has none, ``Delivered-To``,
   ``X-Original-To``, ``X-Forwarded-To``) select the channel by its forwarding address,
   case-insensitively, plus-tags ignored. Unknown: rejected, ``550 5.1.1``.
2. **size**: at most the channel's limit (30 MB by default), reading at most limit + 1 bytes of a
   stream and never parsing an oversize message: rejected, ``552 5.3.4``.
3. **raw store**: every message not rejected outright is stored (content-addressed, with its
   envelope) before it is parsed; from here on nothing is lost: storage failing defers it
   (``451``, ``storage_unavailable``), any other failure quarantines it with reason
   ``internal_error`` and its raw id, for :func:`reprocess` later.
4. **parse** (never raises), **classify** (forwarding confirmation, bounce, auto-reply, loop,
   message), **deduplicate** (Message-ID, else a content fingerprint, per channel),
   **authenticate** (SPF, DKIM, ARC, DMARC and the forwarded-mail disposition), **spam**, and
   **original sender** (the contact who wrote it, not the mailbox that forwarded it), which comes
   after authentication because only its evidence lets a list or the team be believed
   (:class:`~inboxcore.mail.sender.SenderTrust`); a forwarding confirmation is verified against
   the same evidence.

The pipeline reads storage (channel, duplicates) but writes only the raw store; applying an
accepted message (contact, conversation, routing, ticket) is the service's job, in one unit of
work. Outcomes are values: a bad message never raises.

**The reply of a stored message is provisional.** For a message with a raw id, the ``250`` of an
acceptance, a duplicate or a quarantine (and the ``5xx`` of a rejection) may be given only once
an intake record listing the message is committed; until then it is a proposal
(:attr:`IntakeResult.needs_record`). :class:`~inboxcore.app.service.InboxService` commits that
record and answers ``451 4.3.0`` when it cannot; hosts answer with
:attr:`~inboxcore.app.service.Delivery.smtp`, never with :attr:`IntakeResult.smtp`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable
from typing import BinaryIO, ClassVar

import attrs

from inboxcore.auth.authentication import (
    AuthenticationConfig,
    AuthenticationResult,
    AuthVerdict,
    authenticate,
)
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress, PortError, StorageError
from inboxcore.domain.ids import ChannelId, MessageId, RawMessageId
from inboxcore.domain.model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Channel,
    Envelope,
    Message,
    MessageKind,
    default_dedup_key,
)
from inboxcore.domain.outcomes import Disposition, Reason, Reply, SmtpReply
from inboxcore.mail.classify import (
    Classification,
    ClassificationContext,
    classify,
)
from inboxcore.mail.confirmations import verify_confirmation
from inboxcore.mail.parsing import ParsedMessage, parse_message
from inboxcore.mail.sender import SenderResolution, SenderTrust, resolve_sender
from inboxcore.policies.recipients import (
    channel_for_recipients,
    find_channel,
    recipient_candidates,
    recipient_refusal,
    size_refusal,
)
from inboxcore.ports import (
    Clock,
    Directory,
    DnsResolver,
    MessageRepository,
    RawMessageStore,
    SpamScorer,
    Storage,
)

__all__ = [
    "IntakeAccepted",
    "IntakeConfig",
    "IntakeDeferred",
    "IntakeDuplicate",
    "IntakePorts",
    "IntakeQuarantined",
    "IntakeRejected",
    "IntakeResult",
    "channel_for_recipients",
    "check_declared_size",
    "content_fingerprint",
    "find_duplicate",
    "ingest",
    "read_limited",
    "recipient_candidates",
    "reprocess",
]

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


def _domain_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower().rstrip(".") for v in values)


@attrs.frozen(kw_only=True)
class IntakeConfig:
    """Host-wide intake settings (per-channel ones live in ``Channel.intake``)."""

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    """The limit where no channel is known yet (recipient only in the headers)."""
    own_message_id_domains: frozenset[str] = attrs.field(default=frozenset(), converter=_domain_set)
    """Domains of the Message-IDs our outbound mail carries (for loop detection)."""
    authentication: AuthenticationConfig = attrs.field(factory=AuthenticationConfig)
    dns_budget: float | None = 15.0
    """Seconds of uncached DNS lookups one message may spend (where the resolver supports
    budgets, see :class:`~inboxcore.ports.BudgetedDnsResolver`); spent, the lookups fail as
    temporary errors, so the message is deferred or kept for a recheck. None: no budget."""


@attrs.frozen(kw_only=True)
class IntakePorts:
    """The ports intake uses; ``dns=None`` runs offline (authentication results are ``none``)."""

    storage: Storage
    raw_store: RawMessageStore
    clock: Clock
    dns: DnsResolver | None = None
    directory: Directory | None = None
    spam: SpamScorer | None = None


class _Outcome:
    """What every intake outcome answers alike (a plain base of the frozen outcome classes)."""

    __slots__ = ()
    disposition: ClassVar[Disposition]
    reasons: tuple[Reason, ...]
    raw_id: RawMessageId | None
    classification: Classification | None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def kind(self) -> MessageKind | None:
        return self.classification.kind if self.classification else None

    @property
    def needs_record(self) -> bool:
        """Whether ``smtp`` may be given only after an intake record listing the message is
        committed: a stored message with a final verdict (anything but a deferral)."""
        return self.raw_id is not None and self.disposition is not Disposition.DEFERRED


@attrs.frozen(kw_only=True)
class IntakeAccepted(_Outcome):
    """Let in: every stage ran, and everything applying it needs is here, never None."""

    disposition: ClassVar[Disposition] = Disposition.ACCEPTED
    reasons: tuple[Reason, ...]
    smtp: SmtpReply
    """The reply intake proposes, provisional until the service committed the message
    (:attr:`~inboxcore.app.service.Delivery.smtp` is the reply to give)."""
    envelope: Envelope
    size: int
    raw_id: RawMessageId
    channel: Channel
    parsed: ParsedMessage = attrs.field(eq=False, repr=False)
    classification: Classification
    fingerprint: str
    dedup_key: str
    """The key the message is stored under; see :func:`find_duplicate`."""
    sender: SenderResolution
    authentication: AuthenticationResult


@attrs.frozen(kw_only=True)
class _Stopped(_Outcome):
    """What an outcome decided before the last stage holds: the verdict, and whatever the
    stages that ran found (None for those that did not run). The outcomes below differ only in
    what they always have."""

    reasons: tuple[Reason, ...]
    smtp: SmtpReply
    envelope: Envelope
    size: int
    raw_id: RawMessageId | None = None
    channel: Channel | None = None
    parsed: ParsedMessage | None = attrs.field(default=None, eq=False, repr=False)
    classification: Classification | None = None
    fingerprint: str | None = None
    dedup_key: str | None = None
    sender: SenderResolution | None = None
    authentication: AuthenticationResult | None = None


@attrs.frozen(kw_only=True)
class IntakeDuplicate(_Stopped):
    """The channel holds this message already (:attr:`duplicate_of`); nothing new is stored."""

    disposition: ClassVar[Disposition] = Disposition.DUPLICATE
    raw_id: RawMessageId
    channel: Channel
    duplicate_of: MessageId


@attrs.frozen(kw_only=True)
class IntakeQuarantined(_Stopped):
    """Kept aside with its raw id (a loop, a failing check, no sender, an internal error); the
    stages that ran left what they found."""

    disposition: ClassVar[Disposition] = Disposition.QUARANTINED
    raw_id: RawMessageId


@attrs.frozen(kw_only=True)
class IntakeRejected(_Stopped):
    """Refused for good (unknown recipient, too big, a DMARC reject the channel applies); stored
    only when the refusal came after the raw store."""

    disposition: ClassVar[Disposition] = Disposition.REJECTED


@attrs.frozen(kw_only=True)
class IntakeDeferred(_Stopped):
    """Refused for now (storage failing, a DNS failure in a live session): the sender keeps the
    message and retries; nothing lists it."""

    disposition: ClassVar[Disposition] = Disposition.DEFERRED


IntakeResult = (
    IntakeAccepted | IntakeDuplicate | IntakeQuarantined | IntakeRejected | IntakeDeferred
)
"""What intake decided about one message: one type per outcome."""

_BY_DISPOSITION: dict[Disposition, type[IntakeResult]] = {
    Disposition.ACCEPTED: IntakeAccepted,
    Disposition.DUPLICATE: IntakeDuplicate,
    Disposition.QUARANTINED: IntakeQuarantined,
    Disposition.REJECTED: IntakeRejected,
    Disposition.DEFERRED: IntakeDeferred,
}


@attrs.frozen(kw_only=True)
class _State:
    """What the stages found so far; each verdict turns it into its outcome's type."""

    envelope: Envelope
    size: int
    raw_id: RawMessageId | None = None
    channel: Channel | None = None
    parsed: ParsedMessage | None = attrs.field(default=None, eq=False, repr=False)
    classification: Classification | None = None
    fingerprint: str | None = None
    dedup_key: str | None = None
    sender: SenderResolution | None = None
    authentication: AuthenticationResult | None = None
    duplicate_of: MessageId | None = None

    def verdict(self, disposition: Disposition, smtp: SmtpReply, *reasons: Reason) -> IntakeResult:
        fields = attrs.asdict(self, recurse=False)
        if disposition is not Disposition.DUPLICATE:
            fields.pop("duplicate_of")
        outcome: IntakeResult = _BY_DISPOSITION[disposition](smtp=smtp, reasons=reasons, **fields)
        return outcome


# --- SMTP replies ----------------------------------------------------------------------------

_ACCEPTED = Reply.ACCEPTED.value
_KEPT = Reply.KEPT.value
_DUPLICATE = Reply.DUPLICATE.value
_UNKNOWN = Reply.UNKNOWN_RECIPIENT.value
_STORE_DOWN = Reply.STORAGE_DOWN.value
_REFUSED = Reply.REFUSED.value
_TRY_LATER = Reply.TRY_LATER.value


def check_declared_size(
    declared: int, channel: Channel | None, config: IntakeConfig
) -> SmtpReply | None:
    """For hosts that know the size before reading (SMTP SIZE, IMAP RFC822.SIZE): the refusal to
    give now, or None when the message may be sent."""
    limit = channel.intake.max_message_size if channel else config.max_message_size
    return size_refusal(limit).reply if declared > limit else None


def read_limited(source: bytes | bytearray | memoryview | BinaryIO, limit: int) -> bytes | None:
    """The message bytes, or None when there are more than ``limit``.

    A stream is read for at most ``limit + 1`` bytes and then abandoned, so an oversize message
    never costs more than the limit in memory. A buffered stream answers the one large read in
    one piece, so a message within the limit is held once, without a joining copy.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None if len(source) > limit else bytes(source)
    chunks: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        chunk = source.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    if remaining <= 0:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _fingerprint_body_start(raw: bytes) -> int:
    """Where the fingerprint's body starts: after the first blank line, CRLF or LF."""
    split = raw.find(b"\r\n\r\n")
    # Only an LF pair before the CRLF one matters: not searching past it saves a scan of the
    # whole body of every CRLF message (0.05 ms of 0.24 on 50 KB).
    split_lf = raw.find(b"\n\n", 0, split + 1 if split >= 0 else len(raw))
    if split < 0 or (0 <= split_lf < split):
        return split_lf + 2 if split_lf >= 0 else len(raw)
    return split + 4


def content_fingerprint(parsed: ParsedMessage) -> str:
    """A SHA-256 that identifies a message without a Message-ID across deliveries.

    Trace headers (Received, Delivered-To, ARC, DKIM, Authentication-Results) differ between two
    deliveries of the same message, so only what the author wrote counts: From, To, Cc, Date,
    Subject and the body bytes.
    """
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update(
            name.encode() + b":" + " ".join(parsed.headers(name)).encode("utf-8", "replace")
        )
        digest.update(b"\0")
    raw = parsed.raw
    body_start = _fingerprint_body_start(raw)
    # The body is hashed in chunks with CRLF folded to LF (so the same message with either line
    # ending matches), never copied whole: a 30 MB message costs one chunk of memory here.
    view = memoryview(raw)
    carry = b""
    for start in range(body_start, len(raw), _HASH_CHUNK):
        chunk = carry + view[start : start + _HASH_CHUNK].tobytes()
        carry = b""
        if chunk.endswith(b"\r"):
            chunk, carry = chunk[:-1], b"\r"
        digest.update(chunk.replace(b"\r\n", b"\n"))
    digest.update(carry)
    return digest.hexdigest()


def _team_addresses(channel: Channel, directory: Directory | None) -> frozenset[str]:
    keys = {a.key for a in channel.mailbox_addresses}
    if directory is not None:
        keys.update(u.email.key for u in directory.users(channel.account_id))
    return frozenset(keys)


def ingest(
    message: bytes | BinaryIO,
    envelope: Envelope,
    *,
    ports: IntakePorts,
    config: IntakeConfig = IntakeConfig(),
    live_smtp: bool = False,
    team_addresses: Collection[str] = (),
    forwarding_path: str | None = None,
) -> IntakeResult:
    """Decide what one incoming message is. Never raises for a bad message.

    ``live_smtp``: the host is inside an SMTP/LMTP session and can answer with a temporary
    failure, so a temporary DNS error that could change the outcome defers the message (451)
    instead of quarantining it for a recheck. ``team_addresses``: address keys of agents and team
    mailboxes on top of those the directory and the channel know (``inboxcore inspect`` uses it).
    ``forwarding_path``: an operator's word that the message came through the channel's
    configured forwarding path (``inboxcore ingest --mailbox-export``: an export of the team's
    own mailbox), which stands in for proof of the team's addresses where there is no DNS. It
    names who vouches, for the reasons; never set it for mail from the network.
    """
    read = _read_for_channel(message, envelope, ports.storage, config)
    if not isinstance(read, tuple):
        return read
    raw, channel = read
    try:
        raw_id = ports.raw_store.put(raw, envelope)
    except PortError as exc:
        log.warning("raw store unavailable: %s", exc)
        return _result(
            Disposition.DEFERRED,
            "storage_unavailable",
            "The message could not be stored safely; the sender will retry.",
            _STORE_DOWN,
            envelope,
            len(raw),
        )
    run = _Run(
        ports=ports,
        config=config,
        live_smtp=live_smtp,
        team_addresses=team_addresses,
        forwarding_path=forwarding_path,
    )
    return _process_stored(raw, raw_id, envelope, channel, run)


def _read_for_channel(
    message: bytes | BinaryIO, envelope: Envelope, storage: Storage, config: IntakeConfig
) -> tuple[bytes, Channel | None] | IntakeResult:
    """The message's bytes and the channel its envelope names (None when only its headers may
    say), or the verdict given before anything is stored: storage down, no such recipient, too
    big (a stream is read for at most the limit + 1 bytes)."""
    channel: Channel | None = None
    try:
        channel = find_channel(storage, recipient_candidates(envelope, None))
    except PortError as exc:
        log.warning("storage unavailable while finding the channel: %s", exc)
        return _result(
            Disposition.DEFERRED,
            "storage_unavailable",
            "Storage is unavailable.",
            _STORE_DOWN,
            envelope,
            0,
        )
    if envelope.rcpt_to and channel is None:
        return _result(
            Disposition.REJECTED,
            "unknown_recipient",
            "No channel receives at " + ", ".join(envelope.rcpt_to) + ".",
            _UNKNOWN,
            envelope,
            0,
        )
    limit = channel.intake.max_message_size if channel else config.max_message_size
    raw = read_limited(message, limit)
    if raw is None:
        too_big = _State(envelope=envelope, size=limit + 1, channel=channel)
        refusal = size_refusal(limit)
        return too_big.verdict(Disposition.REJECTED, refusal.reply, refusal.reason)
    return raw, channel


def reprocess(
    raw_id: RawMessageId,
    envelope: Envelope,
    *,
    ports: IntakePorts,
    config: IntakeConfig = IntakeConfig(),
    team_addresses: Collection[str] = (),
    release: bool = False,
    retry_later: bool = False,
) -> IntakeResult:
    """Run intake again on a stored raw message (after a quarantine for an internal error or a
    temporary DNS failure). Raises :class:`~inboxcore.domain.errors.NotFoundError` for an unknown
    id.

    ``retry_later``: the caller will run it again on a temporary failure (a queue's retries), so
    a temporary authentication failure defers it, as inside a live SMTP session, instead of
    quarantining it for a recheck.

    ``release``: the team has looked at a message held back by authentication or spam checks and
    lets it in; the checks still run and their results are kept, but they no longer hold it back.
    Loops, duplicates and messages with no usable sender are not released.
    """
    raw = ports.raw_store.get(raw_id)
    channel: Channel | None = None
    keys = recipient_candidates(envelope, None)
    if keys:
        channel = find_channel(ports.storage, keys)
    run = _Run(
        ports=ports,
        config=config,
        team_addresses=team_addresses,
        release=release,
        live_smtp=retry_later,
    )
    return _process_stored(raw, raw_id, envelope, channel, run)


@attrs.frozen(kw_only=True)
class _Run:
    """What stays the same through one run of the pipeline: its ports and settings."""

    ports: IntakePorts
    config: IntakeConfig
    live_smtp: bool = False
    team_addresses: Collection[str] = ()
    release: bool = False
    forwarding_path: str | None = None


def _process_stored(
    raw: bytes, raw_id: RawMessageId, envelope: Envelope, channel: Channel | None, run: _Run
) -> IntakeResult:
    # From here the message is stored: nothing loses it. Storage failing is temporary (the
    # sender retries); anything else quarantines it for a later reprocess.
    try:
        return _decide(raw, raw_id, envelope, channel, run)
    except StorageError as exc:
        log.warning("storage unavailable during intake of raw message %s: %s", raw_id, exc)
        stored = _State(envelope=envelope, size=len(raw), raw_id=raw_id, channel=channel)
        return stored.verdict(
            Disposition.DEFERRED,
            _STORE_DOWN,
            Reason(
                code="storage_unavailable",
                message=f"Storage failed ({type(exc).__name__}); nothing was recorded and the "
                "sender will retry.",
            ),
        )
    except Exception as exc:  # the promise: no exception escapes for a bad message
        log.exception("intake failed for raw message %s", raw_id)
        stored = _State(envelope=envelope, size=len(raw), raw_id=raw_id, channel=channel)
        return stored.verdict(
            Disposition.QUARANTINED,
            _KEPT,
            Reason(
                code="internal_error",
                message=f"Processing failed ({type(exc).__name__}); the message is kept "
                f"as {raw_id} and can be processed again.",
            ),
        )


def _decide(
    raw: bytes, raw_id: RawMessageId, envelope: Envelope, channel: Channel | None, run: _Run
) -> IntakeResult:
    """The stages in order: each adds what it found to the state or ends with a verdict."""
    parsed = parse_message(raw)
    state = _State(envelope=envelope, size=len(raw), raw_id=raw_id, parsed=parsed, channel=channel)
    routed = _recipient_stage(state, raw, run)
    if not isinstance(routed, Channel):
        return routed
    classification = _classify(parsed, envelope, routed, run)
    fingerprint = content_fingerprint(parsed)
    state = attrs.evolve(
        state, channel=routed, classification=classification, fingerprint=fingerprint
    )
    if classification.kind is MessageKind.LOOP:
        # Kept aside with a 250: refusing it would send a bounce round the same loop.
        reason = Reason(code=classification.reason, message=classification.explanation)
        return state.verdict(Disposition.QUARANTINED, _KEPT, reason)
    duplicate, dedup_key = _find_duplicate(run.ports.storage, routed, parsed, fingerprint)
    state = attrs.evolve(state, dedup_key=dedup_key, duplicate_of=duplicate)
    if duplicate is not None:
        what = f"Message-ID {parsed.message_id}" if parsed.message_id else "the same content"
        message = f"The channel already received this message ({what})."
        return state.verdict(
            Disposition.DUPLICATE, _DUPLICATE, Reason(code="duplicate", message=message)
        )
    checked = _authenticate(raw, parsed, envelope, routed, classification, run)
    state = attrs.evolve(
        state,
        classification=checked.classification,
        sender=checked.sender,
        authentication=checked.authentication,
    )
    return _verdict(state, checked, run)


def _recipient_stage(state: _State, raw: bytes, run: _Run) -> Channel | IntakeResult:
    """The channel (from the delivery headers when the envelope named none), open, big enough."""
    channel = state.channel
    if channel is None:
        keys = recipient_candidates(state.envelope, state.parsed)
        channel = find_channel(run.ports.storage, keys)
    refusal = recipient_refusal(channel, len(raw))
    if refusal is not None:
        return state.verdict(Disposition.REJECTED, refusal.reply, refusal.reason)
    assert channel is not None  # no refusal: a channel receives
    return channel


def _classify(
    parsed: ParsedMessage, envelope: Envelope, channel: Channel, run: _Run
) -> Classification:
    context = ClassificationContext(
        channel_address=channel.forwarding_address,
        channel_id=channel.id,
        own_message_id_domains=run.config.own_message_id_domains,
        loop_header_value=channel.id,
    )
    return classify(parsed, envelope.mail_from, context)


@attrs.frozen(kw_only=True)
class _Checked:
    """What the checks found: their result, who wrote the message on that evidence, the
    classification with a confirmation verified, and the reasons that say who vouched."""

    authentication: AuthenticationResult
    sender: SenderResolution
    classification: Classification
    notes: tuple[Reason, ...]


def _authenticate(
    raw: bytes,
    parsed: ParsedMessage,
    envelope: Envelope,
    channel: Channel,
    classification: Classification,
    run: _Run,
) -> _Checked:
    """SPF, DKIM, ARC, DMARC and spam; then who wrote it, on the evidence they found."""
    ports, config = run.ports, run.config
    dns = ports.dns
    # budget() is looked up rather than tested with isinstance(dns, BudgetedDnsResolver): a
    # runtime Protocol check walks every member of the Protocol, on every message.
    budget = getattr(dns, "budget", None)
    if budget is not None and config.dns_budget is not None:
        dns = budget(config.dns_budget)
    auth = authenticate(
        raw,
        parsed,
        envelope,
        dns=dns,
        settings=channel.intake,
        config=config.authentication,
        now=ports.clock.now(),
        spam=ports.spam,
    )
    trust = SenderTrust(
        evidence=auth.evidence,
        mailboxes=[a.key for a in channel.mailbox_addresses],
        forwarding_path=run.forwarding_path or _forwarding_path(auth, envelope, channel),
    )
    keys = frozenset(k.lower() for k in run.team_addresses)
    sender = resolve_sender(
        parsed,
        team_addresses=keys | _team_addresses(channel, ports.directory),
        channel_address=channel.forwarding_address,
        trust=trust,
    )
    notes = sender.reasons
    if classification.forwarding_confirmation is not None:
        confirmation, checked = verify_confirmation(
            classification.forwarding_confirmation, parsed, auth.evidence
        )
        classification = attrs.evolve(classification, forwarding_confirmation=confirmation)
        notes = (*notes, checked)
    return _Checked(authentication=auth, sender=sender, classification=classification, notes=notes)


def _verdict(state: _State, checked: _Checked, run: _Run) -> IntakeResult:
    """The checks' disposition (released by the team, when it was), then a usable sender."""
    auth, sender, classification = checked.authentication, checked.sender, checked.classification
    released: tuple[Reason, ...] = ()
    if run.release:
        # Recorded whatever the checks say this time: the team took the decision.
        released = (
            Reason(code="released", message="The team released this message from quarantine."),
        )
        if auth.verdict is not AuthVerdict.DELIVER:
            released = (*released, *auth.reasons)
            auth = attrs.evolve(auth, verdict=AuthVerdict.DELIVER, reasons=())
    if auth.verdict is AuthVerdict.REJECT:
        return state.verdict(Disposition.REJECTED, auth.smtp or _REFUSED, *auth.reasons)
    if auth.verdict is AuthVerdict.TEMPORARY:
        # Never reject on a temporary error: defer inside a live session, else keep for a recheck.
        if run.live_smtp:
            return state.verdict(Disposition.DEFERRED, auth.smtp or _TRY_LATER, *auth.reasons)
        return state.verdict(Disposition.QUARANTINED, _KEPT, *auth.reasons)
    if auth.verdict is AuthVerdict.QUARANTINE:
        return state.verdict(Disposition.QUARANTINED, _KEPT, *auth.reasons)
    if sender.sender is None:
        unusable = _no_sender(state.parsed, classification)
        if unusable is not None:
            return state.verdict(Disposition.QUARANTINED, _KEPT, unusable)
    kind = Reason(code=f"kind.{classification.kind.value}", message=classification.explanation)
    return attrs.evolve(state, authentication=auth).verdict(
        Disposition.ACCEPTED, _ACCEPTED, kind, *released, *auth.reasons, *checked.notes
    )


def _no_sender(parsed: ParsedMessage | None, classification: Classification) -> Reason | None:
    """Why a message without a usable sender is held (data that is no mail at all, or mail that
    names nobody), or None (automatic mail: a notice of the mail system)."""
    if parsed is None or not any(True for _ in parsed.header_names()):
        return Reason(
            code="not_mail",
            message="The data has no header fields at all: it is not an email (an empty "
            "file, a document or an image?). It is kept; a person can discard it.",
        )
    if classification.kind is MessageKind.MESSAGE:
        return Reason(
            code="no_sender",
            message="The message names no usable sender address, so it belongs to no contact.",
        )
    return None


def _forwarding_path(
    auth: AuthenticationResult, envelope: Envelope, channel: Channel
) -> str | None:
    """The channel's forwarding path, when the envelope proves it: the SPF-authenticated MAIL FROM
    is one of the channel's mailboxes (Gmail forwards as ``mailbox+caf_=...@domain``)."""
    spf = auth.spf_detail
    if spf is None or spf.result != "pass" or spf.identity != "mailfrom":
        return None
    try:
        mail_from = EmailAddress.parse(envelope.mail_from or "")
    except InvalidEmailAddress:
        return None
    if mail_from.domain != spf.domain.lower():
        return None
    mailboxes = {a.untagged.key for a in channel.mailbox_addresses}
    if mail_from.untagged.key not in mailboxes:
        return None
    return (
        f"the channel's forwarding path (the envelope sender {mail_from.address} is the "
        f"channel's mailbox {mail_from.untagged.address}, SPF pass)"
    )


def find_duplicate(
    messages: MessageRepository, channel_id: ChannelId, parsed: ParsedMessage, fingerprint: str
) -> tuple[Message | None, str]:
    """The message the channel already holds that this one repeats, and the dedup key to store
    this one under if it is new.

    The same message delivered twice has the same Message-ID (or, without one, the same content
    fingerprint). A *different* message that reuses a Message-ID (a broken mailer, a template, an
    anonymiser) must not be dropped as a duplicate: a Message-ID match counts only when the
    content fingerprint or the Date is the same too (a list's footer changes the body, never the
    Date); otherwise the message is kept under ``mid:<id>|fp:<fingerprint>``.
    """
    if not parsed.message_id:
        key = default_dedup_key(None, fingerprint)
        return messages.by_dedup_key(channel_id, key), key
    key = default_dedup_key(parsed.message_id, fingerprint)
    found = messages.by_dedup_key(channel_id, key)
    if found is None:
        return None, key
    same_date = found.sent_at is not None and found.sent_at == parsed.date
    if found.fingerprint == fingerprint or same_date:
        return found, key
    collision_key = f"{key}|fp:{fingerprint}"
    return messages.by_dedup_key(channel_id, collision_key), collision_key


def _find_duplicate(
    storage: Storage, channel: Channel, parsed: ParsedMessage, fingerprint: str
) -> tuple[MessageId | None, str]:
    with storage.unit_of_work() as uow:
        found, key = find_duplicate(uow.messages, channel.id, parsed, fingerprint)
    return (found.id if found else None), key


def _result(
    disposition: Disposition,
    code: str,
    message: str,
    smtp: SmtpReply,
    envelope: Envelope,
    size: int,
) -> IntakeResult:
    return _State(envelope=envelope, size=size).verdict(
        disposition, smtp, Reason(code=code, message=message)
    )
