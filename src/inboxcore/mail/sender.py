"""Who originally wrote a message: the contact it belongs to, not the mailbox that forwarded it.

A team's mail reaches the channel in several ways, and each hides the original sender in its own
place. :func:`resolve_sender` looks in that place and reports where it looked
(:class:`SenderSource`), in this order:

1. **Google Groups** rewrites the From of posters whose domain publishes DMARC to
   ``'Name' via Group <group@...>`` and keeps the poster in ``X-Original-From`` /
   ``X-Original-Sender``. Those headers are read only when the From *is the list*: its address
   is the list's own (List-Post, List-Id, or the Sender of a message carrying list headers).
2. **Mailing lists** (Mailman and friends) that munge the From for DMARC: the From is
   ``Name via List <list@...>`` and the poster is either wrapped whole as ``message/rfc822``
   (``list_wrapped``) or named in Reply-To or, when replies go to the list, in Cc
   (``list_munged``; the address whose name matches the "via" name wins).
3. A **manual forward by the team** (the From is an agent or the mailbox that forwards to the
   channel): the block in the body (:mod:`inboxcore.mail.forwards`), descending through forwards of
   forwards by the team; a block written by the team itself names the customer it was sent to.
   Without a block, a forward as attachment (``message/rfc822``) names the original.
4. Otherwise the **header From**, which is also what automatic forwarding (Gmail, Microsoft 365
   rules, which keep the original From) delivers. A customer who forwards something to the team
   stays the sender: a name found in the body never replaces an outside sender.
5. No usable From: the **Sender** header (the mailbox that transmitted it, RFC 5322 3.6.2), then
   the first **Reply-To** (where an answer would go, so the contact to answer), else none.

**Trust rules.** A claim inside the message (a list's header, a quoted block) replaces the From
only when what makes the claim is proven, by the :class:`SenderTrust` intake builds from the
authentication result and the channel's configuration; each decision names its proof in the
resolution's ``reasons``:

- A list's word for the poster (rules 1 and 2) is taken only from a trusted list: an aligned,
  passing DKIM signature of the list's domain or a trusted ARC seal that saw it pass
  (``sender.list_trusted``); for one of the channel's own mailboxes (the team's Google Group),
  any proof of the team's own (below) will do. Otherwise the list is the sender
  (``sender.list_not_trusted``).
- Mail counts as the team's (rule 3, and :attr:`SenderResolution.team_member`, which makes an
  agent's reply by mail the agent's) only when the team address is proven: aligned SPF, DKIM or
  a trusted ARC seal for its domain, or the channel's configured forwarding path
  (``sender.team_authenticated``). Otherwise the From stays the sender and is not the team's
  (``sender.team_unauthenticated``).

Layer 3 (the mail toolkit): pure, never raises on any message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress
from inboxcore.domain.outcomes import Reason
from inboxcore.mail.evidence import Evidence, EvidenceMethod, proof_for
from inboxcore.mail.forwards import ForwardedMessage, parse_forwarded
from inboxcore.mail.parsing import ParsedMessage

__all__ = [
    "SenderResolution",
    "SenderSource",
    "SenderTrust",
    "resolve_sender",
]

_MAX_FORWARD_DEPTH = 5
_VIA = re.compile(r"^(?P<name>.*?)\s+via\s+(?P<list>\S.*)$", re.IGNORECASE)
_MAILTO = re.compile(r"<\s*mailto:([^>?\s]+)", re.IGNORECASE)
# A list's own signature, or a trusted forwarder's seal over it. SPF is left out: relayed by the
# team's own mailbox, any message passes SPF for the mailbox's domain, whoever wrote it.
_SIGNED = frozenset({EvidenceMethod.DKIM, EvidenceMethod.ARC})


class SenderSource(enum.Enum):
    """Where the original sender was found."""

    HEADER_FROM = "header_from"
    GOOGLE_GROUPS = "google_groups"
    LIST_MUNGED = "list_munged"
    LIST_WRAPPED = "list_wrapped"
    MANUAL_FORWARD_BODY = "manual_forward_body"
    FORWARD_ATTACHMENT = "forward_attachment"
    SENDER_HEADER = "sender_header"
    REPLY_TO_HEADER = "reply_to_header"
    NONE = "none"


def _key_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_key(v) for v in values)


@attrs.frozen(kw_only=True)
class SenderTrust:
    """What may vouch for who a message is from: proof from authentication and the channel's
    configuration, never a header. The default vouches for nobody, as offline."""

    evidence: tuple[Evidence, ...] = ()
    """The domains the message provably comes from
    (:attr:`~inboxcore.auth.authentication.AuthenticationResult.evidence`)."""
    mailboxes: frozenset[str] = attrs.field(default=frozenset(), converter=_key_set)
    """Address keys of the channel's own mailboxes and lists (the mailbox that forwards to the
    channel, the team's Google Group): lists whose word is taken on any proof of the team's own."""
    forwarding_path: str | None = None
    """How the message is known to have come through the channel's configured forwarding path
    (the SPF-authenticated envelope sender is a channel mailbox; an operator vouches for a mailbox
    export), or None. It stands in for proof of a team address, and only of one."""

    def team_proof(self, address: EmailAddress) -> str | None:
        """What proves that mail from ``address`` of the team is the team's, or None."""
        proof = proof_for(self.evidence, address.domain)
        return proof.describe() if proof is not None else self.forwarding_path

    def list_proof(self, address: EmailAddress) -> str | None:
        """What proves that the list at ``address`` sent the message, or None: its signature or
        a trusted seal; for one of the channel's own lists, any proof of the team's own."""
        if _keys(address) & self.mailboxes:
            return self.team_proof(address)
        proof = proof_for(self.evidence, address.domain, _SIGNED)
        return proof.describe() if proof is not None else None


