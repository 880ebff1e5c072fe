"""The ids that link domain records.

Ids are opaque strings (``typing.NewType``), so that hosts can use their own keys (UUIDs, database
integers as text, prefixed ids); mypy keeps an ``AccountId`` from being passed where a
``ChannelId`` is wanted. New ids come from the :class:`~inboxcore.ports.IdSource` port, never from
``uuid4()`` inside the core, so that runs under the fakes are deterministic.

A :data:`RawMessageId` is different: it is the SHA-256 of the raw bytes, in lowercase hex.
"""

from __future__ import annotations

import hashlib
from typing import NewType

__all__ = [
    "AccountId",
    "ChannelId",
    "ContactId",
    "ConversationId",
    "MessageId",
    "RawMessageId",
    "TeamId",
    "TicketId",
    "UserId",
    "raw_message_id",
]

AccountId = NewType("AccountId", str)
UserId = NewType("UserId", str)
TeamId = NewType("TeamId", str)
ContactId = NewType("ContactId", str)
ChannelId = NewType("ChannelId", str)
ConversationId = NewType("ConversationId", str)
MessageId = NewType("MessageId", str)
"""Our id for a stored message; the RFC 5322 Message-ID is ``Message.rfc_message_id``."""
TicketId = NewType("TicketId", str)
RawMessageId = NewType("RawMessageId", str)


def raw_message_id(data: bytes) -> RawMessageId:
    """The content address of raw message bytes: SHA-256, lowercase hex."""
    return RawMessageId(hashlib.sha256(data).hexdigest())
