"""The tables of inboxcore's records, as Django models.

Each record is stored whole in ``data``: the JSON text of
:data:`inboxcore.domain.serialization.converter`, text rather than ``JSONField`` because
PostgreSQL's ``jsonb`` refuses ``\\u0000``, which a hostile message may carry. Beside it are the
columns its uniqueness rules and lookups need, with the constraints and indexes of the SQL
adapter's schema (:mod:`inboxcore.adapters.sql.migrations`), under the same constraint names.
``seq`` keeps insertion order; ``record_id`` (column ``id``) is the record's own id.

Read and write them through :class:`~inboxcore.contrib.django.storage.DjangoStorage`, never
directly: the domain rules live there.
"""

from __future__ import annotations

from typing import Any

from django.db import models

__all__ = [
    "Account",
    "Channel",
    "Contact",
    "Conversation",
    "HeldMessage",
    "HeldMessageManager",
    "IntakeEntry",
    "Message",
    "RawReceipt",
    "RetiredAddress",
    "Rotation",
    "Ticket",
]

_ID = 255
_STATE = 32


def _record_id() -> Any:
    return models.CharField(max_length=_ID, db_column="id")


class Account(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_accounts"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_accounts_id"),
        )


class Channel(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    account_id = models.CharField(max_length=_ID)
    address_key = models.CharField(max_length=320)
    from_name_key = models.TextField()
    state = models.CharField(max_length=_STATE)
    created_at = models.DateTimeField()
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_channels"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_channels_id"),
            models.UniqueConstraint(
                fields=["address_key"], name="uq_inboxcore_channels_address_key"
            ),
            # One from-name per account among the channels that still send.
            models.UniqueConstraint(
                fields=["account_id", "from_name_key"],
                condition=~models.Q(state="disconnected") & ~models.Q(from_name_key=""),
                name="uq_inboxcore_channels_from_name",
            ),
        )
        indexes = (models.Index(fields=["account_id", "created_at"], name="ibx_channels_account"),)


class RetiredAddress(models.Model):
    address_key = models.CharField(max_length=320, primary_key=True)
    channel_id = models.CharField(max_length=_ID)
    retired_at = models.DateTimeField()

    class Meta:
        db_table = "inboxcore_retired_addresses"


class Contact(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    account_id = models.CharField(max_length=_ID)
    email_key = models.CharField(max_length=320)
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_contacts"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_contacts_id"),
            models.UniqueConstraint(
                fields=["account_id", "email_key"], name="uq_inboxcore_contacts_email"
            ),
        )


class Conversation(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    account_id = models.CharField(max_length=_ID)
    channel_id = models.CharField(max_length=_ID)
    contact_id = models.CharField(max_length=_ID)
    status = models.CharField(max_length=_STATE)
    assignee_id = models.CharField(max_length=_ID, null=True)
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    subject_key = models.TextField()
    kind = models.CharField(max_length=_STATE)
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_conversations"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_conversations_id"),
        )
        indexes = (
            models.Index(
                fields=["channel_id", "contact_id", "last_message_at"], name="ibx_conv_contact"
            ),
            models.Index(fields=["channel_id", "created_at"], name="ibx_conv_channel"),
            models.Index(
                fields=["channel_id", "contact_id", "subject_key", "last_message_at", "record_id"],
                name="ibx_conv_subject_recent",
            ),
            models.Index(
                fields=["channel_id", "last_message_at", "record_id"], name="ibx_conv_recent"
            ),
            models.Index(
                fields=["channel_id", "status", "last_message_at", "record_id"],
                name="ibx_conv_status_recent",
            ),
            models.Index(
                fields=["channel_id", "assignee_id", "last_message_at", "record_id"],
                name="ibx_conv_assignee_recent",
            ),
            # Behind the per-agent cap on open conversations.
            models.Index(
                fields=["assignee_id"], condition=models.Q(status="open"), name="ibx_conv_open"
            ),
        )