@attrs.frozen(kw_only=True)
class SenderResolution:
    """The original sender of a message and how it was found.

    ``forwarder`` is the mailbox that passed the message on (the agent or forwarding mailbox of a
    manual forward, the list of a rewritten list post), None when the sender wrote to the channel
    directly. ``forwarded`` is the parsed forwarded block when the body held one, whether or not
    it was used (it is never used for an outside sender).
    """

    sender: EmailAddress | None
    source: SenderSource
    forwarder: EmailAddress | None = None
    header_from: EmailAddress | None = None
    explanation: str
    forwarded: ForwardedMessage | None = None
    team_member: EmailAddress | None = None
    """The team address (an agent, a channel mailbox) in From that the message is proven to come
    from, None otherwise. Only then is it the team's: an agent's reply by mail is the agent's."""
    reasons: tuple[Reason, ...] = ()
    """The trust decisions taken (``sender.list_trusted``, ``sender.team_unauthenticated``...),
    each naming its proof or what was missing; empty when the From was simply the sender."""


def _key(text: str) -> str:
    try:
        return EmailAddress.parse(text).key
    except InvalidEmailAddress:
        return text.strip().lower()


def _keys(address: EmailAddress) -> set[str]:
    return {address.key, address.untagged.key}


def _via_name(address: EmailAddress) -> str | None:
    """The poster's name of a ``'Name' via List`` display name, or None for another form."""
    match = _VIA.match(address.display_name or "")
    if match is None:
        return None
    name = match.group("name").strip().strip("'\"").strip()
    return name or None


def _list_keys(parsed: ParsedMessage) -> set[str]:
    """The list's own address keys, from List-Post and List-Id."""
    keys: set[str] = set()
    for value in parsed.headers("List-Post"):
        for found in _MAILTO.findall(value):
            keys.add(_key(found))
    return keys


def _from_is_list(parsed: ParsedMessage, header_from: EmailAddress) -> bool:
    """Whether the From is the mailing list itself, as the list's own headers say."""
    if _keys(header_from) & _list_keys(parsed):
        return True
    list_id = (parsed.list_id or "").strip().lower()
    if list_id and f"{header_from.local.lower()}.{header_from.domain}" == list_id:
        return True
    has_list_headers = bool(
        list_id or parsed.headers("List-Post") or parsed.headers("Mailing-list")
    )
    sender = parsed.sender
    return has_list_headers and sender is not None and sender.key == header_from.key


def _named(address: EmailAddress, name: str | None) -> EmailAddress:
    if address.display_name or not name:
        return address
    return attrs.evolve(address, display_name=name)


def _google_groups(
    parsed: ParsedMessage, header_from: EmailAddress, is_list: bool
) -> SenderResolution | None:
    original_from = parsed.addresses("X-Original-From")
    original_sender = parsed.addresses("X-Original-Sender")
    if not (original_from or original_sender) or not is_list:
        return None
    via = _via_name(header_from)
    if original_sender:
        chosen = original_sender[0]
        named = next((a for a in original_from if a.key == chosen.key), None)
        chosen = _named(chosen, named.display_name if named else via)
    else:
        chosen = _named(original_from[0], via)
    return SenderResolution(
        sender=chosen,
        source=SenderSource.GOOGLE_GROUPS,
        forwarder=header_from,
        header_from=header_from,
        explanation=(
            f"Posted to the group {header_from.address}, which rewrote the From; the original "
            f"sender {chosen.address} comes from the group's X-Original-From/X-Original-Sender."
        ),
    )


