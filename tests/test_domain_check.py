"""Sending-domain checks: SPF include, DKIM key or CNAME, DMARC, and DNS failures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.domain_check import (
    CheckStatus,
    DkimSelector,
    SendingServiceConfig,
    check_sending_domain,
)
from inboxcore.domain.errors import ConfigurationError, InvalidValueError
from inboxcore.testing import InMemoryDns

KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu5Q0example0key0material0AB"
CONFIG = SendingServiceConfig(
    spf_include="_spf.inbox.example.net",
    dkim_selectors=(
        DkimSelector(selector="ib1", public_key=KEY),
        DkimSelector(selector="ib2", cname_target="ib2.acme._dkim.inbox.example.net"),
    ),
)
GOOD: dict[str, Any] = {
    "acme.example": {"TXT": ["v=spf1 include:_spf.google.com include:_spf.inbox.example.net ~all"]},
    "ib1._domainkey.acme.example": {"TXT": [f"v=DKIM1; k=rsa; p={KEY[:30]} {KEY[30:]}"]},
    "ib2._domainkey.acme.example": {"CNAME": ["ib2.acme._dkim.inbox.example.net."]},
    "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=quarantine; rua=mailto:d@acme.example"]},
}


def run(z: dict[str, Any], domain: str = "acme.example") -> Any:
    return check_sending_domain(domain, InMemoryDns(z), CONFIG)


def test_a_well_set_up_domain_passes_every_check() -> None:
    """SPF include, both DKIM selectors and DMARC published: the report passes."""
    report = run(GOOD)
    assert [c.check for c in report.checks] == ["spf", "dkim:ib1", "dkim:ib2", "dmarc"]
    assert report.passed
    assert report.records_to_publish() == ()


def test_missing_spf_asks_for_a_new_record() -> None:
    """Without SPF, the report says missing and gives the exact record to publish."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": ["google-site-verification=abc"]}
    spf = run(z).check("spf")
    assert spf.status is CheckStatus.MISSING
    assert spf.expected.type == "TXT"
    assert spf.expected.name == "acme.example"
    assert spf.expected.value == "v=spf1 include:_spf.inbox.example.net ~all"


def test_spf_without_include_suggests_the_merged_record() -> None:
    """An SPF record lacking the include is wrong; the suggestion keeps what it had."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": ["v=spf1 ip4:192.0.2.0/24 include:_spf.google.com -all"]}
    spf = run(z).check("spf")
    assert spf.status is CheckStatus.WRONG
    assert spf.found == ("v=spf1 ip4:192.0.2.0/24 include:_spf.google.com -all",)
    assert spf.expected.value == (
        "v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:_spf.inbox.example.net -all"
    )


def test_spf_include_found_through_nested_include_and_redirect() -> None:
    """The include may sit in a record the domain includes or redirects to."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": ["v=spf1 include:spf.acme.example ~all"]}
    z["spf.acme.example"] = {"TXT": ["v=spf1 redirect=_spf2.acme.example"]}
    z["_spf2.acme.example"] = {"TXT": ["v=spf1 include:_SPF.inbox.example.net. -all"]}
    assert run(z).check("spf").passed


def test_spf_include_after_all_or_with_fail_qualifier_does_not_count() -> None:
    """'-include:' and includes after 'all' never authorize the service."""
    for record in (
        "v=spf1 -include:_spf.inbox.example.net ~all",
        "v=spf1 ~all include:_spf.inbox.example.net",
    ):
        z = dict(GOOD)
        z["acme.example"] = {"TXT": [record]}
        assert run(z).check("spf").status is CheckStatus.WRONG


def test_spf_include_loops_terminate() -> None:
    """Records that include each other end in a verdict, not a hang."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": ["v=spf1 include:a.acme.example ~all"]}
    z["a.acme.example"] = {"TXT": ["v=spf1 include:acme.example include:a.acme.example ~all"]}
    assert run(z).check("spf").status is CheckStatus.WRONG


def test_two_spf_records_are_wrong() -> None:
    """Two v=spf1 records are a permerror for receivers: wrong."""
    z = dict(GOOD)
    z["acme.example"] = {
        "TXT": ["v=spf1 include:_spf.inbox.example.net ~all", "v=spf1 include:x.example ~all"]
    }
    spf = run(z).check("spf")
    assert spf.status is CheckStatus.WRONG
    assert "merge" in spf.message


def test_dkim_key_missing_wrong_or_revoked() -> None:
    """A missing key is missing; another key or an empty p= is wrong."""
    z = dict(GOOD)
    del z["ib1._domainkey.acme.example"]
    check = run(z).check("dkim:ib1")
    assert check.status is CheckStatus.MISSING
    assert check.expected.name == "ib1._domainkey.acme.example"
    assert check.expected.value == f"v=DKIM1; k=rsa; p={KEY}"
    z["ib1._domainkey.acme.example"] = {"TXT": ["v=DKIM1; k=rsa; p=MIIBotherkey"]}
    assert run(z).check("dkim:ib1").status is CheckStatus.WRONG
    z["ib1._domainkey.acme.example"] = {"TXT": ["v=DKIM1; p="]}
    revoked = run(z).check("dkim:ib1")
    assert revoked.status is CheckStatus.WRONG
    assert "revoked" in revoked.message


def test_dkim_cname_missing_or_pointing_elsewhere() -> None:
    """A CNAME selector must point exactly to the host's target."""
    z = dict(GOOD)
    del z["ib2._domainkey.acme.example"]
    check = run(z).check("dkim:ib2")
    assert check.status is CheckStatus.MISSING
    assert check.expected.type == "CNAME"
    assert check.expected.value == "ib2.acme._dkim.inbox.example.net"
    z["ib2._domainkey.acme.example"] = {"CNAME": ["ib2.elsewhere.example"]}
    assert run(z).check("dkim:ib2").status is CheckStatus.WRONG
    z["ib2._domainkey.acme.example"] = {"TXT": [f"v=DKIM1; p={KEY}"]}
    assert run(z).check("dkim:ib2").status is CheckStatus.WRONG


