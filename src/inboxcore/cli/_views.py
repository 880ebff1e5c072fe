"""``inboxcore conversations``, ``tickets`` and ``show``: what the inbox holds.

Each command reads the inbox through the storage port (one unit of work, no writes) and prints a
table for people or, with ``--json``, one JSON object per line for scripts. The JSON keys are
stable (``docs/cli.md`` lists them): new keys may be added, none is renamed or removed. Times are
ISO 8601 in UTC. Lists show the most recent activity first.

``show`` takes a conversation id or a ticket id, or any unambiguous start of one (ids are short
and random, so a few characters usually do).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO, TypeVar

import attrs

from inboxcore.cli._inbox import DEFAULT_DB, Inbox, open_inbox
from inboxcore.cli._options import count, write_bytes
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InboxcoreError, NotFoundError
from inboxcore.domain.ids import ChannelId, ConversationId, MessageId, TicketId, UserId
from inboxcore.domain.model import (
    Contact,
    Conversation,
    ConversationKind,
    ConversationQuery,
    ConversationStatus,
    Message,
    Page,
    PageCursor,
    Ticket,
    TicketQuery,
    TicketStatus,
)
from inboxcore.ports import UnitOfWork

__all__ = [
    "add_conversations_arguments",
    "add_show_arguments",
    "add_tickets_arguments",
    "conversation_rows",
    "find_conversation",
    "message_source",
    "run_conversations",
    "run_show",
    "run_tickets",
    "show_conversation",
    "ticket_rows",
    "write_conversations",
    "write_detail",
    "write_tickets",
]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _address(value: EmailAddress | None) -> dict[str, str | None] | None:
    if value is None:
        return None
    return {"email": value.address, "name": value.display_name}


def _agent(inbox: Inbox, user_id: UserId | None) -> dict[str, Any]:
    user = inbox.directory.user(user_id) if user_id is not None else None
    return {
        "id": user_id,
        "email": user.email.address if user else None,
        "name": user.full_name if user else None,
    }


def _conversation(
    inbox: Inbox,
    conversation: Conversation,
    contact: Contact | None,
    messages: Sequence[Message],
    ticket: Ticket | None,
) -> dict[str, Any]:
    assignee = _agent(inbox, conversation.assignee_id)
    return {
        "id": conversation.id,
        "channel_id": conversation.channel_id,
        "kind": conversation.kind.value,
        "status": conversation.status.value,
        "subject": conversation.subject,
        "contact_id": conversation.contact_id,
        "contact_email": contact.email.address if contact else None,
        "contact_name": contact.name if contact else None,
        "message_count": len(messages),
        "assignee_id": assignee["id"],
        "assignee_email": assignee["email"],
        "assignee_name": assignee["name"],
        "ticket_id": ticket.id if ticket else None,
        "ticket_status": ticket.status.value if ticket else None,
        "created_at": _time(conversation.created_at),
        "last_message_at": _time(conversation.last_message_at),
        "closed_at": _time(conversation.closed_at),
        "linked_conversation_id": conversation.linked_conversation_id,
    }


def _ticket(inbox: Inbox, ticket: Ticket, contact: Contact | None) -> dict[str, Any]:
    owner = _agent(inbox, ticket.owner_id)
    return {
        "id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "channel_id": ticket.channel_id,
        "name": ticket.name,
        "status": ticket.status.value,
        "pipeline": ticket.pipeline,
        "stage": ticket.stage,
        "priority": ticket.priority,
        "category": ticket.category,
        "owner_id": owner["id"],
        "owner_email": owner["email"],
        "owner_name": owner["name"],
        "contact_email": contact.email.address if contact else None,
        "properties": dict(ticket.properties),
        "created_at": _time(ticket.created_at),
        "updated_at": _time(ticket.updated_at),
    }


def _message(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction.value,
        "kind": message.kind.value,
        "received_at": _time(message.received_at),
        "sent_at": _time(message.sent_at),
        "sender": _address(message.sender),
        "forwarder": _address(message.forwarder),
        "to": [_address(a) for a in message.to],
        "cc": [_address(a) for a in message.cc],
        "subject": message.subject,
        "rfc_message_id": message.rfc_message_id,
        "in_reply_to": message.in_reply_to,
        "raw_id": message.raw_id,
        "author_id": message.author_id,
        "delivery_status": message.delivery_status.value,
        "authentication_results": message.authentication_results,
    }


def _contact(uow: UnitOfWork, conversation: Conversation) -> Contact | None:
    try:
        return uow.contacts.get(conversation.contact_id)
    except NotFoundError:
        return None


_PAGE = 200
_Listed = TypeVar("_Listed", Conversation, Ticket)


def _paged(fetch: Callable[[PageCursor | None], Page[_Listed]]) -> Iterator[_Listed]:
    """Every record of a listing, a page at a time (memory stays one page)."""
    cursor: PageCursor | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next is None:
            return
        cursor = page.next


def _conversations(uow: UnitOfWork, query: ConversationQuery) -> Iterator[Conversation]:
    return _paged(lambda after: uow.conversations.page(attrs.evolve(query, after=after)))


def _tickets(uow: UnitOfWork, query: TicketQuery) -> Iterator[Ticket]:
    return _paged(lambda after: uow.tickets.page(attrs.evolve(query, after=after)))


def _newest_first(
    streams: list[Iterator[_Listed]], at: Callable[[_Listed], datetime]
) -> Iterator[_Listed]:
    """The channels' listings merged into one, newest first (each stream already is)."""
    return heapq.merge(*streams, key=lambda r: (at(r), r.id), reverse=True)