def _list_wrapped(parsed: ParsedMessage, header_from: EmailAddress) -> SenderResolution | None:
    list_keys = _keys(header_from)
    for inner in parsed.attached_messages:
        authors = inner.from_
        if authors and not (_keys(authors[0]) & list_keys):
            return SenderResolution(
                sender=authors[0],
                source=SenderSource.LIST_WRAPPED,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"The list {header_from.address} wrapped the original message; its From "
                    f"{authors[0].address} is the sender."
                ),
            )
    return None


def _list_munged(
    parsed: ParsedMessage, header_from: EmailAddress, exclude: set[str]
) -> SenderResolution | None:
    via = _via_name(header_from)
    if via is None:
        return None
    for header, addresses in (("Reply-To", parsed.reply_to), ("Cc", parsed.cc)):
        candidates = [a for a in addresses if not (_keys(a) & exclude)]
        matching = [a for a in candidates if (a.display_name or "").casefold() == via.casefold()]
        chosen = matching[0] if matching else (candidates[0] if len(candidates) == 1 else None)
        if chosen is not None:
            chosen = _named(chosen, via)
            return SenderResolution(
                sender=chosen,
                source=SenderSource.LIST_MUNGED,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"The list {header_from.address} rewrote the From for DMARC ('{via} via "
                    f"...'); the original sender {chosen.address} is in {header}."
                ),
            )
    return None


def _descend(forwarded: ForwardedMessage, ours: set[str]) -> ForwardedMessage:
    """Follow forwards of forwards while the block's author is one of the team."""
    for _ in range(_MAX_FORWARD_DEPTH):
        author = forwarded.from_address
        if author is None or not (_keys(author) & ours):
            break
        inner = parse_forwarded(forwarded.body, forwarded.subject)
        if inner is None:
            break
        forwarded = inner
    return forwarded


def _first_outside(addresses: Iterable[EmailAddress], ours: set[str]) -> EmailAddress | None:
    return next((a for a in addresses if not (_keys(a) & ours)), None)


def _team_forward(
    parsed: ParsedMessage, header_from: EmailAddress, ours: set[str]
) -> SenderResolution:
    forwarded = parse_forwarded(parsed.text or "", parsed.header("Subject"))
    if forwarded is not None:
        forwarded = _descend(forwarded, ours)
        author = forwarded.from_address
        if author is not None and not (_keys(author) & ours):
            return SenderResolution(
                sender=author,
                source=SenderSource.MANUAL_FORWARD_BODY,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"{header_from.address} of the team forwarded a message from "
                    f"{author.address}; the sender is taken from the forwarded block."
                ),
                forwarded=forwarded,
            )
        if author is not None:
            recipient = _first_outside(forwarded.to + forwarded.cc, ours)
            if recipient is not None:
                return SenderResolution(
                    sender=recipient,
                    source=SenderSource.MANUAL_FORWARD_BODY,
                    forwarder=header_from,
                    header_from=header_from,
                    explanation=(
                        f"{header_from.address} of the team forwarded a message the team wrote "
                        f"to {recipient.address}; the conversation is with that recipient."
                    ),
                    forwarded=forwarded,
                )
    for inner in parsed.attached_messages:
        authors = inner.from_
        if authors and not (_keys(authors[0]) & ours):
            return SenderResolution(
                sender=authors[0],
                source=SenderSource.FORWARD_ATTACHMENT,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"{header_from.address} of the team forwarded a message as an attachment; "
                    f"its From {authors[0].address} is the sender."
                ),
                forwarded=forwarded,
            )
    why = (
        "its forwarded block names no address"
        if forwarded is not None
        else "no forwarded message was found in it"
    )
    return SenderResolution(
        sender=header_from,
        source=SenderSource.HEADER_FROM,
        header_from=header_from,
        explanation=f"{header_from.address} of the team sent this message, and {why}.",
        forwarded=forwarded,
    )


def _from_kept(header_from: EmailAddress, code: str, why: str) -> SenderResolution:
    """The From stays the sender because a claim in the message was not proven."""
    return SenderResolution(
        sender=header_from,
        source=SenderSource.HEADER_FROM,
        header_from=header_from,
        explanation=why,
        reasons=(Reason(code=code, message=why),),
    )


def _unproven_team(address: EmailAddress) -> str:
    return (
        f"no aligned SPF or DKIM pass or trusted ARC seal for {address.domain}, and not the "
        "channel's forwarding path"
    )


