"""EmailAddress: parsing, normalisation, comparison, plus-tags, rejection of garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inboxcore.domain.addresses import (
    EmailAddress,
    decode_rfc2047,
    domain_to_ascii,
    domain_to_unicode,
    normalize_domain,
    parse_address_list,
    recover_mailbox,
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


# --- the structure is read before the words are decoded (issue 12) ------------------------------


def test_encoded_word_naming_an_address_is_only_a_name() -> None:
    """``=?utf-8?q?ceo=40bigbank=2Eexample?= <attacker@...>`` is one mailbox, the attacker's:
    an encoded word is never an address (RFC 2047 section 5)."""
    found = parse_address_list("=?utf-8?q?ceo=40bigbank=2Eexample?= <attacker@evil.example>")
    assert [(a.display_name, a.address) for a in found] == [
        ("ceo@bigbank.example", "attacker@evil.example")
    ]


def test_the_real_ceo_with_an_encoded_name_is_still_the_ceo() -> None:
    """The legitimate twin: an encoded name in front of the real address."""
    found = parse_address_list("=?utf-8?q?Chief_Executive?= <ceo@bigbank.example>")
    assert [(a.display_name, a.address) for a in found] == [
        ("Chief Executive", "ceo@bigbank.example")
    ]


def test_encoded_line_break_in_a_name_adds_no_recipient() -> None:
    """``Bob\\r\\nBcc: x@y`` encoded in a Cc name stays one name without the line break."""
    found = parse_address_list("=?utf-8?q?Bob=0D=0ABcc=3A_x=40y.example?= <bob@customer.example>")
    assert [(a.display_name, a.address) for a in found] == [
        ("Bob Bcc: x@y.example", "bob@customer.example")
    ]


def test_two_real_cc_addresses_are_both_kept() -> None:
    """The legitimate twin: a Cc list of two named mailboxes gives both."""
    found = parse_address_list("=?utf-8?q?Bob?= <bob@customer.example>, x@y.example")
    assert [a.address for a in found] == ["bob@customer.example", "x@y.example"]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("=?iso-8859-1?Q?=C5berg=2C_Sven?= <sven@x.example>", "Åberg, Sven"),
        ("=?utf-8?Q?Smith,_John?= <john@x.example>", "Smith, John"),  # a raw comma inside
        ("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?= <j@x.example>", "Jörg Müller"),
        ('"=?utf-8?q?J=C3=B6rg?=" <j@x.example>', "Jörg"),  # quoted, as some clients send
        ("j@x.example (=?utf-8?q?J=C3=B6rg?=)", "Jörg"),  # a comment names the mailbox
        ('"Doe, \\"JD\\"" <j@x.example>', 'Doe, "JD"'),
    ],
)
def test_encoded_names_with_commas_decode_whole(header: str, name: str) -> None:
    """A decoded comma belongs to the name: "Åberg, Sven" is one mailbox, not "Sven"."""
    (found,) = parse_address_list(header)
    assert found.display_name == name


@pytest.mark.parametrize(
    ("header", "addresses"),
    [
        (
            "Team: a@x.example, b@y.example;, c@z.example",
            ["a@x.example", "b@y.example", "c@z.example"],
        ),
        ("undisclosed-recipients:;", []),
        ("<@relay.example,@other.example:j@x.example>", ["j@x.example"]),
        ("mailto:j@x.example", ["j@x.example"]),
        ("john . smith @ x.example", ["john.smith@x.example"]),
        ("Name <j@x.example", ["j@x.example"]),
        ("j@x.example, , k@y.example", ["j@x.example", "k@y.example"]),
        ("Jo <j@x.example> <k@y.example>", ["j@x.example", "k@y.example"]),
        ("x@y.example <x@y.example>", ["x@y.example"]),
        ("j@[192.0.2.1]", ["j@[192.0.2.1]"]),
        ('"j doe"@x.example', ['"j doe"@x.example']),
        ("a b@x.example, a@b@c.example, John Smith john@x.example", []),
        ("a@x.example\r\n\t(folded), b@y.example", ["a@x.example", "b@y.example"]),
    ],
)
def test_address_list_forms_real_mail_uses(header: str, addresses: list[str]) -> None:
    """Groups, obsolete routes and spacing, unclosed brackets, empty items: as before."""
    assert [a.address for a in parse_address_list(header)] == addresses


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_deeply_nested_comments_end_in_a_value(depth: int) -> None:
    """Thousands of nested ``(`` (a RecursionError in the standard library's parser): an
    unclosed comment swallows the rest; a closed one is skipped."""
    assert parse_address_list("(" * depth + "a@x.example") == ()
    closed = "(" * depth + "x" + ")" * depth + " a@x.example"
    assert [a.address for a in parse_address_list(closed)] == ["a@x.example"]
    with pytest.raises(InvalidEmailAddress):
        EmailAddress.parse("(" * depth + "a@x.example")


def test_a_huge_address_list_parses_in_one_pass() -> None:
    """A header of 20,000 addresses (850 KB; such lines took over 20 s) is read to its end in one
    pass, the first MAX_ADDRESSES of them kept, names decoded."""
    header = ", ".join(f"=?utf-8?q?User_{i}?= <u{i}@x.example>" for i in range(20_000))
    found = parse_address_list(header)
    assert len(found) == 1_000
    assert (found[-1].display_name, found[-1].address) == ("User 999", "u999@x.example")


@pytest.mark.parametrize(
    "header",
    [
        "a@" + "x" * 1_000_000 + ".example",  # a megabyte domain
        "a@" + "ü" * 1_000_000 + ".example",  # ... that IDNA would map
        "a@" + "\u00ad" * 1_000_000 + "x.example",  # ... of characters UTS #46 drops
        "x" * 1_000_000 + "@x.example",  # a megabyte local part
        '"' + "x" * 1_000_000 + " <a@x.example>",  # an unclosed quote to the end
        "=?utf-8?q?x?= " * 100_000 + "<a@x.example>",  # a name of 100,000 words
    ],
)
def test_megabyte_headers_end_in_an_address_or_none(header: str) -> None:
    """A huge domain, local part or name gives a value; only the sane part survives."""
    found = parse_address_list(header)
    assert [a.address for a in found] in ([], ["a@x.example"])


@pytest.mark.parametrize(
    "header",
    [
        "=?utf-8?b?QUJDRA=x?= <ada@customer.example>",
        "=?undefined?q?x?= <ada@customer.example>",
        "=?utf\x00-8?q?x?= <ada@customer.example>",
        "=?iso-8859-1é?q?x?= <ada@customer.example>",
    ],
)
def test_malformed_encoded_names_keep_the_address(header: str) -> None:
    """The fuzz findings: a broken encoded word in the name still yields the mailbox."""
    (found,) = parse_address_list(header)
    assert found.address == "ada@customer.example"
    assert found.display_name
    if "\x00" in header:  # parse() refuses a NUL outright; the list parser skips past it
        with pytest.raises(InvalidEmailAddress):
            EmailAddress.parse(header)
    else:
        assert EmailAddress.parse(header) == found


@given(st.text(alphabet=st.sampled_from('()<>@,;:."\\[] \r\nabé=?qQB_'), max_size=60))
def test_parse_address_list_never_raises(text: str) -> None:
    """Any jumble of specials, quotes, comments and encoded-word pieces gives a tuple."""
    for address in parse_address_list(text):
        assert "@" in address.address


@given(st.lists(email_addresses(), min_size=1, max_size=4))
def test_a_list_of_formatted_addresses_parses_back(addresses: list[EmailAddress]) -> None:
    """Joining header forms with commas and parsing gives the same mailboxes and names."""
    back = parse_address_list(", ".join(a.formatted() for a in addresses))
    assert back == tuple(addresses)
    assert [a.display_name for a in back] == [a.display_name for a in addresses]


def test_display_names_hold_no_control_characters() -> None:
    """A name given with controls, or decoded into them, is kept with spaces instead."""
    assert EmailAddress(local="a", domain="x.example", display_name="A\x00\r\nB").display_name == (
        "A B"
    )
    (found,) = parse_address_list("=?utf-8?q?A=00=1B=0D=0AB?= <a@x.example>")
    assert found.display_name == "A B"


def test_a_name_that_reads_like_an_encoded_word_survives_formatting() -> None:
    """Names are decoded once, by the parser: a literal ``=?...?=`` name round-trips."""
    literal = EmailAddress(local="a", domain="x.example", display_name="=?utf-8?q?x?=")
    assert literal.display_name == "=?utf-8?q?x?="
    assert EmailAddress.parse(literal.formatted()).display_name == "=?utf-8?q?x?="


def test_quoted_local_part_with_control_characters_is_rejected() -> None:
    """A NUL or TAB inside a quoted local part would be stored; it is not an address."""
    for local in ('"a\x00b"', '"a\tb"', '"a\\\x01b"'):
        with pytest.raises(InvalidEmailAddress):
            EmailAddress(local=local, domain="x.example")
    assert EmailAddress(local='"a b"', domain="x.example").local == '"a b"'


def test_utf8_local_part_with_a_name_formats() -> None:
    """An internationalized address (RFC 6532) with a display name has a header form."""
    address = EmailAddress.parse("Støtte <støtte@bücher.example>")
    formatted = address.formatted()
    assert formatted.startswith("=?utf-8?")
    assert formatted.endswith("?= <støtte@xn--bcher-kva.example>")
    assert EmailAddress.parse(address.formatted()).display_name == "Støtte"


# --- IDNA 2008 ----------------------------------------------------------------------------------


def test_sharp_s_domain_is_not_another_domain() -> None:
    """UTS #46 non-transitional + IDNA 2008: ``straße.de`` is ``xn--strae-oqa.de``; IDNA 2003
    (the standard library's codec) made it ``strasse.de``, somebody else's domain."""
    a = EmailAddress.parse("info@Straße.DE")
    assert a.domain == "xn--strae-oqa.de"
    assert a != EmailAddress.parse("info@strasse.de")
    assert a == EmailAddress.parse("info@xn--strae-oqa.de")


def test_domains_are_stored_as_a_labels_and_shown_as_u_labels() -> None:
    """One stored form (A-labels, what the key uses); U-labels are for display only."""
    a = EmailAddress.parse("Støtte@BÜCHER.example")
    b = EmailAddress.parse("støtte@xn--bcher-kva.example")
    assert (a.address, a.key) == ("Støtte@xn--bcher-kva.example", "støtte@xn--bcher-kva.example")
    assert a.key == b.key
    assert a == b
    assert (a.unicode_domain, a.display_address) == ("bücher.example", "Støtte@bücher.example")
    assert domain_to_unicode("mail.xn--strae-oqa.de") == "mail.straße.de"
    assert domain_to_unicode("xn--zz.example") == "xn--zz.example"


def test_uts46_mapping_applies_before_idna() -> None:
    """Full-width letters and ideographic full stops map to their plain forms."""
    assert normalize_domain("ＥＸＡＭＰＬＥ。com") == "example.com"
    assert normalize_domain("ex\u00adample.com") == "example.com"


@pytest.mark.parametrize(
    "domain",
    [
        "xn--zz.example",  # an A-label that decodes to nothing valid
        "xn--.example",
        "\u200d.example",  # a joiner with no context
        "a\u0000b.example",
        "ab\u202ecd.example",  # a bidi override
        "exa mple.example",
        "😀😀.example",  # IDNA 2008 disallows emoji (IDNA 2003 allowed them)
        "ü" * 64 + ".example",  # a label too long once encoded
    ],
)
def test_invalid_idns_are_a_typed_error(domain: str) -> None:
    """Not valid IDNA 2008: InvalidEmailAddress with a reason, never a UnicodeError."""
    with pytest.raises(InvalidEmailAddress) as info:
        normalize_domain(domain)
    assert info.value.reason
    assert domain_to_ascii(domain) is None
    assert parse_address_list(f"a@{domain}") == ()


def test_dns_names_may_hold_underscores_mail_domains_may_not() -> None:
    """``_dmarc`` and DKIM selectors are DNS names; a mail domain is a host name."""
    assert (
        domain_to_ascii("Sel_1._domainkey.Bücher.example.")
        == "sel_1._domainkey.xn--bcher-kva.example"
    )
    with pytest.raises(InvalidEmailAddress):
        normalize_domain("sel_1.example")
    assert domain_to_ascii("x" * 2_000_000) is None


def test_a_megabyte_mailbox_is_unusable_and_held_in_small_memory() -> None:
    """A domain of a million labels is no address; its tokens are not all kept (a megabyte
    ``a.a.a...`` once held a hundred times its size), and the next mailbox is still read."""
    import tracemalloc

    value = "ada@" + "a." * 500_000 + "example, bob@ok.example"
    tracemalloc.start()
    try:
        found = parse_address_list(value)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a.address for a in found] == ["bob@ok.example"]
    assert peak < 4 * len(value)


def test_an_address_list_keeps_its_first_thousand_addresses() -> None:
    """A header of 150,000 addresses keeps the first MAX_ADDRESSES, in order."""
    from inboxcore.domain.addresses import MAX_ADDRESSES

    found = parse_address_list(", ".join(f"u{i}@x.example" for i in range(150_000)))
    assert len(found) == MAX_ADDRESSES
    assert found[0].address == "u0@x.example"
    assert found[-1].address == f"u{MAX_ADDRESSES - 1}@x.example"


@pytest.mark.parametrize(
    ("raw", "address", "name"),
    [
        ("Test test@example.com", "test@example.com", "Test"),
        ('"x" <local part with spaces@example.com>', '"local part with spaces"@example.com', "x"),
        ('"=?GB2312?B?1cXI/Q==?=" <>', None, "张三"),
        ("MAILER-DAEMON", None, "MAILER-DAEMON"),
        ("", None, None),
    ],
)
def test_recover_mailbox_reads_what_a_person_reads(
    raw: str, address: str | None, name: str | None
) -> None:
    found, found_name = recover_mailbox(raw)
    assert (found.address if found else None, found_name) == (address, name)
    assert not parse_address_list(raw)  # each is beyond RFC 5322: only recovery reads it
