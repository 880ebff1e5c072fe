"""``settings.INBOXCORE``: the inbox of a Django site, read once and built by
:func:`~inboxcore.bootstrap.build_inbox`.

::

    INBOXCORE = {
        "CONVERSATION_KEYS": [env("INBOX_KEY")],   # required, oldest first; the newest signs
        "MESSAGE_ID_DOMAIN": "inbox.example.net",  # required
        "ACCOUNT_ID": "acme",          # the account the site's users are agents of
        "DATABASE": "default",         # the DATABASES alias of the records
        "RAW_STORAGE": None,           # a STORAGES name for raw messages; None: default_storage
        "DNS": "system",               # or "offline": no DNS, nothing authenticates
        "MAX_MESSAGE_SIZE": 30 * 1024 * 1024,
        "TRUSTED_FORWARDERS": [...],   # forwarders whose ARC seals are trusted
        "USERS": {"EMAIL_FIELD": None, "TEAMS": "groups"},  # see UserDirectory
        "DIRECTORY": None,             # or "myapp.inbox.Directory": a callable giving a Directory
        "OUTBOUND": None,              # replies and notifications: see below; None sends nothing
        "INBOUND": {},                 # providers that POST mail to the inbound view: see below
    }

``OUTBOUND`` turns sending on (an :class:`~inboxcore.app.outbox.Outbox` through Django's email
backend, :class:`~inboxcore.contrib.django.mail.DjangoMailTransport`)::

    "OUTBOUND": {
        "HOSTED_DOMAIN": "inbox.example.net",   # required: <local>@<subdomain>.<hosted domain>
        "CONVERSATION_URL": "https://help.example.net/c/{conversation_id}",  # owner notifications
        "NOTIFICATION_SENDER": None,            # default notifications@<MESSAGE_ID_DOMAIN>
        "EMAIL_BACKEND": None,                  # default settings.EMAIL_BACKEND
        "DKIM_KEYS": None,                      # "myapp.keys.store": gives a DkimKeyStore
    }

``INBOUND`` names the providers whose POSTs the inbound view
(:mod:`inboxcore.contrib.django.views`, at ``<prefix>/inbound/<provider>/``) takes, each with its
secret (Mailgun's webhook signing key, the shared secret of SendGrid, Postmark and raw POSTs, the
SNS topic ARN for SES) and, optionally, the forwarding address the provider's mail is for::

    "INBOUND": {"mailgun": {"SECRET": env("MAILGUN_SIGNING_KEY")}, "raw": {"SECRET": "..."}},

Every value is checked by :func:`inbox_settings`; a wrong one raises ``ImproperlyConfigured``
naming its key. :func:`get_inbox` builds the service once per process and builds it again after
a test changes one of the settings it reads (``override_settings``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal

import attrs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from inboxcore.app.config import InboxConfig
from inboxcore.app.service import InboxService
from inboxcore.auth.authentication import AuthenticationConfig
from inboxcore.channels import HostedDomainConfig
from inboxcore.domain.errors import ConfigurationError, InvalidValueError
from inboxcore.entrypoints.http_intake import HttpIntake, Provider
from inboxcore.ingest import IntakeConfig
from inboxcore.policies.outbound import OutboundConfig
from inboxcore.ports import Directory, DkimKeyStore

__all__ = [
    "InboundEndpoint",
    "InboxSettings",
    "build_django_inbox",
    "get_inbox",
    "get_intake",
    "inbox_settings",
    "reset_inbox",
]

_KEYS = frozenset(
    {
        "CONVERSATION_KEYS",
        "MESSAGE_ID_DOMAIN",
        "ACCOUNT_ID",
        "DATABASE",
        "RAW_STORAGE",
        "DNS",
        "MAX_MESSAGE_SIZE",
        "MAX_ATTEMPTS",
        "TRUSTED_FORWARDERS",
        "USERS",
        "DIRECTORY",
        "OUTBOUND",
        "INBOUND",
    }
)
_OUTBOUND_KEYS = frozenset(
    {"HOSTED_DOMAIN", "CONVERSATION_URL", "NOTIFICATION_SENDER", "EMAIL_BACKEND", "DKIM_KEYS"}
)
_READS = frozenset({"INBOXCORE", "DATABASES", "STORAGES", "AUTH_USER_MODEL"})
"""The settings the built inbox depends on: a change to one builds it again."""


@attrs.frozen(kw_only=True)
class InboxSettings:
    """``settings.INBOXCORE``, checked."""

    config: InboxConfig
    account_id: str
    database: str
    raw_storage: str | None
    dns: Literal["system", "offline"]
    email_field: str | None
    teams: Literal["groups"] | None
    directory: str | None
    outbound: OutboundConfig | None = None
    email_backend: str | None = None
    dkim_keys: str | None = None
    inbound: Mapping[str, InboundEndpoint] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class InboundEndpoint:
    """One provider's door of the inbound view: its secret, and the address its mail is for
    (None: the recipient the provider reports)."""

    provider: Provider
    secret: str = attrs.field(repr=False)
    recipient: str | None = None


def _fail(key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"INBOXCORE[{key!r}]: {message}")


def _text(values: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = values.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, "required, a non-empty string" if value is None else "a non-empty string")
    return value


def _optional_text(values: Mapping[str, Any], key: str) -> str | None:
    return None if values.get(key) is None else _text(values, key)


def _count(values: Mapping[str, Any], key: str, default: int) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(key, f"a positive integer, not {value!r}")
    return value


def _strings(values: Mapping[str, Any], key: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    value = values.get(key, ())
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise _fail(key, "a list")
    if not all(isinstance(v, kinds) and v for v in value):
        raise _fail(key, "a list of non-empty strings")
    return tuple(value)


def _intake(values: Mapping[str, Any]) -> IntakeConfig:
    intake = IntakeConfig(max_message_size=_count(values, "MAX_MESSAGE_SIZE", 30 * 1024 * 1024))
    if "TRUSTED_FORWARDERS" not in values:
        return intake
    forwarders = _strings(values, "TRUSTED_FORWARDERS", (str,))
    authentication = AuthenticationConfig(trusted_forwarders=forwarders)
    return attrs.evolve(intake, authentication=authentication)


def _users(values: Mapping[str, Any]) -> tuple[str | None, Literal["groups"] | None]:
    users = values.get("USERS", {})
    if not isinstance(users, Mapping) or set(users) - {"EMAIL_FIELD", "TEAMS"}:
        raise _fail("USERS", 'a dict of "EMAIL_FIELD" and "TEAMS"')
    teams = users.get("TEAMS", "groups")
    if teams not in ("groups", None):
        raise _fail("USERS", f'"TEAMS" is "groups" or None, not {teams!r}')
    email_field = users.get("EMAIL_FIELD")
    if email_field is not None and not isinstance(email_field, str):
        raise _fail("USERS", '"EMAIL_FIELD" is a field name')
    return email_field, teams


def _outbound(
    values: Mapping[str, Any], config: InboxConfig
) -> tuple[OutboundConfig | None, str | None, str | None]:
    """``OUTBOUND`` checked: the outbound config, the email backend, the DKIM key store's path."""
    outbound = values.get("OUTBOUND")
    if outbound is None:
        return None, None, None
    if not isinstance(outbound, Mapping) or set(outbound) - _OUTBOUND_KEYS:
        raise _fail("OUTBOUND", f"a dict of {', '.join(sorted(_OUTBOUND_KEYS))}")
    try:
        checked = OutboundConfig(
            hosting=HostedDomainConfig(hosted_domain=_text(outbound, "HOSTED_DOMAIN")),
            threading=config.threading,
            conversation_url_template=_optional_text(outbound, "CONVERSATION_URL"),
            notification_sender=_optional_text(outbound, "NOTIFICATION_SENDER"),
        )
    except (ImproperlyConfigured, ConfigurationError, InvalidValueError) as exc:
        raise _fail("OUTBOUND", str(exc)) from exc
    return (
        checked,
        _optional_text(outbound, "EMAIL_BACKEND"),
        _optional_text(outbound, "DKIM_KEYS"),
    )


