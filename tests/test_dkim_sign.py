"""DKIM signing: signatures our verifier and dkimpy accept, key rotation, domain choice."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.dkim_sign import (
    MAX_SIGNATURES,
    DkimSigned,
    algorithm_of,
    dkim_signature,
    keys_to_sign_with,
    sign_message,
    signing_domains,
)
from inboxcore.auth.dkim_verify import DkimSignatureResult, verify_dkim
from inboxcore.domain.errors import InvalidValueError, PortError
from inboxcore.domain.model import DkimSigningKey
from inboxcore.testing import InMemoryDkimKeys, InMemoryDns, generate_ed25519_key, generate_rsa_key

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)

MESSAGE = (
    b"From: =?utf-8?q?Zo=C3=AB?= from Acme <support@acme.example>\r\n"
    b"To: Ada Lovelace <ada@customer.example>\r\n"
    b"Reply-To: support-7f3k+abc@acme.inbox.example.net\r\n"
    b"Subject: Re: Invoice 1042 is wrong\r\n"
    b"Date: Mon, 04 May 2026 09:30:00 +0000\r\n"
    b"Message-ID: <abc.1@acme.inbox.example.net>\r\n"
    b"In-Reply-To: <m1@customer.example>\r\n"
    b"References: <m1@customer.example>\r\n"
    b"X-Inboxcore-Loop: chan-1\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Hello Ada,\r\n"
    b"\r\n"
    b"a corrected invoice for 10 seats is attached.  \r\n"
    b"\r\n"
    b"Zo=C3=AB\r\n"
)


RSA = generate_rsa_key("s2026")
"""The process-wide 2048-bit test key pair, with its DKIM record."""


def ed25519_key(seed_form: bool = True) -> tuple[bytes, str]:
    """An Ed25519 key (as the base64 seed dkimpy writes, or as PEM) and its DKIM record."""
    generated = generate_ed25519_key("ed", pem=not seed_form)
    return generated.key.private_key, generated.record


def zone(*entries: tuple[str, str, str]) -> InMemoryDns:
    return InMemoryDns({f"{s}._domainkey.{d}": {"TXT": record} for s, d, record in entries})


def results(signed: bytes, dns: InMemoryDns, now: datetime = NOW) -> list[str]:
    return [r.result for r in verify_dkim(signed, dns, now=now)]


def dkimpy_verifies(signed: bytes, dns: InMemoryDns) -> bool:
    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        answers = dns.txt(name.decode().rstrip("."))
        return b"".join(answers[0]) if answers else None

    return bool(dkim.verify(signed, dnsfunc=txt))


def rsa_signing_key(selector: str = "s2026", **kw: datetime) -> DkimSigningKey:
    return DkimSigningKey(selector=selector, private_key=RSA.key.private_key, **kw)


def test_rsa_signature_verifies_with_our_verifier_and_dkimpy() -> None:
    """An rsa-sha256 relaxed/relaxed signature passes our verifier and dkimpy against the zone."""
    store = InMemoryDkimKeys({"acme.example": [rsa_signing_key()]})
    signed = sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)
    dns = zone(("s2026", "acme.example", RSA.record))
    (result,) = verify_dkim(signed.data, dns, now=NOW)
    assert (result.result, result.domain, result.selector, result.algorithm) == (
        "pass",
        "acme.example",
        "s2026",
        "rsa-sha256",
    )
    assert dkimpy_verifies(signed.data, dns)
    assert signed == DkimSigned(data=signed.data, domain="acme.example", selectors=("s2026",))
    assert signed.data.endswith(MESSAGE)


@pytest.mark.parametrize("seed_form", [True, False], ids=["seed", "pem"])
def test_ed25519_signature_verifies(seed_form: bool) -> None:
    """Ed25519 keys, as a dkimpy seed or as PEM, give ed25519-sha256 signatures that pass."""
    material, record = ed25519_key(seed_form)
    key = DkimSigningKey(selector="ed1", private_key=material)
    assert algorithm_of(key) == "ed25519-sha256"
    signed = sign_message(
        MESSAGE, InMemoryDkimKeys({"acme.example": [key]}), from_domain="acme.example", now=NOW
    )
    dns = zone(("ed1", "acme.example", record))
    assert results(signed.data, dns) == ["pass"]
    assert dkimpy_verifies(signed.data, dns)


def test_signature_time_comes_from_the_caller_and_expiry_is_optional() -> None:
    """t= is the given time (no hidden clock); x= appears only with expire_after and is honoured."""
    key = rsa_signing_key()
    field = dkim_signature(MESSAGE, key, domain="acme.example", now=NOW)
    unfolded = field.replace(b"\r\n ", b"")
    assert f"t={int(NOW.timestamp())};".encode() in unfolded
    assert b"x=" not in unfolded
    expiring = dkim_signature(
        MESSAGE, key, domain="acme.example", now=NOW, expire_after=timedelta(days=1)
    )
    assert f"x={int(NOW.timestamp()) + 86400};".encode() in expiring.replace(b"\r\n ", b"")
    dns = zone(("s2026", "acme.example", RSA.record))
    assert results(expiring + MESSAGE, dns, NOW + timedelta(hours=1)) == ["pass"]
    assert results(expiring + MESSAGE, dns, NOW + timedelta(days=2)) == ["policy"]


def test_header_list_oversigns_and_leaves_relay_fields_alone() -> None:
    """h= signs From, Subject, To, Cc, ... once more than present and never Received."""
    field = dkim_signature(MESSAGE, rsa_signing_key(), domain="acme.example", now=NOW)
    tags = dict(
        t.strip().split("=", 1)
        for t in field.decode().split(":", 1)[1].replace("\r\n", "").split(";")
        if t.strip()
    )
    h = [n.strip() for n in tags["h"].split(":")]
    for name in ("from", "subject", "to", "date", "message-id", "reply-to", "references"):
        assert h.count(name) == 2, name
    assert h.count("cc") == 1  # absent, still listed: a Cc cannot be added on the way
    assert "x-inboxcore-loop" in h
    assert "content-type" in h
    assert not {"received", "return-path", "dkim-signature", "authentication-results"} & set(h)
    assert tags["c"] == "relaxed/relaxed"
    assert "l" not in tags


def test_relays_may_refold_and_add_trace_fields_but_not_change_or_add_content() -> None:
    """Received and re-folding keep the pass; a changed subject or an extra From/Cc fails."""
    dns = zone(("s2026", "acme.example", RSA.record))
    signed = sign_message(
        MESSAGE,
        InMemoryDkimKeys({"acme.example": [rsa_signing_key()]}),
        from_domain="acme.example",
        now=NOW,
    ).data
    relayed = b"Received: from relay.example by mx.customer.example; Mon, 4 May 2026\r\n" + signed
    relayed = relayed.replace(b"Subject: Re: Invoice", b"Subject:  Re:\r\n Invoice")
    assert results(relayed, dns) == ["pass"]
    assert results(signed.replace(b"1042 is wrong", b"1043 is wrong"), dns) == ["fail"]
    for added in (b"From: ceo@acme.example\r\n", b"Cc: eve@attacker.example\r\n"):
        head, sep, body = signed.partition(b"\r\n\r\n")
        assert results(head + b"\r\n" + added.rstrip(b"\r\n") + sep + body, dns) == ["fail"]
    assert results(signed.replace(b"10 seats", b"11 seats"), dns) == ["fail"]


def test_hosted_default_address_is_signed_by_the_hosted_domain() -> None:
    """From on the account's hosted subdomain is signed d=<hosted domain> (relaxed alignment)."""
    store = InMemoryDkimKeys({"inbox.example.net": [rsa_signing_key("hosted1")]})
    message = MESSAGE.replace(b"support@acme.example", b"zoe@acme.inbox.example.net")
    signed = sign_message(
        message,
        store,
        from_domain="acme.inbox.example.net",
        hosted_domains=["inbox.example.net"],
        now=NOW,
    )
    assert signed.domain == "inbox.example.net"
    assert store.lookups == ["acme.inbox.example.net", "inbox.example.net"]
    assert results(signed.data, zone(("hosted1", "inbox.example.net", RSA.record))) == ["pass"]


