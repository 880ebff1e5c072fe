"""inboxcore: the domain core of a helpdesk's hosted email inbox channel.

Hosts hand it raw messages and implement its ports (:mod:`inboxcore.ports`); inboxcore decides
everything in between. The names below are what a host needs first: :func:`build_inbox` (the
composition root) and the :class:`InboxService` it returns with its :class:`InboxConfig` and the
:class:`Delivery` of each message, then the values and errors met everywhere. The policies live in
:mod:`inboxcore.channels`, :mod:`inboxcore.ingest`, :mod:`inboxcore.routing` and
:mod:`inboxcore.tickets`, and the fakes in :mod:`inboxcore.testing`.
"""

from inboxcore import _moved
from inboxcore.app.config import InboxConfig
from inboxcore.app.delivery import Delivery
from inboxcore.app.service import InboxService
from inboxcore.bootstrap import build_inbox
from inboxcore.domain.addresses import EmailAddress, parse_address_list
from inboxcore.domain.errors import (
    ConfigurationError,
    ConflictError,
    DnsTemporaryError,
    InboxcoreError,
    InvalidEmailAddress,
    InvalidTransition,
    NotFoundError,
    PortError,
    Problem,
)
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TeamId,
    TicketId,
    UserId,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    Envelope,
    Message,
    Team,
    Ticket,
    User,
)
from inboxcore.domain.outcomes import Disposition, Reason, SmtpReply

__all__ = [
    "Account",
    "AccountId",
    "Channel",
    "ChannelId",
    "ChannelState",
    "ConfigurationError",
    "ConflictError",
    "Contact",
    "ContactId",
    "Conversation",
    "ConversationId",
    "Delivery",
    "Disposition",
    "DnsTemporaryError",
    "EmailAddress",
    "Envelope",
    "InboxConfig",
    "InboxService",
    "InboxcoreError",
    "InvalidEmailAddress",
    "InvalidTransition",
    "Message",
    "MessageId",
    "NotFoundError",
    "PortError",
    "Problem",
    "RawMessageId",
    "Reason",
    "SmtpReply",
    "Team",
    "TeamId",
    "Ticket",
    "TicketId",
    "User",
    "UserId",
    "__version__",
    "build_inbox",
    "parse_address_list",
]

__version__ = "0.1.0"

_moved.install()
