"""The host-wide settings of the inbox service."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from inboxcore.ingest import IntakeConfig
from inboxcore.policies.outbound import ThreadingConfig

__all__ = ["InboxConfig"]


def _keys(values: Sequence[bytes | str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values)


@attrs.frozen(kw_only=True)
class InboxConfig:
    """Host-wide settings of the service."""

    conversation_keys: tuple[bytes, ...] = attrs.field(converter=_keys, repr=False)
    """Secret keys for conversation tokens, oldest first (the newest signs): key rotation."""
    message_id_domain: str
    """The domain of the Message-IDs our outbound mail carries (``inbox.example.net``)."""
    intake: IntakeConfig = attrs.field(factory=IntakeConfig)
    max_attempts: int = 5
    """How often a unit of work that lost a race is tried before the message is deferred."""

    def intake_config(self) -> IntakeConfig:
        """The intake settings, with our own Message-ID domain known for loop detection."""
        domains = self.intake.own_message_id_domains | {self.message_id_domain.lower()}
        return attrs.evolve(self.intake, own_message_id_domains=domains)

    @property
    def threading(self) -> ThreadingConfig:
        """The conversation keys and Message-ID domain as one value, for the outbox's
        :class:`~inboxcore.policies.outbound.OutboundConfig`: one source for both sides."""
        return ThreadingConfig(
            conversation_keys=self.conversation_keys, message_id_domain=self.message_id_domain
        )
