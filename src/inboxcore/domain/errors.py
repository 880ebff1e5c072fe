"""The exception tree of inboxcore.

Exceptions are for programming errors and broken ports; a bad message from the outside world is an
outcome (a verdict with reasons), never an exception. Every exception derives from
:class:`InboxcoreError` and mixes in the builtin that fits, so that hosts can catch either::

    InboxcoreError
    ├── InvalidValueError (ValueError)
    │   ├── InvalidEmailAddress
    │   ├── ConfigurationError          carries .problems
    │   ├── InvalidTransition           carries .state and .step
    │   ├── ImmutableFieldError
    │   ├── HeaderInjectionError
    │   ├── MessageTooLarge             carries .size and .limit
    │   └── TokenError
    │       ├── BadTokenSignature
    │       ├── TokenExpired            carries .issued_at
    │       ├── TokenAlreadyUsed
    │       ├── TokenSuperseded
    │       └── RateLimited             carries .retry_after
    ├── ConflictError (ValueError)      a uniqueness rule a database would enforce
    │   ├── ForwardingAddressTaken
    │   ├── ForwardingAddressRetired
    │   ├── FromNameTaken
    │   ├── DuplicateMessage
    │   └── DuplicateRecord
    ├── NotFoundError (LookupError)
    └── PortError (RuntimeError)        a port could not do its job
        ├── DnsTemporaryError           SERVFAIL, timeout: may succeed later
        ├── StorageError
        │   └── CommitFailed
        └── TransportError
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

__all__ = [
    "BadTokenSignature",
    "CommitFailed",
    "ConfigurationError",
    "ConflictError",
    "DnsTemporaryError",
    "DuplicateMessage",
    "DuplicateRecord",
    "ForwardingAddressRetired",
    "ForwardingAddressTaken",
    "FromNameTaken",
    "HeaderInjectionError",
    "ImmutableFieldError",
    "InboxcoreError",
    "InvalidEmailAddress",
    "InvalidTransition",
    "InvalidValueError",
    "MessageTooLarge",
    "NotFoundError",
    "PortError",
    "Problem",
    "RateLimited",
    "StorageError",
    "TokenAlreadyUsed",
    "TokenError",
    "TokenExpired",
    "TokenSuperseded",
    "TransportError",
]


@attrs.frozen(kw_only=True)
class Problem:
    """One thing wrong with a configuration, as a settings form shows it.

    ``code`` is stable and machine-readable (``forwarding_address.reserved``); ``message`` is a
    sentence for a person; ``field`` names the setting it is about, where there is one.
    """

    code: str
    message: str
    field: str | None = None


class InboxcoreError(Exception):
    """Root of every exception inboxcore raises on purpose."""


class InvalidValueError(InboxcoreError, ValueError):
    """A value given to inboxcore breaks a rule of the domain."""


class InvalidEmailAddress(InvalidValueError):
    """A string is not an email address inboxcore can use."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"not a usable email address ({reason}): {text!r}")
        self.text = text
        self.reason = reason


class ConfigurationError(InvalidValueError):
    """A command cannot proceed; ``problems`` lists every reason at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        summary = "; ".join(f"{p.code}: {p.message}" for p in self.problems) or "invalid"
        super().__init__(summary)


class InvalidTransition(InvalidValueError):
    """A lifecycle step is not allowed from the current state."""

    def __init__(self, what: str, state: str, step: str) -> None:
        super().__init__(f"{what} in state {state!r} does not allow {step!r}")
        self.what = what
        self.state = state
        self.step = step


class ImmutableFieldError(InvalidValueError):
    """A field can no longer change (e.g. a connected channel's forwarding address)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} cannot change: {reason}")
        self.field = field
        self.reason = reason


class HeaderInjectionError(InvalidValueError):
    """A header value holds CR or LF, which would let it forge further headers."""

    def __init__(self, header: str, value: str) -> None:
        super().__init__(f"header {header} holds a line break: {value!r}")
        self.header = header
        self.value = value


class MessageTooLarge(InvalidValueError):
    """An outgoing message or its attachments exceed the size limit.

    ``what`` is ``"attachments"`` (their total) or ``"message"`` (the composed message)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        if what == "attachments":
            text = f"attachments of {size} bytes in total exceed the limit of {limit} bytes"
        else:
            text = f"the {what} of {size} bytes exceeds the limit of {limit} bytes"
        super().__init__(text)
        self.what = what
        self.size = size
        self.limit = limit


class TokenError(InvalidValueError):
    """A signed token was refused."""


class BadTokenSignature(TokenError):
    """The token was altered, malformed, or signed with a key we do not hold."""


class TokenExpired(TokenError):
    """The token is older than its maximum age."""

    def __init__(self, message: str, *, issued_at: datetime) -> None:
        super().__init__(message)
        self.issued_at = issued_at


class TokenAlreadyUsed(TokenError):
    """The token was valid but has been used already."""


class TokenSuperseded(TokenError):
    """The token is for an address or request that has since been replaced."""


class RateLimited(InvalidValueError):
    """The action was taken too often; try again after ``retry_after``."""

    def __init__(self, message: str, *, retry_after: datetime) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConflictError(InboxcoreError, ValueError):
    """A uniqueness rule, of the kind a database constraint enforces, would be broken."""


class ForwardingAddressTaken(ConflictError):
    """Another channel already receives at this forwarding address."""


class ForwardingAddressRetired(ConflictError):
    """The forwarding address belonged to a disconnected channel and may never be used again."""


class FromNameTaken(ConflictError):
    """Another hosted address of the account already uses this from-name."""


class DuplicateMessage(ConflictError):
    """The channel already holds a message with this Message-ID or fingerprint."""


class DuplicateRecord(ConflictError):
    """A record with this id or natural key already exists."""


class NotFoundError(InboxcoreError, LookupError):
    """A record that must exist does not."""


class PortError(InboxcoreError, RuntimeError):
    """A port could not do its job: the world, not the caller, is at fault."""


class DnsTemporaryError(PortError):
    """A DNS lookup failed for now (SERVFAIL, timeout); it is never the same as 'no record'."""

    def __init__(self, name: str, rdtype: str, reason: str) -> None:
        super().__init__(f"temporary DNS failure for {name} {rdtype}: {reason}")
        self.name = name
        self.rdtype = rdtype
        self.reason = reason


class StorageError(PortError):
    """The storage port failed."""


class CommitFailed(StorageError):
    """A unit of work could not commit; nothing of it was applied."""


class TransportError(PortError):
    """The mail transport port failed in a way it could not report as a result."""
