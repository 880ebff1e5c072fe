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