def _inbound(values: Mapping[str, Any]) -> dict[str, InboundEndpoint]:
    """``INBOUND`` checked: one endpoint per provider name."""
    inbound = values.get("INBOUND", {})
    known = ", ".join(p.value for p in Provider)
    if not isinstance(inbound, Mapping):
        raise _fail(
            "INBOUND", f"a dict of provider ({known}) to {{'SECRET': ..., 'RECIPIENT': ...}}"
        )
    endpoints: dict[str, InboundEndpoint] = {}
    for name, door in inbound.items():
        if name not in {p.value for p in Provider}:
            raise _fail("INBOUND", f"unknown provider {name!r} (known: {known})")
        if not isinstance(door, Mapping) or set(door) - {"SECRET", "RECIPIENT"}:
            raise _fail("INBOUND", f"{name}: a dict of 'SECRET' and 'RECIPIENT'")
        try:
            endpoints[name] = InboundEndpoint(
                provider=Provider(name),
                secret=_text(door, "SECRET"),
                recipient=_optional_text(door, "RECIPIENT"),
            )
        except ImproperlyConfigured as exc:
            raise _fail("INBOUND", f"{name}: {exc}") from exc
    return endpoints


def inbox_settings(values: object = None) -> InboxSettings:
    """``values`` (by default ``settings.INBOXCORE``) checked; ``ImproperlyConfigured`` naming the
    first wrong key."""
    if values is None:
        values = getattr(settings, "INBOXCORE", None)
    if not isinstance(values, Mapping):
        raise ImproperlyConfigured("settings.INBOXCORE: a dict is required")
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise _fail(unknown[0], f"unknown key (known: {', '.join(sorted(_KEYS))})")
    keys = _strings(values, "CONVERSATION_KEYS", (str, bytes))
    if not keys:
        raise _fail("CONVERSATION_KEYS", "required, at least one key")
    database = _text(values, "DATABASE", "default")
    if database not in settings.DATABASES:
        raise _fail("DATABASE", f"no alias {database!r} in DATABASES")
    dns = values.get("DNS", "system")
    if dns not in ("system", "offline"):
        raise _fail("DNS", f'"system" or "offline", not {dns!r}')
    config = InboxConfig(
        conversation_keys=keys,
        message_id_domain=_text(values, "MESSAGE_ID_DOMAIN"),
        intake=_intake(values),
        max_attempts=_count(values, "MAX_ATTEMPTS", 5),
    )
    try:
        config.threading.signer  # noqa: B018 - the keys are checked where they are used
    except InvalidValueError as exc:
        raise _fail("CONVERSATION_KEYS", str(exc)) from exc
    email_field, teams = _users(values)
    outbound, email_backend, dkim_keys = _outbound(values, config)
    return InboxSettings(
        config=config,
        account_id=_text(values, "ACCOUNT_ID", "default"),
        database=database,
        raw_storage=_optional_text(values, "RAW_STORAGE"),
        dns=dns,
        email_field=email_field,
        teams=teams,
        directory=_optional_text(values, "DIRECTORY"),
        outbound=outbound,
        email_backend=email_backend,
        dkim_keys=dkim_keys,
        inbound=_inbound(values),
    )


