"""ARC chain validation: lists that re-seal, broken seals, failed instances; dkimpy seals."""

from __future__ import annotations

from datetime import UTC, datetime

import dkim
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.auth.arc import (
    ARC_RESULTS,
    ArcResult,
    parse_authentication_results,
    validate_arc,
)
from inboxcore.auth.bodyhash import BodyHashes
from inboxcore.auth.dkim_verify import verify_dkim
from inboxcore.domain.errors import InvalidValueError
from inboxcore.testing import InMemoryDns
from tests.test_dkim_verify import MESSAGE, RsaKey, rsa_key, sign, weak_rsa_key

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LIST_KEY_BITS = 1024
GOOGLE_KEY_BITS = 2048


def list_key() -> RsaKey:
    return rsa_key(LIST_KEY_BITS)


def google_key() -> RsaKey:
    return rsa_key(GOOGLE_KEY_BITS)


def seal(message: bytes, *, domain: str, key: RsaKey, results: str) -> bytes:
    """``message`` as a relay passes it on: its Authentication-Results, then dkimpy's ARC set."""
    stamped = f"Authentication-Results: {domain}; {results}\r\n".encode() + message
    fields: list[bytes] = dkim.arc_sign(
        stamped, b"arc-2026", domain.encode(), key.pem, domain.encode(), timestamp=1772443800
    )
    return b"".join(fields) + stamped


def list_edit(message: bytes) -> bytes:
    """What a discussion list does: tag the subject, append a footer."""
    tagged = message.replace(b"Subject: Invoice", b"Subject: [billing] Invoice", 1)
    return (
        tagged + b"--\r\nbilling@lists.example.net | unsubscribe: https://lists.example.net/u\r\n"
    )


AUTHOR_RESULTS = (
    "dkim=pass header.d=example.com header.s=s2026; "
    "spf=pass smtp.mailfrom=ann@example.com; "
    "dmarc=pass (p=reject) header.from=example.com"
)


def zone() -> InMemoryDns:
    return InMemoryDns(
        {
            "s2026._domainkey.example.com": {"TXT": rsa_key().record},
            "arc-2026._domainkey.lists.example.net": {"TXT": list_key().record},
            "arc-2026._domainkey.google.com": {"TXT": google_key().record},
        }
    )


def through_list() -> bytes:
    """Ann's signed mail after the list verified it, edited it and sealed it (i=1)."""
    return seal(
        list_edit(sign(MESSAGE)),
        domain="lists.example.net",
        key=list_key(),
        results=AUTHOR_RESULTS,
    )


def through_list_and_google(arc: str = "pass") -> bytes:
    """The list's mail forwarded by a Gmail user: Google seals as i=2."""
    return seal(
        through_list(),
        domain="google.com",
        key=google_key(),
        results=f"arc={arc} (i=1); dkim=fail header.d=example.com; dmarc=fail header.from=example.com",
    )


def test_unsealed_message_is_none() -> None:
    """A message without ARC header fields has chain result none."""
    result = validate_arc(sign(MESSAGE), zone(), now=NOW)
    assert (result.result, result.newest_instance, result.newest_aar) == ("none", 0, None)


def test_list_that_reseals_after_editing_passes_with_its_aar() -> None:
    """The list broke DKIM, but its seal passes and its AAR says DMARC passed for Ann's From."""
    raw = through_list()
    assert verify_dkim(raw, zone(), now=NOW)[0].code == "dkim.body_hash"
    result = validate_arc(raw, zone(), now=NOW)
    assert result.result == "pass"
    assert result.passed
    assert result.newest_instance == 1
    assert result.sealer_domains == ("lists.example.net",)
    assert result.newest_sealer == "lists.example.net"
    aar = result.newest_aar
    assert aar is not None
    assert aar.authserv_id == "lists.example.net"
    assert [(d.result, d.get("header.from")) for d in aar.dmarc] == [("pass", "example.com")]
    assert aar.spf[0].get("smtp.mailfrom") == "ann@example.com"
    assert aar.dkim[0].get("header.d") == "example.com"


def test_two_sealers_pass_and_are_named_by_instance() -> None:
    """List then Google: the chain passes, sealers listed oldest first, the newest AAR is Google's."""
    result = validate_arc(through_list_and_google(), zone(), now=NOW)
    assert result.result == "pass"
    assert result.sealer_domains == ("lists.example.net", "google.com")
    assert result.newest_sealer == "google.com"
    assert result.newest_instance == 2
    assert result.newest_aar is not None
    assert result.newest_aar.authserv_id == "google.com"
    assert result.newest_aar.methods("arc")[0].result == "pass"


