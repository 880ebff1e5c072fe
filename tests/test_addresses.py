"""EmailAddress: parsing, normalisation, comparison, plus-tags, rejection of garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inboxcore.domain.addresses import (
    EmailAddress,
    decode_rfc2047,
    normalize_domain,
    parse_address_list,
)
from inboxcore.domain.errors import InvalidEmailAddress
from tests.strategies import email_addresses


def test_parses_display_name_and_addr_spec() -> None:
    """'Name <local@domain>' yields both parts."""
    a = EmailAddress.parse('"Doe, Jane" <Jane.Doe@Example.COM>')
    assert (a.local, a.domain, a.display_name) == ("Jane.Doe", "example.com", "Doe, Jane")


def test_decodes_rfc2047_display_name() -> None:
    """Encoded words in the display name are decoded."""
    a = EmailAddress.parse("=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.de>")
    assert a.display_name == "Jörg Müller"


def test_unknown_charset_falls_back_instead_of_failing() -> None:
    """A display name in an unknown charset still decodes (as UTF-8, then Latin-1)."""
    assert decode_rfc2047("=?x-unknown?q?J=C3=B6rg?=") == "Jörg"
    assert decode_rfc2047("=?utf-8?q?J=F6rg?=") == "Jörg"  # lying charset: Latin-1 bytes


def test_idn_domain_becomes_lowercase_a_labels() -> None:
    """Unicode domains are stored as IDNA A-labels in lowercase."""
    a = EmailAddress.parse("kontakt@BÜCHER.example")
    assert a.domain == "xn--bcher-kva.example"
    assert a == EmailAddress.parse("kontakt@xn--bcher-kva.example")


def test_local_part_is_preserved_but_compared_case_insensitively() -> None:
    """The local part keeps its case; equality and key ignore it."""
    a = EmailAddress.parse("John.Smith@example.com")
    assert a.local == "John.Smith"
    assert a == EmailAddress.parse("john.smith@EXAMPLE.com")
    assert hash(a) == hash(EmailAddress.parse("JOHN.SMITH@example.com"))
    assert a.key == "john.smith@example.com"


def test_display_name_does_not_affect_equality() -> None:
    """Two spellings of the same mailbox are equal."""
    assert EmailAddress.parse("A <a@x.org>") == EmailAddress.parse("B <a@x.org>")


def test_plus_tags_are_recognised() -> None:
    """'base+tag' exposes the tag and the untagged address."""
    a = EmailAddress.parse("support+conv-42@acme.example")
    assert a.tag == "conv-42"
    assert a.untagged.address == "support@acme.example"
    assert a.untagged.with_tag("x").address == "support+x@acme.example"
    assert EmailAddress.parse("+leading@x.org").tag is None
    assert EmailAddress.parse("plain@x.org").untagged.address == "plain@x.org"


def test_quoted_local_part_is_kept() -> None:
    """A quoted local part is valid and kept as written."""
    assert EmailAddress.parse('"john doe"@example.com').local == '"john doe"'


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "no-at-sign",
        "a@",
        "@example.com",
        "a b@example.com",
        "a@-bad-.example",
        "a@exa mple.com",
        "a@example..com",
        "first@x.org, second@y.org",
        "a@x.org\r\nBcc: victim@y.org",
        "a" * 65 + "@example.com",
        "a@" + ".".join(["b" * 63] * 5),
        "a@xn--.example",
    ],
)
def test_garbage_is_rejected_with_a_typed_error(garbage: str) -> None:
    """Anything that is not one usable address raises InvalidEmailAddress (a ValueError)."""
    with pytest.raises(InvalidEmailAddress) as info:
        EmailAddress.parse(garbage)
    assert isinstance(info.value, ValueError)
    assert info.value.reason


def test_non_string_is_rejected() -> None:
    """parse() of a non-string raises InvalidEmailAddress, not AttributeError."""
    with pytest.raises(InvalidEmailAddress):
        EmailAddress.parse(None)  # type: ignore[arg-type]


def test_formatted_encodes_non_ascii_names() -> None:
    """The header form RFC 2047-encodes a non-ASCII display name."""
    text = EmailAddress.parse("Jörg <j@example.de>").formatted()
    assert text.endswith("<j@example.de>")
    assert "=?utf-8?" in text
    assert EmailAddress.parse(text).display_name == "Jörg"


def test_address_list_skips_garbage() -> None:
    """parse_address_list keeps the usable addresses of one or more headers."""
    found = parse_address_list(['a@x.org, "B" <b@y.org>, not an address', "c@z.org"])
    assert [a.address for a in found] == ["a@x.org", "b@y.org", "c@z.org"]


def test_normalize_domain_accepts_literal_and_trailing_dot() -> None:
    """Domain literals pass; a trailing root dot is dropped."""
    assert normalize_domain("[192.0.2.1]") == "[192.0.2.1]"
    assert normalize_domain("Example.COM.") == "example.com"


@given(email_addresses())
def test_parse_of_formatted_is_identity(address: EmailAddress) -> None:
    """Parsing an address's header form gives back the same address and name."""
    back = EmailAddress.parse(address.formatted())
    assert back == address
    assert back.display_name == address.display_name


@given(email_addresses())
def test_normalisation_is_idempotent(address: EmailAddress) -> None:
    """Re-normalising a normalised address changes nothing."""
    again = EmailAddress(
        local=address.local, domain=address.domain, display_name=address.display_name
    )
    assert again.domain == address.domain
    assert again.display_name == address.display_name


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    """Any string either parses or raises InvalidEmailAddress."""
    with contextlib.suppress(InvalidEmailAddress):
        EmailAddress.parse(text)
