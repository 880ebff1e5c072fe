"""The shipped DKIM key-store fake and key helpers: lookups, rotation, failures, records."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.dkim_sign import algorithm_of, sign_message
from inboxcore.auth.dkim_verify import verify_dkim
from inboxcore.domain.errors import InvalidValueError, PortError
from inboxcore.domain.model import DkimSigningKey
from inboxcore.ports import DkimKeyStore
from inboxcore.testing import (
    GeneratedDkimKey,
    InMemoryDkimKeys,
    InMemoryDns,
    dkim_record,
    generate_ed25519_key,
    generate_rsa_key,
)

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
MESSAGE = (
    b"From: Acme Support <support@acme.example>\r\n"
    b"To: Ada Lovelace <ada@customer.example>\r\n"
    b"Subject: Your invoice\r\n"
    b"Date: Mon, 04 May 2026 09:30:00 +0000\r\n"
    b"Message-ID: <k1@acme.inbox.example.net>\r\n"
    b"\r\n"
    b"The corrected invoice is attached.\r\n"
)


def verdicts(signed: bytes, store: InMemoryDkimKeys) -> list[str]:
    return [r.result for r in verify_dkim(signed, InMemoryDns(store.dns_records()), now=NOW)]


def test_the_fake_is_a_key_store() -> None:
    """InMemoryDkimKeys satisfies the DkimKeyStore port and answers () for unknown domains."""
    store: DkimKeyStore = InMemoryDkimKeys()
    assert store.signing_keys("nowhere.example") == ()


@pytest.mark.parametrize(
    "generated",
    [generate_rsa_key("rsa1"), generate_ed25519_key("ed1"), generate_ed25519_key("ed2", pem=True)],
    ids=["rsa", "ed25519-seed", "ed25519-pem"],
)
def test_signatures_verify_against_the_published_records(generated: GeneratedDkimKey) -> None:
    """A message signed with a generated key passes against the store's own DNS records."""
    store = InMemoryDkimKeys({"acme.example": [generated]})
    signed = sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)
    assert signed.selectors == (generated.selector,)
    assert verdicts(signed.data, store) == ["pass"]
    assert generated.dns_name("ACME.example") == f"{generated.selector}._domainkey.acme.example"
    assert store.dns_records()[generated.dns_name("acme.example")] == {"TXT": generated.record}


def test_records_name_the_algorithm_of_the_key() -> None:
    """An RSA record says k=rsa, an Ed25519 record k=ed25519, each matching algorithm_of."""
    rsa_key, ed_key = generate_rsa_key(), generate_ed25519_key()
    assert rsa_key.record.startswith("v=DKIM1; k=rsa; p=MII")
    assert ed_key.record.startswith("v=DKIM1; k=ed25519; p=")
    assert algorithm_of(rsa_key.key) == "rsa-sha256"
    assert algorithm_of(ed_key.key) == "ed25519-sha256"
    assert dkim_record(ed_key.key) == ed_key.record


def test_ed25519_keys_repeat_per_selector_and_differ_across_selectors() -> None:
    """The same selector gives the same key every run; another selector or seed another key."""
    assert generate_ed25519_key("a") == generate_ed25519_key("a")
    assert generate_ed25519_key("a").record != generate_ed25519_key("b").record
    seeded = generate_ed25519_key("a", seed=bytes(range(32)))
    assert seeded.record != generate_ed25519_key("a").record
    with pytest.raises(InvalidValueError, match="32 bytes"):
        generate_ed25519_key("a", seed=b"short")


def test_rsa_keys_are_shared_unless_fresh() -> None:
    """One RSA pair per size is reused (generation is slow); fresh=True makes another."""
    assert generate_rsa_key("x").record == generate_rsa_key("y").record
    assert generate_rsa_key("x", fresh=True, bits=1024).record != generate_rsa_key("x").record
    with pytest.raises(InvalidValueError, match="1024"):
        generate_rsa_key(bits=512)


