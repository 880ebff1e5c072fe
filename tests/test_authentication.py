"""Forwarded mail end to end: SPF, DKIM, ARC and DMARC decide the disposition, and say why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inboxcore.auth.authentication import AuthenticationConfig
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    DmarcFailureAction,
    Envelope,
    IntakeSettings,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import IntakeConfig, IntakePorts, IntakeResult, ingest
from inboxcore.testing import FakeClock, InMemoryDns, InMemoryRawStore, InMemoryStorage
from tests.test_arc import seal
from tests.test_dkim_verify import rsa_key, sign

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CHANNEL = "support-7f3k@acme.inbox.example.net"
GMAIL_IP = "209.85.220.41"
LIST_IP = "203.0.113.25"

ORIGINAL = (
    b"From: Ann Example <ann@customer.example>\r\n"
    b"To: support@acme.example\r\n"
    b"Subject: Invoice #4411 is wrong\r\n"
    b"Date: Mon, 2 Mar 2026 10:29:51 +0100\r\n"
    b"Message-ID: <CAF7x9b1@mail.customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello,\r\n\r\nthe invoice lists 12 seats, we have 10.\r\n\r\nAnn\r\n"
)


def zone(**overrides: object) -> dict[str, object]:
    key = rsa_key().record
    records: dict[str, object] = {
        "customer.example": {
            "TXT": ["v=spf1 ip4:198.51.100.0/24 -all"],
            "MX": ["10 mx.customer.example"],
        },
        "_dmarc.customer.example": {"TXT": ["v=DMARC1; p=reject; rua=mailto:d@customer.example"]},
        "s2026._domainkey.customer.example": {"TXT": [key]},
        "acme.example": {"TXT": ["v=spf1 ip4:209.85.128.0/17 -all"]},
        "lists.example.net": {"TXT": ["v=spf1 ip4:203.0.113.0/24 -all"]},
        "arc-2026._domainkey.lists.example.net": {"TXT": [key]},
        "arc-2026._domainkey.google.com": {"TXT": [key]},
        "s1._domainkey.esp.example": {"TXT": [key]},
        "kund-service.example": {"MX": ["10 mx.kund-service.example"]},
        "_dmarc.kund-service.example": {"TXT": ["v=DMARC1; p=reject"]},
        "s2026._domainkey.kund-service.example": {"TXT": [key]},
        "xn--bcher-kva.example": {"MX": ["10 mx.xn--bcher-kva.example"]},
        "_dmarc.xn--bcher-kva.example": {"TXT": ["v=DMARC1; p=quarantine"]},
        "s2026._domainkey.xn--bcher-kva.example": {"TXT": [key]},
        "lax.example": {"MX": ["10 mx.lax.example"]},
        "_dmarc.lax.example": {"TXT": ["v=DMARC1; p=none"]},
    }
    records.update(overrides)
    return records


def run(
    raw: bytes,
    *,
    client_ip: str = GMAIL_IP,
    mail_from: str = "srs0=ab12=cd=customer.example=ann@acme.example",
    dns: InMemoryDns | None = None,
    live: bool = False,
    config: AuthenticationConfig | None = None,
    offline: bool = False,
    **intake: object,
) -> IntakeResult:
    storage, clock = InMemoryStorage(), FakeClock(NOW)
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=AccountId("acme"),
        name="Support",
        forwarding_address=EmailAddress.parse(CHANNEL),
        created_at=NOW - timedelta(days=3),
        state=ChannelState.CONNECTED,
        intake=IntakeSettings(**intake),  # type: ignore[arg-type]
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    ports = IntakePorts(
        storage=storage,
        raw_store=InMemoryRawStore(),
        clock=clock,
        dns=None if offline else (dns or InMemoryDns(zone())),
    )
    envelope = Envelope(
        received_at=NOW,
        mail_from=mail_from,
        rcpt_to=(CHANNEL,),
        client_ip=client_ip,
        helo="mail-x.google.com",
    )
    return ingest(
        raw,
        envelope,
        ports=ports,
        config=IntakeConfig(authentication=config or AuthenticationConfig()),
        live_smtp=live,
    )


def list_edit(message: bytes) -> bytes:
    """A discussion list tags the subject and appends a footer: the author's DKIM breaks."""
    tagged = message.replace(b"Subject: Invoice", b"Subject: [billing] Invoice", 1)
    return tagged + b"--\r\nbilling@lists.example.net | https://lists.example.net/u\r\n"


