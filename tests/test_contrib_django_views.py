"""The Django inbound view: the HTTP intake behind a Django URL, on the Django inbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_support import empty_tables, setup_django
from tests.http_support import ADDRESS, RAW, SECRET, SIGNING_KEY, mailgun_fields, multipart

SETTINGS: dict[str, Any] = {
    "CONVERSATION_KEYS": ["a test key of 16+ bytes"],
    "MESSAGE_ID_DOMAIN": "inbox.example.net",
    "ACCOUNT_ID": "acme",
    "DNS": "offline",
    "MAX_MESSAGE_SIZE": 10_000,
    "INBOUND": {"raw": {"SECRET": SECRET}, "mailgun": {"SECRET": SIGNING_KEY}},
}


@pytest.fixture
def site() -> Iterator[Any]:
    """A Django test client on an inbox with Acme's connected channel at :data:`ADDRESS`."""
    setup_django()
    from django.test import Client, override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox
    from inboxcore.domain.addresses import EmailAddress
    from inboxcore.domain.ids import AccountId, ChannelId
    from inboxcore.domain.model import Account, Channel, ChannelState

    empty_tables("default")
    with override_settings(INBOXCORE=SETTINGS):
        reset_inbox()
        inbox = get_inbox()
        with inbox.storage.unit_of_work() as uow:
            uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
            uow.channels.add(
                Channel(
                    id=ChannelId("support"),
                    account_id=AccountId("acme"),
                    name="Support",
                    forwarding_address=EmailAddress.parse(ADDRESS),
                    created_at=inbox.clock.now(),
                    state=ChannelState.CONNECTED,
                )
            )
            uow.commit()
        yield Client()
    reset_inbox()


def _raw(client: Any, body: bytes = RAW, secret: str = SECRET, **extra: str) -> Any:
    return client.post(
        "/inbox/inbound/raw/",
        data=body,
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_X_ENVELOPE_TO=ADDRESS,
        HTTP_X_ENVELOPE_FROM="ada@customer.example",
        **extra,
    )


def _messages() -> int:
    from inboxcore.contrib.django.models import Message

    return int(Message.objects.count())


def test_a_legitimate_post_is_a_200_and_a_recorded_message(site: Any) -> None:
    answer = _raw(site)
    assert answer.status_code == 200
    assert answer.json()["verdict"] == "accepted"
    assert _messages() == 1
    again = _raw(site)
    assert (again.status_code, again.json()["verdict"], _messages()) == (200, "duplicate", 1)


def test_a_wrong_secret_is_a_401_and_nothing_recorded(site: Any) -> None:
    answer = _raw(site, secret="a guess")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert _messages() == 0


def test_a_mailgun_post_signed_with_another_key_is_a_403_beside_its_legitimate_twin(
    site: Any,
) -> None:
    now = int(time.time())  # the Django inbox runs on the system clock
    forged, content_type = multipart(mailgun_fields(key="not-the-signing-key", timestamp=now))
    answer = site.post("/inbox/inbound/mailgun/", data=forged, content_type=content_type)
    assert (answer.status_code, _messages()) == (403, 0)
    signed, content_type = multipart(mailgun_fields(timestamp=now))
    answer = site.post("/inbox/inbound/mailgun/", data=signed, content_type=content_type)
    assert (answer.status_code, answer.json()["verdict"], _messages()) == (200, "accepted", 1)


def test_an_oversize_body_is_a_413_before_it_is_read(site: Any) -> None:
    """The declared length over the limit is refused from the headers; the body is not read
    (a stream that fails when read proves it)."""
    from django.test import RequestFactory

    from inboxcore.contrib.django.views import inbound_mail

    class Unreadable:
        def read(self, *_: Any) -> bytes:
            raise AssertionError("the body was read")

    request = RequestFactory().post("/inbox/inbound/raw/", data=b"x", content_type="message/rfc822")
    request.META["CONTENT_LENGTH"] = str(10_000_000)
    request._stream = Unreadable()
    answer = inbound_mail(request, "raw")
    assert answer.status_code == 413
    assert _messages() == 0


def test_a_get_is_a_405_naming_post(site: Any) -> None:
    answer = site.get("/inbox/inbound/raw/")
    assert (answer.status_code, answer["Allow"]) == (405, "POST")


def test_a_provider_without_a_door_is_a_404(site: Any) -> None:
    assert (
        site.post(
            "/inbox/inbound/postmark/", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_the_view_needs_no_csrf_token(site: Any) -> None:
    """A provider has no session: the view is exempt from CSRF even where the client enforces it."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert _raw(strict).status_code == 200


def test_storage_failing_is_a_503_with_retry_after(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inboxcore.contrib.django.conf import get_inbox
    from inboxcore.domain.errors import StorageError

    def broken(*_: Any, **__: Any) -> Any:
        raise StorageError("disk full")

    monkeypatch.setattr(get_inbox().raw_store, "put", broken)
    answer = _raw(site)
    assert answer.status_code == 503
    assert answer["Retry-After"]
    assert _messages() == 0


def test_inbound_settings_are_checked() -> None:
    setup_django()
    from django.core.exceptions import ImproperlyConfigured

    from inboxcore.contrib.django.conf import inbox_settings

    wrong: list[object] = [{"pigeon": {"SECRET": "x"}}, {"raw": {"SECRET": ""}}, {"raw": "x"}, []]
    for inbound in wrong:
        with pytest.raises(ImproperlyConfigured, match=r"INBOXCORE\['INBOUND'\]"):
            inbox_settings(SETTINGS | {"INBOUND": inbound})