def _from_list(
    parsed: ParsedMessage,
    header_from: EmailAddress,
    channel_address: EmailAddress,
    trust: SenderTrust,
) -> SenderResolution | None:
    """A list's rewritten post: the poster it names when the list is trusted, else the list
    itself; None when the From is no list naming a poster."""
    is_list = _from_is_list(parsed, header_from)
    found = _google_groups(parsed, header_from, is_list)
    if found is None and is_list:
        # The poster may be an agent: only the list and the channel are never the sender.
        exclude = _keys(header_from) | _list_keys(parsed) | _keys(channel_address)
        found = _list_wrapped(parsed, header_from) or _list_munged(parsed, header_from, exclude)
    if found is None or found.sender is None:
        return None
    proof = trust.list_proof(header_from)
    if proof is not None:
        reason = Reason(
            code="sender.list_trusted",
            message=f"The list {header_from.address} is proven by {proof}, so its word for the "
            f"original sender {found.sender.address} is taken.",
        )
        return attrs.evolve(
            found,
            explanation=f"{found.explanation} The list is proven by {proof}.",
            reasons=(reason,),
        )
    if _keys(header_from) & trust.mailboxes:
        missing = _unproven_team(header_from)
        what = f"The channel's own list {header_from.address}"
    else:
        missing = f"no aligned DKIM signature or trusted ARC seal of {header_from.domain}"
        what = f"The list {header_from.address}"
    why = (
        f"{what} names {found.sender.address} as the original sender, but nothing proves the "
        f"list sent it ({missing}), so the list stays the sender."
    )
    return _from_kept(header_from, "sender.list_not_trusted", why)


def _from_team(
    parsed: ParsedMessage, header_from: EmailAddress, ours: set[str], trust: SenderTrust
) -> SenderResolution:
    """Mail whose From is the team's: unwrapped as a manual forward when the team address is
    proven, else the From stays the sender and does not count as the team's."""
    proof = trust.team_proof(header_from)
    if proof is None:
        why = (
            f"The From {header_from.address} names the team, but nothing proves the team sent it "
            f"({_unproven_team(header_from)}), so it stays the sender, nothing quoted or "
            "attached replaces it, and it does not count as the team's."
        )
        return _from_kept(header_from, "sender.team_unauthenticated", why)
    found = _team_forward(parsed, header_from, ours)
    reason = Reason(
        code="sender.team_authenticated",
        message=f"{header_from.address} of the team is proven by {proof}.",
    )
    return attrs.evolve(
        found,
        explanation=f"{found.explanation} {header_from.address} is proven by {proof}.",
        team_member=header_from,
        reasons=(reason,),
    )


def resolve_sender(
    parsed: ParsedMessage,
    *,
    team_addresses: Collection[str],
    channel_address: EmailAddress,
    trust: SenderTrust,
) -> SenderResolution:
    """The original sender of ``parsed`` (see the module documentation for the rules).

    ``team_addresses`` are the address keys of the team's agents and of the mailbox(es) that
    forward to the channel; ``channel_address`` is the channel's forwarding address, which also
    counts as the team's own. ``trust`` is what proves who sent it: ``SenderTrust()`` (offline)
    proves nobody, so neither lists nor the team are believed.
    """
    ours = {_key(a) for a in team_addresses} | set(trust.mailboxes) | _keys(channel_address)
    authors = parsed.from_
    header_from = authors[0] if authors else None

    if header_from is not None:
        found = _from_list(parsed, header_from, channel_address, trust)
        if found is not None:
            return found
        if _keys(header_from) & ours:
            return _from_team(parsed, header_from, ours, trust)
        # An outside sender is never replaced by a name found in the body, so the body is not
        # even read here: intake stays headers-only for the common case of a customer's mail.
        return SenderResolution(
            sender=header_from,
            source=SenderSource.HEADER_FROM,
            header_from=header_from,
            explanation=f"The sender is the From address {header_from.address}.",
        )

    if parsed.sender is not None:
        return SenderResolution(
            sender=parsed.sender,
            source=SenderSource.SENDER_HEADER,
            explanation=(
                f"The message has no usable From; the Sender {parsed.sender.address} is used."
            ),
        )
    if parsed.reply_to:
        return SenderResolution(
            sender=parsed.reply_to[0],
            source=SenderSource.REPLY_TO_HEADER,
            explanation=(
                "The message has neither a usable From nor a Sender; the Reply-To "
                f"{parsed.reply_to[0].address} is where an answer goes, so it is used."
            ),
        )
    return SenderResolution(
        sender=None,
        source=SenderSource.NONE,
        explanation="The message names no usable sender (no From, Sender or Reply-To address).",
    )