def test_sending_domain_key_wins_over_the_hosted_domain() -> None:
    """With keys for both, the From domain's own key signs (aligned for DMARC)."""
    store = InMemoryDkimKeys(
        {
            "acme.example": [rsa_signing_key("own")],
            "inbox.example.net": [rsa_signing_key("hosted1")],
        }
    )
    signed = sign_message(
        MESSAGE, store, from_domain="acme.example", hosted_domains=["inbox.example.net"], now=NOW
    )
    assert (signed.domain, signed.selectors) == ("acme.example", ("own",))


def test_unrelated_or_keyless_domain_goes_out_unsigned() -> None:
    """No key for From's domain and no hosted parent: the bytes are returned untouched."""
    store = InMemoryDkimKeys({"inbox.example.net": [rsa_signing_key()]})
    signed = sign_message(
        MESSAGE, store, from_domain="acme.example", hosted_domains=["inbox.example.net"], now=NOW
    )
    assert signed == DkimSigned(data=MESSAGE)
    assert store.lookups == ["acme.example"]


def test_signing_domains_are_a_labels_and_only_parents() -> None:
    """IDN From domains are looked up as A-labels; a hosted domain counts only as a parent."""
    assert signing_domains("Bücher.Example", ["example"]) == ("xn--bcher-kva.example", "example")
    assert signing_domains("acme.example", ["inbox.example.net", "cme.example"]) == (
        "acme.example",
    )
    assert signing_domains("not a domain!", ["example"]) == ()