def _dkim_keys(checked: InboxSettings) -> DkimKeyStore | None:
    if checked.dkim_keys is None:
        return None
    try:
        factory = import_string(checked.dkim_keys)
    except ImportError as exc:
        raise _fail("OUTBOUND", f"cannot import DKIM_KEYS {checked.dkim_keys!r}: {exc}") from exc
    keys: DkimKeyStore = factory()
    return keys


def _directory(checked: InboxSettings) -> Directory:
    if checked.directory is None:
        from inboxcore.contrib.django.directory import UserDirectory

        return UserDirectory(
            checked.account_id,
            using=checked.database,
            email_field=checked.email_field,
            teams=checked.teams,
        )
    try:
        factory = import_string(checked.directory)
    except ImportError as exc:
        raise _fail("DIRECTORY", f"cannot import {checked.directory!r}: {exc}") from exc
    directory: Directory = factory()
    return directory


def build_django_inbox(checked: InboxSettings) -> InboxService:
    """The service of ``checked`` on the Django adapters, through
    :func:`~inboxcore.bootstrap.build_inbox`."""
    from inboxcore.bootstrap import build_inbox
    from inboxcore.contrib.django.mail import DjangoMailTransport
    from inboxcore.contrib.django.rawstore import DjangoRawStore
    from inboxcore.contrib.django.signals import SignalEventSink
    from inboxcore.contrib.django.storage import DjangoStorage

    try:
        return build_inbox(
            config=checked.config,
            storage=DjangoStorage(using=checked.database),
            directory=_directory(checked),
            raw_store=DjangoRawStore(checked.raw_storage, using=checked.database),
            events=SignalEventSink(using=checked.database),
            dns="system" if checked.dns == "system" else None,
            transport=None
            if checked.outbound is None
            else DjangoMailTransport(checked.email_backend),
            outbound=checked.outbound,
            dkim_keys=_dkim_keys(checked),
        )
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"settings.INBOXCORE: {exc}") from exc


_built: dict[str, InboxService] = {}
_intakes: dict[str, HttpIntake] = {}
_lock = threading.Lock()


def get_inbox() -> InboxService:
    """The site's :class:`~inboxcore.app.service.InboxService`, built on first use and kept for
    the process."""
    with _lock:
        if "inbox" not in _built:
            _built["inbox"] = build_django_inbox(inbox_settings())
        return _built["inbox"]


def get_intake(provider: str) -> HttpIntake | None:
    """The inbound HTTP intake of ``provider`` (``INBOXCORE["INBOUND"]``) on the site's inbox,
    kept for the process (Mailgun's replayed tokens are remembered there); None when the
    provider has no door."""
    with _lock:
        if provider in _intakes:
            return _intakes[provider]
    endpoint = inbox_settings().inbound.get(provider)
    if endpoint is None:
        return None
    intake = HttpIntake(
        get_inbox(),
        provider=endpoint.provider,
        secret=endpoint.secret,
        recipient=endpoint.recipient,
    )
    with _lock:
        return _intakes.setdefault(provider, intake)


def reset_inbox(**_: Any) -> None:
    """Forget the built inbox: the next :func:`get_inbox` builds it from the settings again."""
    with _lock:
        _built.clear()
        _intakes.clear()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in _READS:
        reset_inbox()


setting_changed.connect(_on_setting_changed, dispatch_uid="inboxcore.contrib.django.conf")
