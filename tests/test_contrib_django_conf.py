"""settings.INBOXCORE: checked once into typed values, the inbox built by build_inbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.django_support import empty_tables, setup_django

VALID: dict[str, Any] = {
    "CONVERSATION_KEYS": ["an older secret key", "the newest secret key"],
    "MESSAGE_ID_DOMAIN": "inbox.example.net",
    "ACCOUNT_ID": "acme",
    "DNS": "offline",
}


def test_valid_settings_become_typed_values() -> None:
    setup_django()
    from inboxcore.contrib.django.conf import inbox_settings

    checked = inbox_settings(
        VALID | {"MAX_MESSAGE_SIZE": 1000, "TRUSTED_FORWARDERS": ["fwd.example"]}
    )
    assert checked.config.conversation_keys == (b"an older secret key", b"the newest secret key")
    assert checked.config.message_id_domain == "inbox.example.net"
    assert checked.config.intake.max_message_size == 1000
    assert checked.config.intake.authentication.trusted_forwarders == ("fwd.example",)
    assert (checked.database, checked.dns, checked.account_id) == ("default", "offline", "acme")
    assert (checked.raw_storage, checked.teams, checked.directory) == (None, "groups", None)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"CONVERSATION_KEYS": []}, "CONVERSATION_KEYS"),
        ({"CONVERSATION_KEYS": "one key"}, "CONVERSATION_KEYS"),
        ({"CONVERSATION_KEYS": ["too short"]}, "CONVERSATION_KEYS"),
        ({"MESSAGE_ID_DOMAIN": ""}, "MESSAGE_ID_DOMAIN"),
        ({"DATABASE": "elsewhere"}, "DATABASE"),
        ({"DNS": "google"}, "DNS"),
        ({"MAX_MESSAGE_SIZE": 0}, "MAX_MESSAGE_SIZE"),
        ({"MAX_ATTEMPTS": True}, "MAX_ATTEMPTS"),
        ({"TRUSTED_FORWARDERS": [""]}, "TRUSTED_FORWARDERS"),
        ({"USERS": {"TEAMS": "roles"}}, "USERS"),
        ({"USERS": {"EMAIL": "x"}}, "USERS"),
        ({"DIRECTORY": 3}, "DIRECTORY"),
        ({"SPAM": "yes"}, "SPAM"),
    ],
)
def test_a_wrong_value_names_its_key(change: dict[str, Any], key: str) -> None:
    setup_django()
    from django.core.exceptions import ImproperlyConfigured

    from inboxcore.contrib.django.conf import inbox_settings

    with pytest.raises(ImproperlyConfigured, match=rf"INBOXCORE\['{key}'\]"):
        inbox_settings(VALID | change)


def test_a_missing_required_key_is_named() -> None:
    setup_django()
    from django.core.exceptions import ImproperlyConfigured

    from inboxcore.contrib.django.conf import inbox_settings

    with pytest.raises(ImproperlyConfigured, match=r"MESSAGE_ID_DOMAIN.*required"):
        inbox_settings({"CONVERSATION_KEYS": ["a key long enough here"]})
    with pytest.raises(ImproperlyConfigured, match="INBOXCORE: a dict"):
        inbox_settings(["not", "a", "dict"])


def test_get_inbox_builds_once_on_the_django_adapters_and_again_when_settings_change() -> None:
    setup_django()
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox
    from inboxcore.contrib.django.directory import UserDirectory
    from inboxcore.contrib.django.rawstore import DjangoRawStore
    from inboxcore.contrib.django.signals import SignalEventSink
    from inboxcore.contrib.django.storage import DjangoStorage

    empty_tables("default")
    reset_inbox()
    with override_settings(INBOXCORE=VALID):
        inbox = get_inbox()
        assert get_inbox() is inbox
        assert isinstance(inbox.storage, DjangoStorage)
        assert isinstance(inbox.raw_store, DjangoRawStore)
        assert isinstance(inbox.events, SignalEventSink)
        assert isinstance(inbox.directory, UserDirectory)
        assert inbox.config.message_id_domain == "inbox.example.net"
        assert inbox.recover(dry_run=True).examined == 0
        with override_settings(INBOXCORE=VALID | {"MESSAGE_ID_DOMAIN": "mail.example.org"}):
            assert get_inbox().config.message_id_domain == "mail.example.org"
    reset_inbox()


def test_a_directory_setting_names_the_hosts_factory() -> None:
    setup_django()
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox
    from inboxcore.testing import FakeDirectory

    reset_inbox()
    with override_settings(INBOXCORE=VALID | {"DIRECTORY": "inboxcore.testing.FakeDirectory"}):
        assert isinstance(get_inbox().directory, FakeDirectory)
    with (
        override_settings(INBOXCORE=VALID | {"DIRECTORY": "nowhere.Directory"}),
        pytest.raises(ImproperlyConfigured, match="DIRECTORY"),
    ):
        get_inbox()
    reset_inbox()


OUTBOUND: dict[str, Any] = {
    "HOSTED_DOMAIN": "inbox.example.net",
    "CONVERSATION_URL": "https://help.example.net/c/{conversation_id}",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "DKIM_KEYS": "inboxcore.testing.InMemoryDkimKeys",
}


def test_outbound_settings_give_the_inbox_an_outbox_on_djangos_email_backend() -> None:
    """OUTBOUND turns sending on: an outbox whose transport is Django's backend (locmem here,
    byte for byte), whose threading is the inbox's, with the host's DKIM key store."""
    setup_django()
    from django.core import mail
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox
    from inboxcore.contrib.django.mail import DjangoMailTransport
    from inboxcore.domain.model import OutboundMail, SendStatus
    from inboxcore.testing import InMemoryDkimKeys

    reset_inbox()
    with override_settings(INBOXCORE=VALID | {"OUTBOUND": OUTBOUND}):
        outbox = get_inbox().outbox
        assert outbox is not None
        assert isinstance(outbox.transport, DjangoMailTransport)
        assert isinstance(outbox.dkim_keys, InMemoryDkimKeys)
        assert outbox.config.hosting.hosted_domain == "inbox.example.net"
        assert outbox.config.threading == get_inbox().config.threading
        data = b"From: a@inbox.example.net\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
        mail.outbox = []
        sent = outbox.transport.send(
            OutboundMail(mail_from="a@inbox.example.net", rcpt_to=("b@example.com",), data=data)
        )
        assert sent.status is SendStatus.ACCEPTED
        (message,) = mail.outbox
        assert message.message().as_bytes(linesep="\r\n") == data
    reset_inbox()


def test_without_outbound_settings_the_inbox_sends_nothing() -> None:
    setup_django()
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox

    reset_inbox()
    with override_settings(INBOXCORE=VALID):
        assert get_inbox().outbox is None
    reset_inbox()


@pytest.mark.parametrize(
    "outbound",
    [
        "inbox.example.net",
        {"HOSTED_DOMAIN": ""},
        {"HOSTED_DOMAIN": "inbox.example.net", "SMTP": "x"},
        {"HOSTED_DOMAIN": "inbox.example.net", "CONVERSATION_URL": "http://help/{conversation_id}"},
    ],
)
def test_wrong_outbound_settings_are_named(outbound: object) -> None:
    setup_django()
    from django.core.exceptions import ImproperlyConfigured

    from inboxcore.contrib.django.conf import inbox_settings

    with pytest.raises(ImproperlyConfigured, match=r"INBOXCORE\['OUTBOUND'\]"):
        inbox_settings(VALID | {"OUTBOUND": outbound})