class Message(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    account_id = models.CharField(max_length=_ID)
    channel_id = models.CharField(max_length=_ID)
    conversation_id = models.CharField(max_length=_ID)
    # "mid:<Message-ID>" or "fp:<fingerprint>": the unique index is also the Message-ID index.
    dedup_key = models.TextField()
    received_at = models.DateTimeField()
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_messages"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_messages_id"),
            models.UniqueConstraint(
                fields=["channel_id", "dedup_key"], name="uq_inboxcore_messages_dedup"
            ),
        )
        indexes = (
            models.Index(
                fields=["conversation_id", "received_at", "record_id"], name="ibx_msg_conversation"
            ),
        )


class Ticket(models.Model):
    seq = models.BigAutoField(primary_key=True)
    record_id = _record_id()
    account_id = models.CharField(max_length=_ID)
    channel_id = models.CharField(max_length=_ID)
    conversation_id = models.CharField(max_length=_ID)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=_STATE)
    owner_id = models.CharField(max_length=_ID, null=True)
    updated_at = models.DateTimeField()
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_tickets"
        constraints = (
            models.UniqueConstraint(fields=["record_id"], name="uq_inboxcore_tickets_id"),
            models.UniqueConstraint(
                fields=["conversation_id"], name="uq_inboxcore_tickets_conversation"
            ),
        )
        indexes = (
            models.Index(fields=["channel_id", "created_at"], name="ibx_tickets_channel"),
            models.Index(
                fields=["channel_id", "updated_at", "record_id"], name="ibx_tickets_recent"
            ),
            models.Index(
                fields=["channel_id", "status", "updated_at", "record_id"],
                name="ibx_tickets_status_recent",
            ),
        )


class Rotation(models.Model):
    channel_id = models.CharField(max_length=_ID, primary_key=True)
    # NULL until the first assignment: the row exists early so that it can be locked.
    data = models.TextField(null=True)

    class Meta:
        db_table = "inboxcore_rotations"


class IntakeEntry(models.Model):
    seq = models.BigAutoField(primary_key=True)
    raw_id = models.CharField(max_length=64)
    # No foreign key: the log records mail for addresses that match no channel.
    channel_id = models.CharField(max_length=_ID, null=True)
    disposition = models.CharField(max_length=_STATE)
    at = models.DateTimeField()
    data = models.TextField()

    class Meta:
        db_table = "inboxcore_intake_log"
        indexes = (
            models.Index(fields=["raw_id", "seq"], name="ibx_intake_raw"),
            models.Index(fields=["disposition", "channel_id"], name="ibx_intake_disposition"),
        )


class RawReceipt(models.Model):
    """A raw message kept by :class:`~inboxcore.contrib.django.rawstore.DjangoRawStore`: its
    envelope when received (``envelope`` NULL for our own copies)."""

    raw_id = models.CharField(max_length=64, primary_key=True)
    received_at = models.DateTimeField()
    envelope = models.TextField(null=True)

    class Meta:
        db_table = "inboxcore_raw_receipts"
        indexes = (models.Index(fields=["received_at"], name="ibx_raw_received_at"),)


class HeldMessageManager(models.Manager["HeldMessage"]):
    """The quarantined log lines whose message is still held: not accepted, found duplicate or
    discarded since (the rule of ``IntakeLogRepository.quarantined``)."""

    def get_queryset(self) -> models.QuerySet[HeldMessage]:
        since = IntakeEntry.objects.filter(
            raw_id=models.OuterRef("raw_id"),
            seq__gt=models.OuterRef("seq"),
            disposition__in=("accepted", "duplicate", "discarded"),
        )
        return super().get_queryset().filter(~models.Exists(since), disposition="quarantined")


class HeldMessage(IntakeEntry):
    """Held mail, for the admin: a read-only view of the intake log (no table of its own)."""

    objects = HeldMessageManager()

    class Meta:
        proxy = True
        verbose_name = "held message"