def test_chain_with_a_failed_instance_fails() -> None:
    """A sealer that recorded cv=fail ends the chain: fail, whatever the seals say."""
    result = validate_arc(through_list_and_google(arc="fail"), zone(), now=NOW)
    assert (result.result, result.code) == ("fail", "arc.sealed_fail")
    assert result.newest_sealer == "google.com"


def _flip_in(raw: bytes, field: bytes, marker: bytes) -> bytes:
    """Change one base64 character after ``marker`` inside the first ``field`` header."""
    start = raw.index(field)
    at = raw.index(marker, start) + len(marker) + 10
    replacement = b"A" if raw[at : at + 1] != b"A" else b"B"
    return raw[:at] + replacement + raw[at + 1 :]


def test_broken_seal_fails() -> None:
    """A damaged ARC-Seal signature makes the chain fail at that seal."""
    raw = _flip_in(through_list_and_google(), b"ARC-Seal:", b"b=")
    result = validate_arc(raw, zone(), now=NOW)
    assert (result.result, result.code) == ("fail", "arc.seal")
    assert "i=2" in result.reason


def test_forged_aar_breaks_the_seal() -> None:
    """Rewriting what a sealer said (its AAR) is caught by the seal over it."""
    raw = through_list()
    forged = raw.replace(b"i=1; lists.example.net;", b"i=1; lists.example.net; arc=none;", 1)
    assert forged != raw
    result = validate_arc(forged, zone(), now=NOW)
    assert (result.result, result.code) == ("fail", "arc.seal")


def test_body_changed_after_the_newest_seal_fails() -> None:
    """An edit after the last sealer breaks the newest ARC-Message-Signature."""
    raw = through_list() + b"P.S. injected after sealing\r\n"
    result = validate_arc(raw, zone(), now=NOW)
    assert (result.result, result.code) == ("fail", "arc.ams")


def test_older_ams_may_break_when_a_later_hop_edits() -> None:
    """Only the newest AMS must verify: a hop that edits after i=1 and re-seals still passes."""
    edited = through_list().replace(b"unsubscribe:", b"leave:", 1)
    resealed = seal(
        edited, domain="google.com", key=google_key(), results="arc=pass (i=1); dmarc=fail"
    )
    assert validate_arc(resealed, zone(), now=NOW).result == "pass"


@pytest.mark.parametrize("failure", ["SERVFAIL", "TIMEOUT"])
def test_dns_failure_on_a_sealer_key_is_temperror(failure: str) -> None:
    """A key lookup that fails for now gives temperror, not fail."""
    dns = zone()
    dns.fail("arc-2026._domainkey.lists.example.net", failure)
    result = validate_arc(through_list_and_google(), dns, now=NOW)
    assert (result.result, result.code) == ("temperror", "arc.key_unavailable")
    assert result.newest_sealer == "google.com"


def test_missing_sealer_key_fails() -> None:
    """A seal whose key is not published cannot be checked: fail."""
    dns = InMemoryDns({"arc-2026._domainkey.google.com": {"TXT": google_key().record}})
    assert validate_arc(through_list_and_google(), dns, now=NOW).result == "fail"


def test_weak_sealer_key_fails() -> None:
    """ARC seals with keys under 1024 bits do not count."""
    weak = weak_rsa_key(512)
    raw = seal(sign(MESSAGE), domain="lists.example.net", key=weak, results=AUTHOR_RESULTS)
    dns = InMemoryDns({"arc-2026._domainkey.lists.example.net": {"TXT": weak.record}})
    result = validate_arc(raw, dns, now=NOW)
    assert (result.result, result.code) == ("fail", "arc.ams")
    assert "512-bit" in result.reason


def test_missing_aar_is_a_structure_failure() -> None:
    """An ARC set without its ARC-Authentication-Results is malformed: fail."""
    raw = through_list()
    start = raw.index(b"ARC-Authentication-Results:")
    end = raw.index(b"\r\n", raw.index(b"dmarc=pass", start)) + 2
    result = validate_arc(raw[:start] + raw[end:], zone(), now=NOW)
    assert (result.result, result.code) == ("fail", "arc.structure")


