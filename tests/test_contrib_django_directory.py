"""UserDirectory: the host's django.contrib.auth users and groups as agents and teams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from inboxcore.domain.ids import AccountId, TeamId, UserId
from tests.django_support import setup_django

ACCOUNT = AccountId("site")


@pytest.fixture
def people() -> Iterator[dict[str, Any]]:
    setup_django()
    from django.contrib.auth.models import Group, User

    User.objects.all().delete()
    Group.objects.all().delete()
    ada = User.objects.create(
        username="ada", email="Ada@Acme.Example", first_name="Ada", last_name="Lovelace"
    )
    bob = User.objects.create(username="bob", email="bob@acme.example", is_active=False)
    nobody = User.objects.create(username="nobody", email="not an address")
    support = Group.objects.create(name="Support")
    ada.groups.add(support)
    yield {"ada": ada, "bob": bob, "nobody": nobody, "support": support}
    User.objects.all().delete()
    Group.objects.all().delete()


def directory(**kw: Any) -> Any:
    from inboxcore.contrib.django.directory import UserDirectory

    return UserDirectory("site", **kw)


def test_users_are_agents_of_the_account(people: dict[str, Any]) -> None:
    ada = directory().user(UserId(str(people["ada"].pk)))
    assert ada is not None
    assert (ada.account_id, ada.email.address, ada.full_name, ada.active) == (
        ACCOUNT,
        "Ada@acme.example",
        "Ada Lovelace",
        True,
    )
    assert [u.email.key for u in directory().users(ACCOUNT)] == [
        "ada@acme.example",
        "bob@acme.example",
    ]
    assert directory().users(AccountId("other")) == ()


def test_found_by_email_key_case_insensitively(people: dict[str, Any]) -> None:
    found = directory().user_by_email(ACCOUNT, "ada@acme.example")
    assert found is not None
    assert found.id == UserId(str(people["ada"].pk))
    assert directory().user_by_email(AccountId("other"), "ada@acme.example") is None
    assert directory().user_by_email(ACCOUNT, "carol@acme.example") is None


def test_inactive_users_are_unavailable_and_unknown_ids_are_none(people: dict[str, Any]) -> None:
    d = directory()
    assert d.is_available(UserId(str(people["ada"].pk)))
    assert not d.is_available(UserId(str(people["bob"].pk)))
    assert d.user(UserId("abc")) is None
    assert d.user(UserId("999999")) is None
    assert not d.is_available(UserId("abc"))


def test_a_user_without_a_valid_email_is_no_agent(people: dict[str, Any]) -> None:
    assert directory().user(UserId(str(people["nobody"].pk))) is None


def test_teams_are_groups_or_none(people: dict[str, Any]) -> None:
    group_id = TeamId(str(people["support"].pk))
    team = directory().team(group_id)
    assert team is not None
    assert (team.name, team.member_ids) == ("Support", (UserId(str(people["ada"].pk)),))
    assert directory().team(TeamId("nope")) is None
    assert directory(teams=None).team(group_id) is None


def test_another_email_field(people: dict[str, Any]) -> None:
    # The username holds no address here: no user is an agent by it.
    assert directory(email_field="username").users(ACCOUNT) == ()