def test_idn_signing_domain_verifies() -> None:
    """A key for an IDN domain signs d= in A-labels, and the signature passes."""
    store = InMemoryDkimKeys({"xn--bcher-kva.example": [rsa_signing_key()]})
    message = MESSAGE.replace(b"support@acme.example", b"support@xn--bcher-kva.example")
    signed = sign_message(message, store, from_domain="bücher.example", now=NOW)
    assert signed.domain == "xn--bcher-kva.example"
    assert results(signed.data, zone(("s2026", "xn--bcher-kva.example", RSA.record))) == ["pass"]


def test_rotation_signs_with_the_newest_key_in_force() -> None:
    """The newest key signs; a key whose not_before is ahead waits; old keys retire."""
    old = rsa_signing_key("s2025")
    new = rsa_signing_key("s2026")
    future = rsa_signing_key("s2027", not_before=NOW + timedelta(days=3))
    assert keys_to_sign_with([future, new, old], NOW) == (new,)
    assert keys_to_sign_with([future, new, old], NOW + timedelta(days=3)) == (future,)
    assert keys_to_sign_with([future], NOW) == ()


def test_rotation_window_dual_signs_and_both_verify() -> None:
    """During a rotation window old and new selectors both sign; each signature passes alone."""
    new = rsa_signing_key("s2026")
    old = DkimSigningKey(
        selector="ed2025",
        private_key=ed25519_key(True)[0],
        sign_until=NOW + timedelta(days=2),
    )
    store = InMemoryDkimKeys({"acme.example": [new, old]})
    signed = sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)
    assert signed.selectors == ("s2026", "ed2025")
    both = zone(
        ("s2026", "acme.example", RSA.record), ("ed2025", "acme.example", ed25519_key(True)[1])
    )
    assert results(signed.data, both) == ["pass", "pass"]
    only_old = zone(("ed2025", "acme.example", ed25519_key(True)[1]))
    assert results(signed.data, only_old) == ["permerror", "pass"]
    later = sign_message(MESSAGE, store, from_domain="acme.example", now=NOW + timedelta(days=2))
    assert later.selectors == ("s2026",)


