"""Gathering what threading decides on: the conversations a message names, its subject's thread,
and the proof automatic mail carries.

:func:`~inboxcore.policies.threads.decide_thread` is a pure decision; this module reads what it
needs from storage, each lookup an indexed query whatever the size of the inbox: the Message-IDs
the message references, the conversation of a token in an address it was sent to, and the
contact's conversations with the same subject in the subject window.
"""

from __future__ import annotations

from datetime import datetime

from inboxcore.app.context import ServiceContext
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import NotFoundError
from inboxcore.domain.ids import ContactId, ConversationId
from inboxcore.domain.model import Channel, Contact, Conversation, Message, MessageKind
from inboxcore.ingest import IntakeAccepted
from inboxcore.policies.threads import (
    MatchedBy,
    ThreadContext,
    bounce_proofs,
    find_token_conversation_id,
    proof_holds,
    referenced_message_ids,
    subject_key,
)
from inboxcore.ports import UnitOfWork

__all__ = ["addressed_to", "automatic_proof", "thread_context"]

_DELIVERY_HEADERS = ("Delivered-To", "X-Original-To")
_MAX_ADDRESSED = 20
_SUBJECT_MATCHES = 20
"""The most conversations of one subject threading weighs (newest first)."""


def addressed_to(result: IntakeAccepted) -> list[EmailAddress]:
    """The addresses a message was sent to, tags kept (where our tokens and bounce tags are):
    the envelope recipients, the delivery headers, To and Cc, a few dozen at most. Unusable
    ones are skipped."""
    parsed = result.parsed
    delivered = (v for h in _DELIVERY_HEADERS for v in parsed.headers(h)[:_MAX_ADDRESSED])
    found: list[EmailAddress] = []
    for value in (*result.envelope.rcpt_to[:_MAX_ADDRESSED], *delivered):
        try:
            found.append(EmailAddress.parse(value))
        except ValueError:
            continue
    return [*found, *parsed.to, *parsed.cc][: 3 * _MAX_ADDRESSED]


def automatic_proof(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, result: IntakeAccepted, now: datetime
) -> tuple[Message, MatchedBy] | None:
    """The outbound message a bounce or auto-reply proves to answer (a valid bounce tag in an
    address it was sent to, or in the headers of our original it quotes), and how; None for
    other mail, and for claims (a Message-ID it names, a Reply-To token) that prove nothing."""
    if result.classification.kind not in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE):
        return None
    proofs = bounce_proofs(
        recipients=addressed_to(result), parsed=result.parsed, signer=ctx.bounce_signer
    )
    for proof in proofs:
        try:
            message = uow.messages.get(proof.message_id)
        except NotFoundError:
            continue
        if proof_holds(proof, message, channel_id=channel.id, now=now):
            return message, proof.matched_by
    return None


def _same_subject(
    uow: UnitOfWork, channel: Channel, contact: Contact | None, subject: str, now: datetime
) -> tuple[Conversation, ...]:
    key = subject_key(subject)
    if contact is None or not key:
        return ()
    since = now - channel.conversations.subject_match_window
    return uow.conversations.by_subject(channel.id, contact.id, key, since, _SUBJECT_MATCHES)


def _named(
    uow: UnitOfWork, found: dict[ConversationId, Conversation], ids: list[ConversationId]
) -> None:
    for cid in ids:
        if cid not in found:
            try:
                found[cid] = uow.conversations.get(cid)
            except NotFoundError:
                continue


def _contact_addresses(
    uow: UnitOfWork, contact: Contact | None, conversations: dict[ConversationId, Conversation]
) -> dict[ContactId, EmailAddress]:
    addresses = {contact.id: contact.email} if contact is not None else {}
    for conversation in conversations.values():
        if conversation.contact_id not in addresses:
            try:
                addresses[conversation.contact_id] = uow.contacts.get(conversation.contact_id).email
            except NotFoundError:
                continue
    return addresses


def thread_context(
    ctx: ServiceContext,
    uow: UnitOfWork,
    result: IntakeAccepted,
    *,
    contact: Contact | None,
    sender: EmailAddress,
    now: datetime,
    proof: tuple[Message, MatchedBy] | None,
    evidence: str | None,
) -> ThreadContext:
    """Everything :func:`~inboxcore.policies.threads.decide_thread` weighs, read from storage."""
    parsed, channel = result.parsed, result.channel
    ids = referenced_message_ids(parsed.in_reply_to, parsed.references)
    known = {
        m.rfc_message_id: m.conversation_id
        for m in uow.messages.by_rfc_message_ids(channel.id, ids)
        if m.rfc_message_id
    }
    token_id = find_token_conversation_id(
        recipients=addressed_to(result),
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        signer=ctx.signer,
        now=now,
    )
    same_subject = _same_subject(uow, channel, contact, parsed.subject, now)
    conversations = {c.id: c for c in same_subject}
    proven_id = proof[0].conversation_id if proof is not None else None
    _named(uow, conversations, [*known.values(), *(c for c in (token_id, proven_id) if c)])
    # Only the team's proven mail may write into any conversation: a From naming an agent or a
    # team mailbox, unproven, is an outsider like any other.
    insiders = {channel.forwarding_address.key}
    team_member = result.sender.team_member
    if team_member is not None and team_member.key == sender.key:
        insiders.add(sender.key)
    return ThreadContext(
        channel_id=channel.id,
        kind=result.classification.kind,
        sender=sender,
        contact_id=contact.id if contact is not None else None,
        subject=parsed.subject,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        known_message_ids=known,
        token_conversation_id=token_id,
        conversations=conversations,
        same_contact=same_subject,
        contact_addresses=_contact_addresses(uow, contact, conversations),
        insiders=frozenset(insiders),
        proven_conversation_id=proven_id,
        proven_by=proof[1] if proof is not None else MatchedBy.NONE,
        sender_evidence=evidence,
    )