AUTHOR_PASSED = "dkim=pass header.d=customer.example; dmarc=pass header.from=customer.example; spf=pass smtp.mailfrom=ann@customer.example"


def test_gmail_auto_forward_with_intact_dkim_is_accepted() -> None:
    """SPF passes only for the forwarder (unaligned), DKIM is intact and aligned: DMARC pass."""
    result = run(sign(ORIGINAL, domain="customer.example"))
    assert result.disposition is Disposition.ACCEPTED
    auth = result.authentication
    assert auth is not None
    assert auth.spf == "pass"
    assert auth.spf_detail is not None
    assert auth.spf_detail.domain == "acme.example"
    assert [(d.domain, d.result) for d in auth.dkim] == [("customer.example", "pass")]
    assert auth.dmarc == "pass"
    assert auth.disposition_reason == "dmarc.pass"
    assert auth.header.startswith(
        "inboxcore; spf=pass smtp.mailfrom=acme.example; dkim=pass header.d=customer.example"
    )
    assert "dmarc=pass policy.dmarc=reject header.from=customer.example" in auth.header


def test_list_breaking_dkim_without_arc_is_quarantined_with_a_reason() -> None:
    """A list edits the body: DKIM fails, DMARC p=reject fails, no trusted seal: quarantined."""
    result = run(
        list_edit(sign(ORIGINAL, domain="customer.example")),
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
    )
    assert result.disposition is Disposition.QUARANTINED
    assert result.reason_codes == ("dmarc.fail.reject",)
    assert "p=reject" in result.reasons[0].message
    assert result.authentication is not None
    assert result.authentication.dkim[0].result == "fail"


def test_channel_set_to_reject_refuses_with_5_7_26() -> None:
    """With the channel's DMARC action on reject, the same message is refused 550 5.7.26."""
    result = run(
        list_edit(sign(ORIGINAL, domain="customer.example")),
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
        dmarc_failure_action=DmarcFailureAction.REJECT,
    )
    assert result.disposition is Disposition.REJECTED
    assert (result.smtp.code, result.smtp.enhanced) == (550, "5.7.26")


def test_trusted_forwarder_arc_seal_rescues_a_broken_list_message() -> None:
    """A list re-seals after editing; when its domain is trusted and its AAR says dmarc=pass, accept."""
    sealed = seal(
        list_edit(sign(ORIGINAL, domain="customer.example")),
        domain="lists.example.net",
        key=rsa_key(),
        results=AUTHOR_PASSED,
    )
    untrusted = run(sealed, client_ip=LIST_IP, mail_from="bounces@lists.example.net")
    assert untrusted.disposition is Disposition.QUARANTINED
    assert untrusted.authentication is not None
    assert untrusted.authentication.arc == "pass"
    trusted = run(
        sealed,
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
        trusted_forwarders=("lists.example.net",),
    )
    assert trusted.disposition is Disposition.ACCEPTED
    assert trusted.authentication is not None
    assert trusted.authentication.disposition_reason == "dmarc.fail.trusted_forwarder"
    assert trusted.authentication.trusted_forwarder == "lists.example.net"
    globally = run(
        sealed,
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
        config=AuthenticationConfig(trusted_forwarders=("example.net",)),
    )
    assert globally.disposition is Disposition.ACCEPTED