def conversation_rows(
    inbox: Inbox,
    *,
    status: ConversationStatus | None = None,
    kind: ConversationKind | None = None,
    assignee: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The conversations as JSON-ready objects, most recent activity first.

    ``assignee`` is an agent's email address, or ``"none"`` for unassigned conversations.
    """
    wanted: UserId | None = None
    if assignee is not None and assignee != "none":
        user = inbox.directory.user_by_email(inbox.account_id, EmailAddress.parse(assignee).key)
        if user is None:
            raise NotFoundError(f"{assignee} is not one of the agents")
        wanted = user.id
    rows = []
    with inbox.storage.unit_of_work() as uow:
        query = ConversationQuery(
            channel_id=ChannelId(""),
            status=status,
            kind=kind,
            assignee=wanted,
            unassigned=assignee == "none",
            limit=_PAGE,
        )
        streams = [
            _conversations(uow, attrs.evolve(query, channel_id=c.id))
            for c in uow.channels.for_account(inbox.account_id)
        ]
        for conversation in _newest_first(streams, lambda c: c.last_message_at):
            rows.append(
                _conversation(
                    inbox,
                    conversation,
                    _contact(uow, conversation),
                    uow.messages.for_conversation(conversation.id),
                    uow.tickets.for_conversation(conversation.id),
                )
            )
            if limit is not None and len(rows) >= limit:
                break
    return rows


def ticket_rows(
    inbox: Inbox, *, status: TicketStatus | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The tickets as JSON-ready objects, most recently updated first."""
    rows = []
    with inbox.storage.unit_of_work() as uow:
        streams = [
            _tickets(uow, TicketQuery(channel_id=c.id, status=status, limit=_PAGE))
            for c in uow.channels.for_account(inbox.account_id)
        ]
        for ticket in _newest_first(streams, lambda k: k.updated_at):
            try:
                contact = _contact(uow, uow.conversations.get(ticket.conversation_id))
            except NotFoundError:
                contact = None
            rows.append(_ticket(inbox, ticket, contact))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def find_conversation(inbox: Inbox, wanted: str) -> Conversation:
    """The conversation with this id, or whose ticket has it; or a unique start of either.

    Raises :class:`~inboxcore.domain.errors.NotFoundError` when none or several match.
    """
    wanted = wanted.strip()
    with inbox.storage.unit_of_work() as uow:
        with contextlib.suppress(NotFoundError):
            return uow.conversations.get(ConversationId(wanted))
        with contextlib.suppress(NotFoundError):
            return uow.conversations.get(uow.tickets.get(TicketId(wanted)).conversation_id)
        matches: dict[str, Conversation] = {}
        for channel in uow.channels.for_account(inbox.account_id) if wanted else ():
            query = ConversationQuery(channel_id=channel.id, limit=_PAGE)
            for conversation in _conversations(uow, query):
                ticket = uow.tickets.for_conversation(conversation.id)
                if conversation.id.startswith(wanted) or (
                    ticket is not None and ticket.id.startswith(wanted)
                ):
                    matches[conversation.id] = conversation
    if len(matches) == 1:
        return next(iter(matches.values()))
    if matches:
        raise NotFoundError(f"{wanted!r} is ambiguous: {', '.join(sorted(matches))}")
    raise NotFoundError(f"no conversation or ticket {wanted!r}")


def show_conversation(inbox: Inbox, wanted: str) -> dict[str, Any]:
    """One conversation with its ticket and messages (oldest first), as a JSON-ready object."""
    conversation = find_conversation(inbox, wanted)
    with inbox.storage.unit_of_work() as uow:
        contact = _contact(uow, conversation)
        messages = uow.messages.for_conversation(conversation.id)
        ticket = uow.tickets.for_conversation(conversation.id)
    data = _conversation(inbox, conversation, contact, messages, ticket)
    data["participants"] = sorted(conversation.participants)
    data["ticket"] = _ticket(inbox, ticket, contact) if ticket else None
    data["messages"] = [_message(m) for m in messages]
    return data


# --- printing --------------------------------------------------------------------------------


def message_source(inbox: Inbox, conversation: dict[str, Any], wanted: str) -> bytes:
    """The raw message ``wanted`` (a message id of ``conversation``, or a unique start of one) as
    a person should see it: :meth:`~inboxcore.app.service.InboxService.message_source`."""
    found = [m for m in conversation["messages"] if m["id"].startswith(wanted)]
    if len(found) != 1 or not found[0]["raw_id"]:
        what = "no" if not found else ("several" if len(found) > 1 else "no stored")
        raise NotFoundError(f"{what} message of {conversation['id']} matches {wanted!r}")
    return inbox.service.message_source(MessageId(found[0]["id"]))


def _cut(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


def _who(email: str | None, name: str | None) -> str:
    if email is None:
        return "-"
    return f"{name} <{email}>" if name else email


def write_conversations(out: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        out.write("No conversations.\n")
        return
    _table(
        out,
        ["ID", "STATUS", "KIND", "CONTACT", "SUBJECT", "MSGS", "ASSIGNEE", "TICKET", "LAST"],
        [
            [
                r["id"],
                r["status"],
                r["kind"].replace("forwarding_confirmation", "confirmation"),
                _cut(r["contact_email"], 36),
                _cut(r["subject"] or "(no subject)", 40),
                str(r["message_count"]),
                _cut(r["assignee_name"] or r["assignee_email"] or "-", 20),
                r["ticket_id"] or "-",
                _short_time(datetime.fromisoformat(r["last_message_at"])),
            ]
            for r in rows
        ],
    )


def write_tickets(out: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        out.write("No tickets.\n")
        return
    _table(
        out,
        ["ID", "STATUS", "PIPELINE/STAGE", "PRIORITY", "OWNER", "CONTACT", "NAME", "CONVERSATION"],
        [
            [
                r["id"],
                r["status"],
                f"{r['pipeline']}/{r['stage']}",
                r["priority"] or "-",
                _cut(r["owner_name"] or r["owner_email"] or "-", 20),
                _cut(r["contact_email"], 36),
                _cut(r["name"], 40),
                r["conversation_id"],
            ]
            for r in rows
        ],
    )


def write_detail(out: TextIO, data: dict[str, Any]) -> None:
    out.write(f"Conversation {data['id']}: {data['subject'] or '(no subject)'}\n")
    out.write(f"  contact:   {_who(data['contact_email'], data['contact_name'])}\n")
    out.write(f"  status:    {data['status']} ({data['kind']})\n")
    out.write(f"  assignee:  {_who(data['assignee_email'], data['assignee_name'])}\n")
    ticket = data["ticket"]
    if ticket:
        out.write(
            f"  ticket:    {ticket['id']} {ticket['status']} "
            f"({ticket['pipeline']}/{ticket['stage']}"
            f"{', priority ' + ticket['priority'] if ticket['priority'] else ''})\n"
        )
    else:
        out.write("  ticket:    -\n")
    if data["linked_conversation_id"]:
        out.write(f"  linked to: {data['linked_conversation_id']}\n")
    out.write(f"  opened:    {_short_time(datetime.fromisoformat(data['created_at']))}\n")
    out.write(f"\n{data['message_count']} messages\n")
    for m in data["messages"]:
        sender = m["sender"] or {}
        line = (
            f"  {_short_time(datetime.fromisoformat(m['received_at']))}  {m['direction']:<8} "
            f"{m['kind']:<10} {_who(sender.get('email'), sender.get('name'))}"
        )
        if m["forwarder"]:
            line += f" (forwarded by {m['forwarder']['email']})"
        out.write(line + "\n")
        out.write(f"      {m['id']}  {_cut(m['subject'], 60) or '(no subject)'}\n")
        if m["authentication_results"]:
            out.write(f"      {m['authentication_results']}\n")


# --- the commands ----------------------------------------------------------------------------


def add_conversations_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=[s.value for s in ConversationStatus])
    parser.add_argument(
        "--kind", choices=[k.value for k in ConversationKind], help="customer, notice, ..."
    )
    parser.add_argument(
        "--assignee", metavar="EMAIL", help="an agent's conversations ('none': unassigned)"
    )
    parser.add_argument("--limit", type=count, metavar="N", help="at most N conversations")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def add_tickets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=[s.value for s in TicketStatus])
    parser.add_argument("--limit", type=count, metavar="N", help="at most N tickets")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="a conversation or ticket id (or its start)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument(
        "--source",
        metavar="MESSAGE_ID",
        help="print that message of the conversation as received, with our "
        "Authentication-Results on top and forged ones renamed",
    )


def _json_lines(out: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def run_conversations(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            rows = conversation_rows(
                inbox,
                status=ConversationStatus(args.status) if args.status else None,
                kind=ConversationKind(args.kind) if args.kind else None,
                assignee=args.assignee,
                limit=args.limit,
            )
    except InboxcoreError as exc:
        err.write(f"inboxcore conversations: {exc}\n")
        return 1
    if args.json:
        _json_lines(out, rows)
    else:
        write_conversations(out, rows)
    return 0


def run_tickets(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            rows = ticket_rows(
                inbox,
                status=TicketStatus(args.status) if args.status else None,
                limit=args.limit,
            )
    except InboxcoreError as exc:
        err.write(f"inboxcore tickets: {exc}\n")
        return 1
    if args.json:
        _json_lines(out, rows)
    else:
        write_tickets(out, rows)
    return 0


def run_show(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            data = show_conversation(inbox, args.id)
            if args.source is not None:
                write_bytes(out, message_source(inbox, data, args.source))
                return 0
    except InboxcoreError as exc:
        err.write(f"inboxcore show: {exc}\n")
        return 1
    if args.json:
        _json_lines(out, [data])
    else:
        write_detail(out, data)
    return 0