def test_signature_count_is_capped() -> None:
    """However many keys are in a window, at most MAX_SIGNATURES sign."""
    keys = [rsa_signing_key(f"s{i}", sign_until=NOW + timedelta(days=1)) for i in range(6)]
    assert len(keys_to_sign_with(keys, NOW)) == MAX_SIGNATURES


def test_unusable_keys_are_refused_loudly() -> None:
    """Garbage, a short seed and a 512-bit RSA key raise InvalidValueError naming the selector."""
    short_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert (
        algorithm_of(DkimSigningKey(selector="ok", private_key=RSA.key.private_key)) == "rsa-sha256"
    )
    assert (
        algorithm_of(
            DkimSigningKey(
                selector="ok1024",
                private_key=short_rsa.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                ),
            )
        )
        == "rsa-sha256"
    )
    for material in (
        b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
        b"%%%",
        base64.b64encode(b"short"),
    ):
        with pytest.raises(InvalidValueError, match="bad1"):
            algorithm_of(DkimSigningKey(selector="bad1", private_key=material))


def test_weak_rsa_key_is_refused() -> None:
    """An RSA key under 1024 bits is refused, since receivers would ignore its signatures."""
    from tests.test_dkim_verify import weak_rsa_key

    key = DkimSigningKey(selector="weak", private_key=weak_rsa_key(512).pem)
    with pytest.raises(InvalidValueError, match="1024"):
        dkim_signature(MESSAGE, key, domain="acme.example", now=NOW)


def test_bad_arguments_are_refused() -> None:
    """A message without From, a naive time or a bad selector cannot be signed."""
    key = rsa_signing_key()
    without_from = MESSAGE.replace(b"From:", b"X-From:")
    with pytest.raises(InvalidValueError, match="From"):
        dkim_signature(without_from, key, domain="acme.example", now=NOW)
    with pytest.raises(InvalidValueError, match="timezone"):
        dkim_signature(MESSAGE, key, domain="acme.example", now=NOW.replace(tzinfo=None))
    with pytest.raises(InvalidValueError, match="selector"):
        dkim_signature(MESSAGE, rsa_signing_key("bad selector"), domain="acme.example", now=NOW)
    with pytest.raises(InvalidValueError, match="positive"):
        dkim_signature(MESSAGE, key, domain="acme.example", now=NOW, expire_after=timedelta(0))


def test_key_store_failure_propagates() -> None:
    """A key store that cannot answer raises PortError: the caller decides, nothing is guessed."""
    store = InMemoryDkimKeys({"acme.example": [rsa_signing_key()]})
    store.fail_next_lookups()
    with pytest.raises(PortError):
        sign_message(MESSAGE, store, from_domain="acme.example", now=NOW)


@settings(max_examples=25, deadline=None)
@given(
    subject=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=60
    ),
    body=st.text(max_size=300),
)
def test_any_composed_message_signs_and_verifies(subject: str, body: str) -> None:
    """Whatever the subject and body (non-ASCII, blank lines, trailing spaces), it verifies."""
    from email.message import EmailMessage
    from email.policy import SMTP

    message = EmailMessage(policy=SMTP)
    message["From"] = "Zoë <support@acme.example>"
    message["To"] = "ada@customer.example"
    message["Subject"] = subject
    message.set_content(body.replace("\r", ""), cte="quoted-printable")
    raw = message.as_bytes()
    store = InMemoryDkimKeys({"acme.example": [rsa_signing_key()]})
    signed = sign_message(raw, store, from_domain="acme.example", now=NOW)
    dns = zone(("s2026", "acme.example", RSA.record))
    verdicts: tuple[DkimSignatureResult, ...] = verify_dkim(signed.data, dns, now=NOW)
    assert [v.result for v in verdicts] == ["pass"], verdicts