def test_trusted_sealer_that_saw_a_failure_does_not_rescue() -> None:
    """The forwarder must vouch for the same From: an AAR with dmarc=fail does not override."""
    sealed = seal(
        list_edit(sign(ORIGINAL, domain="customer.example")),
        domain="lists.example.net",
        key=rsa_key(),
        results="dmarc=fail header.from=customer.example",
    )
    result = run(
        sealed,
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
        trusted_forwarders=("lists.example.net",),
    )
    assert result.disposition is Disposition.QUARANTINED


def test_spoofed_reject_domain_is_quarantined_or_rejected() -> None:
    """An unsigned message claiming a p=reject domain from a stranger's IP is held or refused."""
    spoof = ORIGINAL.replace(b"ann@customer.example", b"ceo@customer.example")
    held = run(spoof, client_ip="192.0.2.66", mail_from="ceo@customer.example")
    assert held.disposition is Disposition.QUARANTINED
    assert held.authentication is not None
    assert held.authentication.spf == "fail"
    refused = run(
        spoof,
        client_ip="192.0.2.66",
        mail_from="ceo@customer.example",
        dmarc_failure_action=DmarcFailureAction.REJECT,
    )
    assert refused.disposition is Disposition.REJECTED


def test_p_none_domain_is_delivered_even_when_failing() -> None:
    """DMARC fail under p=none delivers, and says so."""
    raw = ORIGINAL.replace(b"ann@customer.example", b"ann@lax.example")
    result = run(raw, client_ip="192.0.2.66", mail_from="ann@lax.example")
    assert result.disposition is Disposition.ACCEPTED
    assert result.authentication is not None
    assert result.authentication.dmarc == "fail"
    assert result.authentication.disposition_reason == "dmarc.fail.not_enforced"


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_dmarc_lookup_failure_defers_live_and_quarantines_offline(how: str) -> None:
    """A temporary DNS error on the policy: 451 in a live session, a recheck otherwise; never 5xx."""
    dns = InMemoryDns(zone())
    dns.fail("_dmarc.customer.example", how)
    raw = list_edit(sign(ORIGINAL, domain="customer.example"))
    live = run(raw, dns=dns, live=True)
    assert live.disposition is Disposition.DEFERRED
    assert live.smtp.code == 451
    later = run(raw, dns=dns)
    assert later.disposition is Disposition.QUARANTINED
    assert later.reason_codes == ("dmarc.temperror",)


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_key_lookup_failure_that_could_change_the_outcome_is_temporary(how: str) -> None:
    """A DKIM key that cannot be fetched: temperror, and DMARC's failure is not final."""
    dns = InMemoryDns(zone())
    dns.fail("s2026._domainkey.customer.example", how)
    result = run(sign(ORIGINAL, domain="customer.example"), dns=dns, live=True)
    assert result.authentication is not None
    assert result.authentication.dkim[0].result == "temperror"
    assert result.disposition is Disposition.DEFERRED


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_spf_lookup_failure_does_not_matter_when_dkim_passes(how: str) -> None:
    """A temporary SPF error cannot change a DMARC pass by DKIM: delivered."""
    dns = InMemoryDns(zone())
    dns.fail("acme.example", how)
    result = run(sign(ORIGINAL, domain="customer.example"), dns=dns, live=True)
    assert result.authentication is not None
    assert result.authentication.spf == "temperror"
    assert result.disposition is Disposition.ACCEPTED


def test_only_the_lower_signature_is_aligned() -> None:
    """An ESP's signature on top (unaligned) and the author's below (aligned): DMARC pass."""
    raw = sign(sign(ORIGINAL, domain="customer.example"), domain="esp.example", selector="s1")
    result = run(raw, client_ip="192.0.2.66", mail_from="bounce@esp.example")
    assert result.authentication is not None
    assert [d.domain for d in result.authentication.dkim] == ["esp.example", "customer.example"]
    assert result.authentication.dmarc == "pass"
    assert result.disposition is Disposition.ACCEPTED
    only_top = sign(ORIGINAL, domain="esp.example", selector="s1")
    assert (
        run(only_top, client_ip="192.0.2.66", mail_from="bounce@esp.example").disposition
        is Disposition.QUARANTINED
    )


