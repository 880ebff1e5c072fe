"""The Django admin of the inbox: channels, conversations with their messages, tickets, and held
mail with its reasons and the ``release`` / ``discard`` actions.

Every page is read-only: the records are the domain's, and editing a row would bypass its rules
(a conversation's status, a channel's setup steps, a ticket's pipeline move through the service,
which records events and keeps the indexes right). What a person may do goes through
:func:`~inboxcore.contrib.django.conf.get_inbox`: held mail is released or discarded by
:meth:`~inboxcore.app.service.InboxService.release` and
:meth:`~inboxcore.app.service.InboxService.discard`, on record like any other decision.
Columns are read from each row's record (the JSON document the storage keeps), so they show
exactly what the service sees.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from inboxcore.contrib.django import models as m
from inboxcore.contrib.django.conf import get_inbox
from inboxcore.domain.errors import InboxcoreError
from inboxcore.domain.ids import RawMessageId, UserId
from inboxcore.domain.model import Channel, Contact, Conversation, IntakeRecord, Message, Ticket
from inboxcore.domain.serialization import converter

__all__ = ["ChannelAdmin", "ConversationAdmin", "HeldMessageAdmin", "TicketAdmin"]

R = TypeVar("R")


def _record(kind: type[R], row: Any) -> R:
    """The domain record a row holds."""
    return converter.loads(str(row.data), kind)


class _ReadOnly(admin.ModelAdmin):
    """Look, never touch: no add, change or delete through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(m.Channel)
class ChannelAdmin(_ReadOnly):
    list_display = ("name", "forwarding_address", "state", "verification", "from_name")
    list_filter = ("state",)
    search_fields = ("record_id", "address_key")
    readonly_fields = ("name", "forwarding_address", "state", "verification", "from_name")
    fields = readonly_fields

    @admin.display(description="name")
    def name(self, row: m.Channel) -> str:
        return _record(Channel, row).name

    @admin.display(description="forwarding address")
    def forwarding_address(self, row: m.Channel) -> str:
        return str(_record(Channel, row).forwarding_address)

    @admin.display(description="verification")
    def verification(self, row: m.Channel) -> str:
        """Where the setup stands: the provider's confirmation seen, mail received since."""
        channel = _record(Channel, row)
        if channel.receiving_since is not None:
            return f"receiving since {channel.receiving_since:%Y-%m-%d %H:%M} UTC"
        if channel.confirmation_seen_at is not None:
            return f"confirmation seen {channel.confirmation_seen_at:%Y-%m-%d %H:%M} UTC"
        return "waiting for the provider's confirmation"

    @admin.display(description="from-name")
    def from_name(self, row: m.Channel) -> str:
        channel = _record(Channel, row)
        return f"{channel.from_name_mode.value}: {channel.company_name}"


class _MessagesOf:
    """The messages of one conversation, as an HTML table (the models have no relations for an
    inline: ids are plain columns, as in the SQL storage)."""

    columns = ("received", "direction", "kind", "from", "subject")

    def table(self, conversation_id: str) -> str:
        rows = m.Message.objects.filter(conversation_id=conversation_id).order_by("received_at")
        cells = (
            (
                f"{message.received_at:%Y-%m-%d %H:%M}",
                message.direction.value,
                message.kind.value,
                str(message.sender or ""),
                message.subject,
            )
            for message in (_record(Message, row) for row in rows)
        )
        head = format_html_join("", "<th>{}</th>", ((c,) for c in self.columns))
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", cells
        )
        table: str = format_html("<table><tr>{}</tr>{}</table>", head, body)  # SafeString
        return table


