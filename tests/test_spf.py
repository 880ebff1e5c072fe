"""SPF through the DNS port: identities, limits, failures, and no global state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import attrs
import pytest
import spf as pyspf
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.spf import DEFAULT_EXPLANATION, SpfResult, check_spf
from inboxcore.testing import InMemoryDns

GOOGLE_IP = "209.85.220.41"


def _gmail_like() -> InMemoryDns:
    return InMemoryDns(
        {
            "gmail.com": {"TXT": ["v=spf1 redirect=_spf.google.com"]},
            "_spf.google.com": {"TXT": ["v=spf1 include:_netblocks.google.com ~all"]},
            "_netblocks.google.com": {
                "TXT": ["v=spf1 ip4:209.85.128.0/17 ip6:2607:f8b0::/32 ~all"]
            },
            "acme-support.example": {
                "TXT": [
                    "v=spf1 mx a:out.acme-support.example -all",
                    "google-site-verification=xyz",
                ],
                "MX": ["10 mx1.acme-support.example"],
            },
            "mx1.acme-support.example": {"A": ["198.51.100.10"]},
            "out.acme-support.example": {"A": ["198.51.100.20"], "AAAA": ["2001:db8::20"]},
        }
    )


def test_gmail_sender_from_google_passes_through_redirect_and_include() -> None:
    """A Gmail sender relayed by Google's outbound IP passes via redirect= and include:."""
    result = check_spf(GOOGLE_IP, "jane.doe@gmail.com", "mail-sor-f41.google.com", _gmail_like())
    assert result.result == "pass"
    assert result.domain == "gmail.com"
    assert result.identity == "mailfrom"
    assert result.passed
    assert result.explanation is None


def test_forwarder_ip_gets_softfail_for_gmail_sender() -> None:
    """Mail for a Gmail sender forwarded by another provider's host softfails (SPF is unaligned)."""
    result = check_spf("203.0.113.5", "jane.doe@gmail.com", "relay.example.net", _gmail_like())
    assert result.result == "softfail"
    assert result.explanation == DEFAULT_EXPLANATION
    assert "203.0.113.5" in result.reason


def test_mx_and_a_mechanisms_pass_and_unlisted_host_fails_with_mechanism() -> None:
    """mx and a: match the domain's own hosts (v4 and v6); anything else hits -all."""
    dns = _gmail_like()
    assert check_spf("198.51.100.10", "help@acme-support.example", None, dns).result == "pass"
    assert check_spf("2001:db8::20", "help@acme-support.example", None, dns).result == "pass"
    failed = check_spf("192.0.2.99", "help@acme-support.example", None, dns)
    assert failed.result == "fail"
    assert failed.mechanism == "-all"
    assert failed.explanation == DEFAULT_EXPLANATION


def test_null_sender_checks_the_helo_identity() -> None:
    """A bounce (MAIL FROM:<>) is checked against the HELO name as postmaster@helo."""
    dns = InMemoryDns({"mta.bounce.example": {"TXT": ["v=spf1 ip4:192.0.2.7 -all"]}})
    for null in (None, "", "<>"):
        result = check_spf("192.0.2.7", null, "mta.bounce.example", dns)
        assert result.identity == "helo"
        assert result.domain == "mta.bounce.example"
        assert result.result == "pass"
    assert check_spf("192.0.2.8", "<>", "mta.bounce.example", dns).result == "fail"


def test_no_identity_and_unusable_domains_are_none_without_dns() -> None:
    """No sender and no HELO, a domain literal or a single label: none, and no DNS is asked."""
    dns = InMemoryDns({})
    assert check_spf("192.0.2.1", None, None, dns).result == "none"
    assert check_spf("192.0.2.1", "", "[192.0.2.1]", dns).result == "none"
    assert check_spf("192.0.2.1", "", "localhost", dns).result == "none"
    assert check_spf("192.0.2.1", "x@-bad-.example", None, dns).result == "none"
    assert dns.calls == []