def test_dkim_and_arc_share_one_body_pass() -> None:
    """DKIM (relaxed) and the newest AMS (relaxed) hash the body once between them."""
    raw = seal(sign(MESSAGE), domain="lists.example.net", key=list_key(), results=AUTHOR_RESULTS)
    hashes = BodyHashes(raw)
    assert verify_dkim(raw, zone(), now=NOW, body_hashes=hashes)[0].passed
    assert validate_arc(raw, zone(), now=NOW, body_hashes=hashes).passed
    assert hashes.passes == 1


def test_naive_now_is_a_programming_error() -> None:
    """validate_arc wants a timezone-aware now."""
    with pytest.raises(InvalidValueError):
        validate_arc(MESSAGE, zone(), now=datetime(2026, 1, 1))


def test_arc_result_rejects_unknown_words() -> None:
    """ArcResult holds only chain validation words."""
    with pytest.raises(ValueError):
        ArcResult(result="softfail", code="x", reason="x")


def test_parse_gmail_style_authentication_results() -> None:
    """Comments are dropped, properties kept in order, names lowercased."""
    parsed = parse_authentication_results(
        "mx.google.com;\r\n"
        "       dkim=pass header.i=@example.com header.s=20230601 header.b=Ab12Cd34;\r\n"
        "       arc=pass (i=1 spf=pass spfdomain=lists.example.net dkim=pass dkdomain=example.com);\r\n"
        "       spf=pass (google.com: domain of ann@example.com designates 192.0.2.1 as permitted"
        " sender) smtp.mailfrom=ann@example.com;\r\n"
        "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
    )
    assert parsed is not None
    assert parsed.authserv_id == "mx.google.com"
    assert [r.method for r in parsed.results] == ["dkim", "arc", "spf", "dmarc"]
    assert parsed.dkim[0].properties == (
        ("header.i", "@example.com"),
        ("header.s", "20230601"),
        ("header.b", "Ab12Cd34"),
    )
    assert parsed.methods("ARC")[0].properties == ()
    assert parsed.dmarc[0].get("HEADER.FROM") == "example.com"
    assert parsed.spf[0].get("smtp.helo") is None


def test_parse_version_none_reason_and_quoting() -> None:
    """A version after the authserv-id, 'none', reasons and quoted values with ';' are understood."""
    assert parse_authentication_results("mail.example.org 1; none") == (
        parse_authentication_results("mail.example.org")
    )
    parsed = parse_authentication_results(
        'mx.example.net; dkim/1 = fail reason="bad; signature" (nested (comment)) '
        'header.d=example.com; spf=PASS smtp.mailfrom="odd;local"@example.com'
    )
    assert parsed is not None
    dkim_result = parsed.dkim[0]
    assert (dkim_result.result, dkim_result.reason) == ("fail", "bad; signature")
    assert dkim_result.get("header.d") == "example.com"
    assert parsed.spf[0].result == "pass"
    assert parse_authentication_results("  (only a comment)  ") is None


def test_a_quoted_authserv_id_keeps_its_quotes() -> None:
    """A quoted authserv-id is not read as the token: no MTA writes one, an edge that removes
    forged fields of its own id may miss it, so it must never pass for a trusted id."""
    quoted = parse_authentication_results('"MX.Example.NET"; spf=pass smtp.mailfrom=a.example')
    assert quoted is not None
    assert quoted.authserv_id == '"mx.example.net"'


@given(st.text(max_size=200) | st.text(alphabet='a=;"()\\ .\r\n/1', max_size=60))
def test_parsing_never_raises(value: str) -> None:
    """Any text gives a parsed field or None, never an exception (it is untrusted input)."""
    parsed = parse_authentication_results(value)
    assert parsed is None or isinstance(parsed.results, tuple)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validate_never_raises_on_mangled_chains(data: st.DataObject) -> None:
    """Damaging a sealed message anywhere gives a chain result, never an exception."""
    raw = bytearray(through_list())
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[at:at] = data.draw(
            st.sampled_from([b";", b"i=0;", b"i=2;", b"\r\nARC-Seal: i=1\r\n", b"cv=fail;", b" "])
        )
    assert validate_arc(bytes(raw), zone(), now=NOW).result in ARC_RESULTS


@pytest.mark.parametrize("run", ["a" * 200_000, "_a" * 100_000, " " * 200_000, "a " * 100_000])
def test_a_long_results_field_is_parsed_in_linear_time(run: str) -> None:
    """An Authentication-Results value of 200,000 name characters or blanks (every start inside
    the run once rescanned the rest of it: minutes) is parsed; a result after it is still read."""
    parsed = parse_authentication_results(f"mx.example; {run} dkim=pass header.d=example.com")
    assert parsed is not None
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass")]
