"""The static resolver keeps the DNS port's contract: () for absence, an error for failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.domain.errors import DnsTemporaryError, InvalidValueError
from inboxcore.domain.model import MxRecord

ZONE = {
    "Example.COM.": {
        "TXT": ["v=spf1 ip4:192.0.2.0/24 -all"],
        "A": ["192.0.2.1"],
        "MX": ["10 mx.example.com."],
    },
    "long.example": {"TXT": ["k=rsa; p=" + "A" * 600]},
    "split.example": {"TXT": [["v=spf1 ", "-all"]]},
    "broken.example": "SERVFAIL",
    "slow.example": "TIMEOUT",
}


def test_answers_records_case_insensitively_with_or_without_dot() -> None:
    """Names match whatever their case and trailing dot."""
    dns = StaticResolver(ZONE)
    assert dns.a("example.com") == ("192.0.2.1",)
    assert dns.a("EXAMPLE.com.") == ("192.0.2.1",)
    assert dns.mx("example.com") == (MxRecord(preference=10, exchange="mx.example.com"),)
    assert dns.txt("example.com") == ((b"v=spf1 ip4:192.0.2.0/24 -all",),)


def test_long_txt_is_split_into_255_octet_strings() -> None:
    """A TXT value longer than 255 octets becomes several character-strings."""
    (record,) = StaticResolver(ZONE).txt("long.example")
    assert [len(s) for s in record] == [255, 255, len("k=rsa; p=") + 600 - 510]
    assert b"".join(record) == ("k=rsa; p=" + "A" * 600).encode()
    assert StaticResolver(ZONE).txt("split.example") == ((b"v=spf1 ", b"-all"),)


def test_nxdomain_and_nodata_are_empty() -> None:
    """An absent name or type answers () and never raises."""
    dns = StaticResolver(ZONE)
    assert dns.txt("absent.example") == ()
    assert dns.aaaa("example.com") == ()
    assert dns.ptr("1.2.0.192.in-addr.arpa") == ()


@pytest.mark.parametrize("name", ["broken.example", "slow.example"])
def test_failures_raise_temporary_error(name: str) -> None:
    """SERVFAIL and TIMEOUT raise DnsTemporaryError for every type, never ()."""
    dns = StaticResolver(ZONE)
    for lookup in (dns.txt, dns.a, dns.aaaa, dns.mx, dns.ptr, dns.cname):
        with pytest.raises(DnsTemporaryError) as info:
            lookup(name)
        assert info.value.name == name


def test_calls_are_recorded_and_failures_injectable() -> None:
    """calls lists lookups; fail() turns a name into a timeout."""
    dns = StaticResolver(ZONE)
    dns.txt("example.com")
    dns.fail("example.com", "TIMEOUT")
    with pytest.raises(DnsTemporaryError):
        dns.a("example.com")
    assert dns.calls == [("example.com", "TXT"), ("example.com", "A")]


def test_zone_file_loads_and_bad_files_are_typed_errors(tmp_path: Path) -> None:
    """from_file reads the JSON zone; unreadable or malformed files raise InvalidValueError."""
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(ZONE))
    assert StaticResolver.from_file(path).a("example.com") == ("192.0.2.1",)
    (tmp_path / "bad.json").write_text("[1, 2]")
    for bad in (tmp_path / "bad.json", tmp_path / "missing.json"):
        with pytest.raises(InvalidValueError):
            StaticResolver.from_file(bad)
    with pytest.raises(InvalidValueError):
        StaticResolver({"x.example": {"SRV": ["0 0 25 mx"]}})
    with pytest.raises(InvalidValueError):
        StaticResolver({"x.example": "MAYBE"})


def test_cname_is_followed_like_a_recursive_resolver() -> None:
    """Other types follow a CNAME (to a failure too); a loop is no answer, not a failure."""
    dns = StaticResolver(
        {
            "s1._domainkey.acme.example": {"CNAME": ["s1.dkim.esp.example."]},
            "s1.dkim.esp.example": {"TXT": ["v=DKIM1; p=abc"]},
            "a.example": {"CNAME": ["b.example"]},
            "b.example": {"CNAME": ["a.example"]},
            "dead.example": {"CNAME": ["broken.example"]},
            "broken.example": "SERVFAIL",
        }
    )
    assert dns.txt("s1._domainkey.acme.example") == ((b"v=DKIM1; p=abc",),)
    assert dns.cname("s1._domainkey.acme.example") == ("s1.dkim.esp.example",)
    assert dns.a("s1._domainkey.acme.example") == ()
    assert dns.txt("a.example") == ()
    with pytest.raises(DnsTemporaryError):
        dns.txt("dead.example")