def test_bad_client_ip_is_none_not_a_crash() -> None:
    """A client IP that is not an address cannot be evaluated; it is reported, not raised."""
    result = check_spf("not-an-ip", "a@gmail.com", None, _gmail_like())
    assert result.result == "none"
    assert "not an IP address" in result.reason


def test_domain_without_record_is_none() -> None:
    """A domain that publishes no v=spf1 record (other TXT only) gives none."""
    dns = InMemoryDns({"plain.example": {"TXT": ["some-verification=abc"]}})
    result = check_spf("192.0.2.1", "a@plain.example", None, dns)
    assert result.result == "none"
    assert result.domain == "plain.example"


def test_two_spf_records_are_permerror() -> None:
    """Two v=spf1 records at one name are a permanent error (RFC 7208 4.5)."""
    dns = InMemoryDns({"twice.example": {"TXT": ["v=spf1 -all", "v=spf1 +all"]}})
    assert check_spf("192.0.2.1", "a@twice.example", None, dns).result == "permerror"


@pytest.mark.parametrize("how", ["TIMEOUT", "SERVFAIL"])
def test_dns_failure_on_the_record_is_temperror(how: str) -> None:
    """A timeout or SERVFAIL fetching the record is temperror, never none or fail."""
    dns = InMemoryDns({"flaky.example": how})
    result = check_spf("192.0.2.1", "a@flaky.example", None, dns)
    assert result.result == "temperror"
    assert "flaky.example" in result.reason


@pytest.mark.parametrize("how", ["TIMEOUT", "SERVFAIL"])
def test_dns_failure_inside_an_include_is_temperror(how: str) -> None:
    """A failure deep in the evaluation (an include's record) is still temperror."""
    dns = InMemoryDns(
        {
            "outer.example": {"TXT": ["v=spf1 include:inner.example -all"]},
            "inner.example": how,
        }
    )
    assert check_spf("192.0.2.1", "a@outer.example", None, dns).result == "temperror"


def test_more_than_ten_lookup_terms_is_permerror() -> None:
    """Eleven DNS-querying terms exceed the RFC 7208 limit of 10: permerror."""
    zone: dict[str, object] = {
        "many.example": {
            "TXT": [" ".join(["v=spf1"] + [f"a:h{i}.many.example" for i in range(11)] + ["-all"])]
        }
    }
    for i in range(11):
        zone[f"h{i}.many.example"] = {"A": [f"198.51.100.{i + 1}"]}
    result = check_spf("192.0.2.1", "a@many.example", None, InMemoryDns(zone))
    assert result.result == "permerror"
    assert "lookups" in result.reason.lower()


def test_ten_lookup_terms_are_allowed() -> None:
    """Exactly ten DNS-querying terms are within the limit; the tenth may match."""
    zone: dict[str, object] = {
        "ten.example": {
            "TXT": [" ".join(["v=spf1"] + [f"a:h{i}.ten.example" for i in range(10)] + ["-all"])]
        }
    }
    for i in range(10):
        zone[f"h{i}.ten.example"] = {"A": [f"198.51.100.{i + 1}"]}
    assert check_spf("198.51.100.10", "a@ten.example", None, InMemoryDns(zone)).result == "pass"


def test_third_void_lookup_is_permerror_but_two_are_allowed() -> None:
    """Two lookups that find nothing are tolerated; the third is a permerror (RFC 7208 4.6.4)."""
    two = InMemoryDns(
        {"void.example": {"TXT": ["v=spf1 a:gone1.example a:gone2.example ip4:192.0.2.1 -all"]}}
    )
    assert check_spf("192.0.2.1", "a@void.example", None, two).result == "pass"
    three = InMemoryDns(
        {
            "void.example": {
                "TXT": ["v=spf1 a:gone1.example a:gone2.example a:gone3.example ip4:192.0.2.1 -all"]
            }
        }
    )
    result = check_spf("192.0.2.1", "a@void.example", None, three)
    assert result.result == "permerror"
    assert "void" in result.reason.lower()