def test_hyphenated_and_internationalized_domains() -> None:
    """DKIM and DMARC work for hyphenated and IDN (A-label) From domains."""
    hyphen = ORIGINAL.replace(b"ann@customer.example", b"ann@kund-service.example")
    assert (
        run(sign(hyphen, domain="kund-service.example"), client_ip="192.0.2.66").disposition
        is Disposition.ACCEPTED
    )
    assert run(hyphen, client_ip="192.0.2.66").disposition is Disposition.QUARANTINED
    idn = ORIGINAL.replace(b"ann@customer.example", "ann@bücher.example".encode())
    signed = sign(idn, domain="xn--bcher-kva.example")
    result = run(signed, client_ip="192.0.2.66")
    assert result.authentication is not None
    assert result.authentication.dmarc == "pass"
    assert run(idn, client_ip="192.0.2.66").disposition is Disposition.QUARANTINED


def test_upstream_results_trusted_only_from_configured_authserv_ids() -> None:
    """Without a client IP, SPF comes from our edge MTA's Authentication-Results; others are ignored."""
    stamped = (
        b"Authentication-Results: inboxcore; spf=pass smtp.mailfrom=ceo@customer.example\r\n"
        b"Authentication-Results: edge.acme.example; spf=pass smtp.mailfrom=ann@customer.example\r\n"
        + ORIGINAL
    )
    ignored = run(stamped, client_ip="")
    assert ignored.authentication is not None
    assert ignored.authentication.spf == "none"
    assert ignored.disposition is Disposition.QUARANTINED
    trusted = run(
        stamped,
        client_ip="",
        config=AuthenticationConfig(trusted_authserv_ids=frozenset({"edge.acme.example"})),
    )
    assert trusted.authentication is not None
    assert trusted.authentication.spf == "pass"
    assert trusted.authentication.dmarc == "pass"
    assert trusted.disposition is Disposition.ACCEPTED


def test_a_quoted_trusted_authserv_id_is_not_trusted() -> None:
    """'"edge.acme.example"' is not our edge's field: an edge that removes forged fields of its
    own id may miss the quoted spelling, so only the token (the test above) is believed."""
    stamped = (
        b'Authentication-Results: "edge.acme.example"; spf=pass smtp.mailfrom=ann@customer.example\r\n'
        + ORIGINAL
    )
    config = AuthenticationConfig(trusted_authserv_ids=frozenset({"edge.acme.example"}))
    result = run(stamped, client_ip="", config=config)
    assert result.authentication is not None
    assert result.authentication.spf == "none"
    assert result.disposition is Disposition.QUARANTINED


def test_an_encoded_trusted_authserv_id_is_not_trusted() -> None:
    """An encoded word is not a token: '=?utf-8?q?edge.acme.example?=' is not our edge's field
    (an edge removing forged fields of its own id does not decode them), nor is an encoded
    result; fields are read as written, never RFC 2047 decoded."""
    config = AuthenticationConfig(trusted_authserv_ids=frozenset({"edge.acme.example"}))
    for field in (
        b"Authentication-Results: =?utf-8?q?edge.acme.example?=; spf=pass "
        b"smtp.mailfrom=ann@customer.example\r\n",
        b"Authentication-Results: edge.acme.example; spf==?utf-8?q?pass?= "
        b"smtp.mailfrom=ann@customer.example\r\n",
    ):
        result = run(field + ORIGINAL, client_ip="", config=config)
        assert result.authentication is not None
        assert result.authentication.spf == "none", field
        assert result.disposition is Disposition.QUARANTINED