def test_dmarc_missing_inherited_or_invalid() -> None:
    """DMARC may be inherited from a parent domain; a record without policy is wrong."""
    z = dict(GOOD)
    del z["_dmarc.acme.example"]
    assert run(z).check("dmarc").status is CheckStatus.MISSING
    assert run(z).check("dmarc").expected.value == "v=DMARC1; p=none"
    z["mail.acme.example"] = {"TXT": ["v=spf1 include:_spf.inbox.example.net -all"]}
    z["ib1._domainkey.mail.acme.example"] = z["ib1._domainkey.acme.example"]
    z["ib2._domainkey.mail.acme.example"] = z["ib2._domainkey.acme.example"]
    z["_dmarc.acme.example"] = {"TXT": ["v=DMARC1; p=reject"]}
    sub = run(z, "mail.acme.example")
    assert sub.passed
    assert "inherited from acme.example" in sub.check("dmarc").message
    z["_dmarc.acme.example"] = {"TXT": ["v=DMARC1; rua=mailto:x@acme.example"]}
    assert run(z).check("dmarc").status is CheckStatus.WRONG


@pytest.mark.parametrize(
    ("failing", "check"),
    [
        ("acme.example", "spf"),
        ("ib1._domainkey.acme.example", "dkim:ib1"),
        ("ib2._domainkey.acme.example", "dkim:ib2"),
        ("_dmarc.acme.example", "dmarc"),
    ],
)
def test_dns_failures_are_temporary_never_missing(failing: str, check: str) -> None:
    """A timeout or SERVFAIL makes its check temporary_failure, with the record still given."""
    dns = InMemoryDns(GOOD)
    dns.fail(failing, "SERVFAIL")
    report = check_sending_domain("acme.example", dns, CONFIG)
    result = report.check(check)
    assert result.status is CheckStatus.TEMPORARY_FAILURE
    assert result.expected.name
    assert report.temporary
    assert not report.passed
    others = [c for c in report.checks if c.check != check]
    assert all(c.passed for c in others)


def test_nested_spf_timeout_is_temporary() -> None:
    """A timeout while following an include is temporary too."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": ["v=spf1 include:spf.acme.example ~all"]}
    dns = InMemoryDns(z)
    dns.fail("spf.acme.example", "TIMEOUT")
    spf = check_sending_domain("acme.example", dns, CONFIG).check("spf")
    assert spf.status is CheckStatus.TEMPORARY_FAILURE


def test_domain_is_normalized_and_bad_domains_refused() -> None:
    """Upper case and trailing dots are fine; garbage is a ConfigurationError."""
    assert run(GOOD, "ACME.Example.").domain == "acme.example"
    for bad in ("", "not a domain", "localhost", "[192.0.2.1]"):
        with pytest.raises(ConfigurationError) as info:
            run(GOOD, bad)
        assert info.value.problems[0].code == "sending_domain.invalid"


def test_selector_config_needs_exactly_one_of_key_and_cname() -> None:
    """A DKIM selector is either a key or a CNAME, not both or neither."""
    with pytest.raises(InvalidValueError):
        DkimSelector(selector="s1")
    with pytest.raises(InvalidValueError):
        DkimSelector(selector="s1", public_key="abc", cname_target="x.example")


@settings(max_examples=80)
@given(st.lists(st.text(max_size=60), max_size=3), st.lists(st.text(max_size=60), max_size=3))
def test_arbitrary_records_never_crash_the_check(spf: list[str], dmarc: list[str]) -> None:
    """Whatever TXT garbage a domain publishes, the check returns a report."""
    z = dict(GOOD)
    z["acme.example"] = {"TXT": spf}
    z["_dmarc.acme.example"] = {"TXT": dmarc}
    report = run(z)
    assert {c.check for c in report.checks} == {"spf", "dkim:ib1", "dkim:ib2", "dmarc"}