def test_exp_modifier_text_is_the_explanation_with_macros() -> None:
    """A fail carries the domain's exp= text, macros expanded."""
    dns = InMemoryDns(
        {
            "strict.example": {"TXT": ["v=spf1 -all exp=why.strict.example"]},
            "why.strict.example": {"TXT": ["%{i} may not send for %{d}"]},
        }
    )
    result = check_spf("192.0.2.44", "ceo@strict.example", None, dns)
    assert result.result == "fail"
    assert result.explanation == "192.0.2.44 may not send for strict.example"


def test_time_and_receiver_macros_use_the_given_values() -> None:
    """%{t} and %{r} in exp= text expand to the caller's time and host, reproducibly."""
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    dns = InMemoryDns(
        {
            "timed.example": {"TXT": ["v=spf1 -all exp=why.timed.example"]},
            "why.timed.example": {"TXT": ["refused at %{t} by %{r}"]},
        }
    )
    result = check_spf(
        "192.0.2.1", "a@timed.example", None, dns, now=now, receiver="in.helpdesk.example"
    )
    assert result.explanation == f"refused at {int(now.timestamp())} by in.helpdesk.example"


def test_internationalized_domain_is_checked_in_a_label_form() -> None:
    """A U-label sender domain (SMTPUTF8) is looked up as its A-label and reported so."""
    dns = InMemoryDns({"xn--bcher-kva.example": {"TXT": ["v=spf1 ip4:192.0.2.10 -all"]}})
    result = check_spf("192.0.2.10", "kontakt@bücher.example", None, dns)
    assert result.result == "pass"
    assert result.domain == "xn--bcher-kva.example"
    assert dns.calls[0] == ("xn--bcher-kva.example", "TXT")


def test_hyphenated_domain_and_mixed_case_sender() -> None:
    """Hyphenated domains and upper-case input are checked case-insensitively."""
    dns = InMemoryDns({"my-shop-eu.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]}})
    result = check_spf("192.0.2.200", "Orders@My-Shop-EU.example", None, dns)
    assert result.result == "pass"
    assert result.domain == "my-shop-eu.example"


def test_pyspf_globals_are_untouched_and_threads_do_not_mix_resolvers() -> None:
    """Concurrent checks with different resolvers each see only their own DNS."""
    before = pyspf.DNSLookup
    allow = InMemoryDns({"t.example": {"TXT": ["v=spf1 +all"]}})
    deny = InMemoryDns({"t.example": {"TXT": ["v=spf1 -all"]}})
    results: dict[str, list[str]] = {"allow": [], "deny": []}

    def work(label: str, dns: InMemoryDns) -> None:
        for _ in range(20):
            results[label].append(check_spf("192.0.2.1", "a@t.example", None, dns).result)

    threads = [
        threading.Thread(target=work, args=("allow", allow)),
        threading.Thread(target=work, args=("deny", deny)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results["allow"]) == {"pass"}
    assert set(results["deny"]) == {"fail"}
    assert pyspf.DNSLookup is before


def test_result_is_a_frozen_validated_value() -> None:
    """SpfResult is immutable and refuses a word that is not an SPF result."""
    result = check_spf("192.0.2.1", "a@gmail.com", None, _gmail_like())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.result = "pass"  # type: ignore[misc]
    with pytest.raises(ValueError):
        SpfResult(result="maybe", domain="x.example", identity="mailfrom", ip="192.0.2.1")  # type: ignore[arg-type]


_text = st.text(max_size=40)


@settings(max_examples=60, deadline=None)
@given(ip=_text, mail_from=st.none() | _text, helo=st.none() | _text, record=_text)
def test_no_input_crashes(ip: str, mail_from: str | None, helo: str | None, record: str) -> None:
    """Whatever the client, the sender or the published record, a result comes back."""
    dns = InMemoryDns({"fuzz.example": {"TXT": ["v=spf1 " + record]}})
    for sender in (mail_from, "x@fuzz.example"):
        result = check_spf(ip, sender, helo, dns)
        assert result.result in {
            "pass",
            "fail",
            "softfail",
            "neutral",
            "none",
            "temperror",
            "permerror",
        }
    fixed = check_spf("192.0.2.1", "x@fuzz.example", None, dns)
    assert fixed.domain == "fuzz.example"
