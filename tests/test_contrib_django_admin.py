"""The Django admin of the inbox: every page renders for a superuser, nothing is editable, and the
held-mail actions release and discard through the service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_support import empty_tables, setup_django
from tests.http_support import ADDRESS, RAW

SETTINGS: dict[str, Any] = {
    "CONVERSATION_KEYS": ["a test key of 16+ bytes"],
    "MESSAGE_ID_DOMAIN": "inbox.example.net",
    "ACCOUNT_ID": "acme",
    "DNS": "offline",
}
NO_SENDER = (
    b"To: support@acme.example\r\nSubject: Who sent this?\r\nMessage-ID: <nobody@example.net>\r\n"
    b"Date: Mon, 04 May 2026 08:00:00 +0000\r\n\r\nNo From at all.\r\n"
)


@pytest.fixture
def admin_client() -> Iterator[Any]:
    """A logged-in superuser, and an inbox holding one accepted and one held message."""
    setup_django()
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox
    from inboxcore.domain.addresses import EmailAddress
    from inboxcore.domain.ids import AccountId, ChannelId
    from inboxcore.domain.model import Account, Channel, ChannelState, Envelope

    empty_tables("default")
    User.objects.filter(username="root").delete()
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
                    company_name="Acme Support",
                )
            )
            uow.commit()
        for raw in (RAW, NO_SENDER):
            inbox.receive(raw, Envelope(received_at=inbox.clock.now(), rcpt_to=(ADDRESS,)))
        client = Client()
        client.force_login(User.objects.create_superuser("root", "root@example.net", "pw"))
        yield client
    reset_inbox()


def _held() -> list[str]:
    from inboxcore.contrib.django.models import HeldMessage

    return [str(row.raw_id) for row in HeldMessage.objects.all()]


@pytest.mark.parametrize(
    "page", ["channel", "conversation", "ticket", "heldmessage"], ids=lambda p: p
)
def test_every_changelist_and_change_page_renders(admin_client: Any, page: str) -> None:
    from inboxcore.contrib.django import models as m

    listing = admin_client.get(f"/admin/inboxcore/{page}/")
    assert listing.status_code == 200
    models: dict[str, Any] = {"channel": m.Channel, "conversation": m.Conversation}
    model = (models | {"ticket": m.Ticket, "heldmessage": m.HeldMessage})[page]
    first = model.objects.first()
    assert first is not None, f"the fixture made no {page}"
    detail = admin_client.get(f"/admin/inboxcore/{page}/{first.pk}/change/")
    assert detail.status_code == 200


def test_pages_show_the_records(admin_client: Any) -> None:
    conversations = admin_client.get("/admin/inboxcore/conversation/").content.decode()
    assert "Invoice 1042" in conversations
    assert "ada@customer.example" in conversations
    channels = admin_client.get("/admin/inboxcore/channel/").content.decode()
    assert ADDRESS in channels
    held = admin_client.get("/admin/inboxcore/heldmessage/").content.decode()
    assert "Invoice 1042" not in held
    assert len(_held()) == 1


def test_the_conversation_page_lists_its_messages(admin_client: Any) -> None:
    from inboxcore.contrib.django.models import Conversation

    row = Conversation.objects.get()
    page = admin_client.get(f"/admin/inboxcore/conversation/{row.pk}/change/").content.decode()
    assert "<table><tr><th>received</th>" in page
    assert "Invoice 1042" in page


def test_nothing_is_added_changed_or_deleted_through_the_admin(admin_client: Any) -> None:
    from inboxcore.contrib.django.models import Conversation

    row = Conversation.objects.get()
    assert admin_client.get("/admin/inboxcore/conversation/add/").status_code == 403
    assert admin_client.post(f"/admin/inboxcore/conversation/{row.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/inboxcore/conversation/{row.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_release_lets_held_mail_in_through_the_service(admin_client: Any) -> None:
    from inboxcore.contrib.django.conf import get_inbox

    (raw_id,) = _held()
    answer = admin_client.post(
        "/admin/inboxcore/heldmessage/",
        {"action": "release", "_selected_action": [str(_pk_of(raw_id))]},
        follow=True,
    )
    assert answer.status_code == 200
    records = get_inbox().storage.unit_of_work()
    with records as uow:
        log = uow.intake_log.for_raw_message(raw_id)  # type: ignore[arg-type]
    assert len(log) == 2  # the quarantine, then the release's own record
    assert raw_id[:12] in answer.content.decode()


def test_discard_removes_held_mail_on_record(admin_client: Any) -> None:
    from inboxcore.contrib.django.conf import get_inbox

    (raw_id,) = _held()
    admin_client.post(
        "/admin/inboxcore/heldmessage/",
        {"action": "discard", "_selected_action": [str(_pk_of(raw_id))]},
        follow=True,
    )
    assert _held() == []
    with get_inbox().storage.unit_of_work() as uow:
        last = uow.intake_log.for_raw_message(raw_id)[-1]  # type: ignore[arg-type]
    assert last.disposition.value == "discarded"


def _pk_of(raw_id: str) -> int:
    from inboxcore.contrib.django.models import HeldMessage

    return int(HeldMessage.objects.get(raw_id=raw_id).pk)


def test_a_held_messages_page_is_view_only_while_the_list_offers_the_actions(
    admin_client: Any,
) -> None:
    (raw_id,) = _held()
    listing = admin_client.get("/admin/inboxcore/heldmessage/").content.decode()
    assert 'value="release"' in listing
    assert 'value="discard"' in listing
    page = admin_client.get(f"/admin/inboxcore/heldmessage/{_pk_of(raw_id)}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    changed = admin_client.post(f"/admin/inboxcore/heldmessage/{_pk_of(raw_id)}/change/", {})
    assert changed.status_code == 403