def test_rotation_windows_are_carried_by_the_keys() -> None:
    """not_before and sign_until reach the signing key, so rotation can be rehearsed."""
    later = generate_ed25519_key("new", not_before=NOW + timedelta(hours=1))
    old = generate_rsa_key("old", sign_until=NOW + timedelta(days=2))
    store = InMemoryDkimKeys({"acme.example": [later, old]})
    assert sign_message(MESSAGE, store, from_domain="acme.example", now=NOW).selectors == ("old",)
    in_window = sign_message(
        MESSAGE, store, from_domain="acme.example", now=NOW + timedelta(hours=2)
    )
    assert in_window.selectors == ("new", "old")
    assert verdicts(in_window.data, store) == ["pass", "pass"]


def test_add_puts_the_newest_first_and_replaces_a_selector() -> None:
    """add() fronts the new key, a key with the same selector is replaced; remove() drops one."""
    first, second = generate_ed25519_key("s1"), generate_ed25519_key("s2")
    store = InMemoryDkimKeys()
    store.add("acme.example", first)
    store.add("acme.example", second)
    assert [k.selector for k in store.signing_keys("acme.example")] == ["s2", "s1"]
    replacement = generate_ed25519_key("s1", seed=b"\x01" * 32)
    store.add("acme.example", replacement.key)
    assert store.signing_keys("acme.example") == (replacement.key, second.key)
    store.remove("acme.example", "s2")
    assert store.signing_keys("acme.example") == (replacement.key,)
    store.remove("acme.example", "s1")
    assert store.domains() == ()


def test_domains_are_compared_as_lowercase_a_labels() -> None:
    """Keys set for an upper-case or IDN domain are found under its lowercase A-label."""
    key = generate_ed25519_key("s1")
    store = InMemoryDkimKeys({"Bücher.Example": [key], "ACME.example": [key]})
    assert store.domains() == ("acme.example", "xn--bcher-kva.example")
    assert store.signing_keys("xn--bcher-kva.example") == (key.key,)
    assert store.signing_keys("acme.example") == (key.key,)
    store.set_keys("acme.example", [])
    assert store.signing_keys("acme.example") == ()


def test_failures_are_injected_and_lookups_recorded() -> None:
    """fail_next_lookups() makes the next lookups raise PortError; every lookup is recorded."""
    store = InMemoryDkimKeys({"acme.example": [generate_ed25519_key()]})
    store.fail_next_lookups(2)
    for _ in range(2):
        with pytest.raises(PortError, match="unavailable"):
            store.signing_keys("acme.example")
    assert len(store.signing_keys("acme.example")) == 1
    store.fail_next_lookups(error=PortError("vault sealed"))
    with pytest.raises(PortError, match="vault sealed"):
        sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)
    assert store.lookups == ["acme.example"] * 4


def test_unusable_key_material_has_no_record() -> None:
    """dkim_record refuses garbage, a short seed and a non-DKIM key type, naming the selector."""
    for material in (b"%%%", b"c2hvcnQ=", b"-----BEGIN PRIVATE KEY-----\nno\n-----END"):
        with pytest.raises(InvalidValueError, match="bad1"):
            dkim_record(DkimSigningKey(selector="bad1", private_key=material))


def test_lookups_from_many_threads_are_all_recorded() -> None:
    """The fake is safe under threads: concurrent lookups lose no record."""
    store = InMemoryDkimKeys({"acme.example": [generate_ed25519_key()]})

    def look() -> None:
        for _ in range(50):
            store.signing_keys("acme.example")

    threads = [threading.Thread(target=look) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.lookups) == 200


@settings(max_examples=25, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    selector=st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True),
)
def test_any_seeded_ed25519_key_signs_and_verifies(seed: bytes, selector: str) -> None:
    """Whatever the seed and selector, the generated key's signature passes its own record."""
    store = InMemoryDkimKeys({"acme.example": [generate_ed25519_key(selector, seed=seed)]})
    signed = sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)
    assert verdicts(signed.data, store) == ["pass"]