@admin.register(m.Conversation)
class ConversationAdmin(_ReadOnly):
    list_display = ("subject", "contact", "status", "assignee", "last_message_at")
    list_filter = ("status", "kind", "channel_id")
    search_fields = ("subject_key", "record_id")
    date_hierarchy = "last_message_at"
    ordering = ("-last_message_at",)
    readonly_fields = ("subject", "contact", "status", "assignee", "last_message_at", "messages")
    fields = readonly_fields

    @admin.display(description="subject")
    def subject(self, row: m.Conversation) -> str:
        return _record(Conversation, row).subject or "(no subject)"

    @admin.display(description="contact")
    def contact(self, row: m.Conversation) -> str:
        found = m.Contact.objects.filter(record_id=row.contact_id).first()
        if found is None:
            return str(row.contact_id)
        contact = _record(Contact, found)
        return f"{contact.name} <{contact.email}>" if contact.name else str(contact.email)

    @admin.display(description="assignee")
    def assignee(self, row: m.Conversation) -> str:
        """The agent's name as the inbox's directory knows it (the id when it knows none)."""
        if row.assignee_id is None:
            return "-"
        user = get_inbox().directory.user(UserId(str(row.assignee_id)))
        return str(row.assignee_id) if user is None else user.full_name

    @admin.display(description="messages")
    def messages(self, row: m.Conversation) -> str:
        return _MessagesOf().table(str(row.record_id))


@admin.register(m.Ticket)
class TicketAdmin(_ReadOnly):
    list_display = ("name", "status", "stage", "owner_id", "conversation_id", "updated_at")
    list_filter = ("status", "channel_id")
    ordering = ("-updated_at",)
    readonly_fields = ("name", "status", "stage", "owner_id", "conversation_id", "updated_at")
    fields = readonly_fields

    @admin.display(description="name")
    def name(self, row: m.Ticket) -> str:
        return _record(Ticket, row).name

    @admin.display(description="stage")
    def stage(self, row: m.Ticket) -> str:
        ticket = _record(Ticket, row)
        return f"{ticket.pipeline} / {ticket.stage}"


@admin.register(m.HeldMessage)
class HeldMessageAdmin(_ReadOnly):
    list_display = ("at", "sender", "recipient", "reasons", "raw_id")
    list_filter = ("channel_id",)
    search_fields = ("raw_id",)
    ordering = ("-at",)
    actions = ("release", "discard")
    readonly_fields = ("at", "sender", "recipient", "reasons", "raw_id")
    fields = readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The list's actions need it (Django offers actions only to those who may change); a
        # held message's own page (obj given) stays view-only, with no form to save.
        return obj is None and bool(request.user.has_perm("inboxcore.change_intakeentry"))

    @admin.display(description="from")
    def sender(self, row: m.HeldMessage) -> str:
        return _record(IntakeRecord, row).envelope.mail_from or "<>"

    @admin.display(description="to")
    def recipient(self, row: m.HeldMessage) -> str:
        return ", ".join(_record(IntakeRecord, row).envelope.rcpt_to)

    @admin.display(description="why it is held")
    def reasons(self, row: m.HeldMessage) -> str:
        return ", ".join(_record(IntakeRecord, row).reason_codes)

    @admin.action(description="Release: let the selected messages in (the team trusts them)")
    def release(self, request: HttpRequest, rows: QuerySet[m.HeldMessage]) -> None:
        self._each(request, rows, "released", lambda raw_id: get_inbox().release(raw_id))

    @admin.action(description="Discard the selected messages (on record)")
    def discard(self, request: HttpRequest, rows: QuerySet[m.HeldMessage]) -> None:
        note = f"discarded in the admin by {request.user}"
        self._each(
            request, rows, "discarded", lambda raw_id: get_inbox().discard(raw_id, note=note)
        )

    def _each(
        self, request: HttpRequest, rows: QuerySet[m.HeldMessage], done: str, act: Any
    ) -> None:
        """Run ``act`` on each selected message's raw id and say what came of it."""
        for raw_id in sorted({str(row.raw_id) for row in rows}):
            try:
                outcome = act(RawMessageId(raw_id))
            except InboxcoreError as exc:
                self.message_user(request, f"{raw_id[:12]}: {exc}", messages.ERROR)
                continue
            disposition = getattr(outcome, "disposition", None)
            state = getattr(disposition, "value", done)
            self.message_user(request, f"{raw_id[:12]}: {state}", messages.SUCCESS)