def test_offline_run_reports_none_everywhere() -> None:
    """Without DNS, every result is none and a spoof that DNS would catch is not held back."""
    spoof = ORIGINAL.replace(b"ann@customer.example", b"ceo@customer.example")
    result = run(spoof, client_ip="192.0.2.66", offline=True)
    assert result.disposition is Disposition.ACCEPTED
    auth = result.authentication
    assert auth is not None
    assert (auth.spf, auth.arc, auth.dmarc, auth.dkim) == ("none", "none", "none", ())
    assert auth.disposition_reason == "offline"
    assert run(spoof, client_ip="192.0.2.66").disposition is Disposition.QUARANTINED


# --- evidence: which domains the message provably comes from ------------------------------------


def test_evidence_names_the_dkim_domain_and_the_aligned_spf_domain() -> None:
    """A signed Gmail forward proves customer.example (DKIM) and acme.example (SPF of MAIL FROM)."""
    result = run(sign(ORIGINAL, domain="customer.example"))
    auth = result.authentication
    assert auth is not None
    assert {(e.domain, e.method.value) for e in auth.evidence} == {
        ("customer.example", "dkim"),
        ("acme.example", "spf"),
    }
    proof = auth.authenticates("mail.customer.example")  # relaxed alignment
    assert proof is not None
    assert proof.describe() == "DKIM of customer.example"
    assert auth.authenticates("acme.example") is not None


def test_a_forged_from_proves_nothing() -> None:
    """The same message unsigned from an unlisted IP: the From domain is not authenticated."""
    result = run(ORIGINAL.replace(b"customer.example", b"lax.example"), client_ip="192.0.2.7")
    auth = result.authentication
    assert auth is not None
    assert auth.authenticates("lax.example") is None
    assert auth.authenticates("customer.example") is None


def test_only_a_trusted_and_passing_arc_seal_vouches_for_domains() -> None:
    """A list's seal proves the author's domain only when the sealer is trusted."""
    sealed = seal(
        list_edit(sign(ORIGINAL, domain="customer.example")),
        domain="lists.example.net",
        key=rsa_key(),
        results=AUTHOR_PASSED,
    )
    untrusted = run(sealed, client_ip=LIST_IP, mail_from="bounces@lists.example.net")
    assert untrusted.authentication is not None
    assert untrusted.authentication.authenticates("customer.example") is None
    trusted = run(
        sealed,
        client_ip=LIST_IP,
        mail_from="bounces@lists.example.net",
        trusted_forwarders=("lists.example.net",),
    )
    assert trusted.authentication is not None
    proof = trusted.authentication.authenticates("customer.example")
    assert proof is not None
    assert (proof.method.value, proof.via) == ("arc", "lists.example.net")


def test_offline_nothing_is_authenticated() -> None:
    """Without DNS there is no proof of anyone."""
    result = run(sign(ORIGINAL, domain="customer.example"), offline=True)
    assert result.authentication is not None
    assert result.authentication.evidence == ()
    assert result.authentication.authenticates("customer.example") is None


RECOVERED_FROM = ORIGINAL.replace(
    b"From: Ann Example <ann@customer.example>", b"From: Ann Example ann@customer.example"
)


@pytest.mark.parametrize(
    ("raw", "client_ip"),
    [
        (sign(RECOVERED_FROM, domain="customer.example"), GMAIL_IP),
        (RECOVERED_FROM, "192.0.2.66"),
    ],
)
def test_a_from_only_a_person_can_read_never_passes_dmarc(raw: bytes, client_ip: str) -> None:
    """Beside the legitimate message above (RFC 5322 From, aligned DKIM: pass): a From with no
    RFC 5322 address is shown as ann@customer.example, but DMARC does not let it pass as
    customer.example, signed or not; its p=reject still holds the message."""
    result = run(raw, client_ip=client_ip, mail_from="ann@customer.example")
    auth = result.authentication
    assert auth is not None
    assert auth.dmarc == "fail"
    assert result.disposition is Disposition.QUARANTINED
    assert result.reason_codes == ("dmarc.fail.reject",)
