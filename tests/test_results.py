"""Our Authentication-Results field, written with authres, and the message as a host shows it."""

from __future__ import annotations

import re

import attrs
import authres
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.arc import parse_authentication_results
from inboxcore.auth.dkim_verify import DkimSignatureResult
from inboxcore.auth.results import (
    RENAMED_HEADER,
    claims_authserv_id,
    display_source,
    incoming_results,
    results_header,
)
from inboxcore.auth.spf import SpfResult
from inboxcore.mail.parsing import parse_message

DKIM = DkimSignatureResult(
    domain="customer.example",
    selector="s2026",
    algorithm="rsa-sha256",
    result="pass",
    code="dkim.pass",
    reason="ok",
    header_b="PqBP51+l",
)


def _spf(domain: str) -> SpfResult:
    return SpfResult(result="pass", domain=domain, identity="mailfrom", ip="192.0.2.1")


def test_our_field_reads_back_with_our_parser_and_with_authres() -> None:
    """What we write is RFC 8601 that both parsers read to the same results."""
    value = results_header("inboxcore", _spf("acme.example"), [DKIM], None, None)
    assert value == (
        "inboxcore; spf=pass smtp.mailfrom=acme.example; "
        "dkim=pass header.d=customer.example header.s=s2026 header.b=PqBP51+l; "
        "arc=none; dmarc=none"
    )
    ours = parse_authentication_results(value)
    assert ours is not None
    assert [(r.method, r.result) for r in ours.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("arc", "none"),
        ("dmarc", "none"),
    ]
    theirs = authres.AuthenticationResultsHeader.parse_value(value)
    assert theirs.authserv_id == "inboxcore"
    assert [(r.method, r.result) for r in theirs.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("arc", "none"),
        ("dmarc", "none"),
    ]


@pytest.mark.parametrize("domain", ["not an; address", 'quote"inside', "semi;colon"])
def test_values_that_need_quoting_are_quoted(domain: str) -> None:
    """A hostile envelope sender cannot add a result or break the field: it is quoted."""
    value = results_header("inboxcore", _spf(domain), [], None, None)
    parsed = parse_authentication_results(value)
    assert parsed is not None
    assert [r.method for r in parsed.results] == ["spf", "dkim", "arc", "dmarc"]
    assert parsed.spf[0].get("smtp.mailfrom") == domain


@pytest.mark.parametrize(
    ("selector", "written"),
    [
        ('x@"', '"x@\\""'),
        ("x@y (dmarc=pass", '"x@y (dmarc=pass"'),
        ("x@y;dmarc=pass", '"x@y;dmarc=pass"'),
        ("a b@c", '"a b@c"'),
    ],
)
def test_a_value_with_an_at_sign_is_quoted_unless_it_is_an_address(
    selector: str, written: str
) -> None:
    """authres leaves any value with ``@`` bare; ours quotes it unless it is an address, so a
    hostile selector cannot swallow the results after it."""
    value = results_header("inboxcore", None, [attrs.evolve(DKIM, selector=selector)], None, None)
    assert f"header.s={written} " in value
    parsed = parse_authentication_results(value)
    assert parsed is not None
    assert [r.method for r in parsed.results] == ["spf", "dkim", "arc", "dmarc"]
    assert parsed.dkim[0].get("header.s") == selector


@pytest.mark.parametrize("address", ["ann@customer.example", "@customer.example", "bounce+x=y@a.b"])
def test_an_address_stays_bare(address: str) -> None:
    """The legitimate twin: an address is written as RFC 8601's pvalue allows, unquoted."""
    value = results_header("inboxcore", _spf(address), [], None, None)
    assert value.startswith(f"inboxcore; spf=pass smtp.mailfrom={address}; dkim=none")


def test_a_folded_or_controlled_value_stays_on_one_line() -> None:
    """A refused signature's ``d=`` and ``s=`` as written (folded, a NUL inside) become one
    printable line: nothing in our stored field can start a new header line where it is shown."""
    refused = attrs.evolve(
        DKIM, domain="evil.example\r\n\tx-injected: 1", selector="s\x00l", result="permerror"
    )
    value = results_header("inboxcore", None, [refused], None, None)
    assert value == (
        'inboxcore; spf=none; dkim=permerror header.d="evil.example x-injected: 1" '
        'header.s="s\ufffdl" header.b=PqBP51+l; arc=none; dmarc=none'
    )


@given(st.text(max_size=40), st.text(max_size=20))
def test_any_value_gives_one_printable_line_with_every_method(domain: str, selector: str) -> None:
    """Whatever the envelope and the signature say, our field is one line without control
    characters, and reads back with one result per method and the values in their place."""
    dkim = attrs.evolve(DKIM, domain=domain, selector=selector)
    value = results_header("inboxcore", _spf(domain), [dkim], None, None)
    assert not _CONTROL.search(value)
    parsed = parse_authentication_results(value)
    assert parsed is not None
    assert [r.method for r in parsed.results] == ["spf", "dkim", "arc", "dmarc"]
    expected = _CONTROL.sub("\ufffd", " ".join(domain.split()))
    assert parsed.spf[0].get("smtp.mailfrom") == (expected or None)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


RAW = (
    b"Authentication-Results: inboxcore;\r\n\tdkim=pass header.d=bank.example\r\n"
    b"Authentication-Results: mx.edge.example; spf=pass smtp.mailfrom=x.example\r\n"
    b"authentication-results: INBOXCORE; dmarc=pass header.from=bank.example\r\n"
    b"From: Ann <ann@customer.example>\r\nSubject: hi\r\n\r\n"
    b"Authentication-Results: inboxcore; in the body stays\r\n"
)


def test_forged_fields_claiming_our_id_are_renamed_and_ours_is_on_top() -> None:
    """Every field claiming ``inboxcore`` (folded, any case) is renamed; an upstream MTA's field
    and the body are untouched."""
    shown = display_source(RAW, authserv_id="inboxcore", ours="inboxcore; dkim=none")
    head, body = shown.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"Authentication-Results: inboxcore; dkim=none"
    assert lines[1] == f"{RENAMED_HEADER}: inboxcore;".encode()
    assert lines[2] == b"\tdkim=pass header.d=bank.example"
    assert lines[3] == b"Authentication-Results: mx.edge.example; spf=pass smtp.mailfrom=x.example"
    assert lines[4].startswith(f"{RENAMED_HEADER}: INBOXCORE;".encode())
    assert body == b"Authentication-Results: inboxcore; in the body stays\r\n"


def test_a_message_without_our_result_is_only_cleaned() -> None:
    """No stored result (an old record): nothing is added on top, forged fields still renamed."""
    shown = display_source(RAW.replace(b"\r\n", b"\n"), authserv_id="inboxcore", ours=None)
    assert shown.startswith(f"{RENAMED_HEADER}: inboxcore;".encode())
    assert shown.count(b"\nAuthentication-Results: ") == 2  # upstream header and body line


@pytest.mark.parametrize(
    "field",
    [
        b'Authentication-Results: "inboxcore"; dmarc=pass header.from=bank.example',
        b'Authentication-Results: "inbox\\core"; dmarc=pass header.from=bank.example',
        b"Authentication-Results: (our edge) inboxcore; dmarc=pass header.from=bank.example",
        b"Authentication-Results: inboxcore 1; dmarc=pass header.from=bank.example",
        b"Authentication-Results:inboxcore;dmarc=pass header.from=bank.example",
        b"Authentication-Results : inboxcore; dmarc=pass header.from=bank.example",
        b"Authentication-Results: inboxcore; none",
    ],
)
def test_every_spelling_of_a_claim_of_our_id_is_renamed(field: bytes) -> None:
    """Quoted, commented, versioned or unspaced: a field claiming ``inboxcore`` is renamed."""
    shown = display_source(
        field + b"\r\nSubject: hi\r\n\r\nbody\r\n", authserv_id="inboxcore", ours=None
    )
    assert shown.startswith(RENAMED_HEADER.encode())
    assert shown.endswith(b"\r\nSubject: hi\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    "field",
    [
        b'Authentication-Results: "mx.edge.example"; spf=pass smtp.mailfrom=x.example',
        b"Authentication-Results: inboxcore.example; spf=pass smtp.mailfrom=x.example",
        b"Authentication-Results: mx.edge.example; dkim=pass (signed by inboxcore) header.d=x",
    ],
)
def test_fields_of_other_authserv_ids_stay_as_received(field: bytes) -> None:
    """The legitimate twin: another id (quoted, or only containing ours) is left untouched."""
    raw = field + b"\r\nSubject: hi\r\n\r\nbody\r\n"
    assert display_source(raw, authserv_id="inboxcore", ours=None) == raw


def test_the_header_ends_at_its_first_empty_line_whatever_the_line_endings() -> None:
    """A message with LF endings whose body holds a CRLF blank line: the body is left as it is
    (the first ``\\r\\n\\r\\n`` is not where the header ends)."""
    body = b"\nquoted:\r\n\r\nAuthentication-Results: inboxcore; dmarc=pass\n"
    raw = b"Authentication-Results: inboxcore; dkim=pass\nSubject: hi\n" + body
    shown = display_source(raw, authserv_id="inboxcore", ours="inboxcore; dkim=none")
    assert shown == (
        b"Authentication-Results: inboxcore; dkim=none\n"
        + RENAMED_HEADER.encode()
        + b": inboxcore; dkim=pass\nSubject: hi\n"
        + body
    )


def test_classic_mac_line_endings_are_kept() -> None:
    """Lone CR endings: our field on top ends with CR too, the forged one is renamed."""
    raw = b"Authentication-Results: inboxcore; dkim=pass\rSubject: hi\r\rbody\r"
    shown = display_source(raw, authserv_id="inboxcore", ours="inboxcore; dkim=none")
    assert shown == (
        b"Authentication-Results: inboxcore; dkim=none\r"
        + RENAMED_HEADER.encode()
        + b": inboxcore; dkim=pass\rSubject: hi\r\rbody\r"
    )


_NAMES = st.sampled_from(
    ["Authentication-Results", "authentication-results", "Authentication-Results ", "Subject"]
)
_VALUES = st.lists(
    st.sampled_from(
        [
            *("inboxcore", "mx.edge.example", '"inboxcore"', "dkim=pass", "(c)", "\\", '"'),
            *(";", " ", "\r\n\t", "\n ", "\r\n", "\n", ":", "é", "\x00"),
        ]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    st.sampled_from([b"\r\n", b"\n", b""]),
    st.binary(max_size=40) | st.sampled_from([b"\r\nAuthentication-Results: inboxcore; x"]),
)
def test_showing_only_renames_and_never_raises(
    fields: list[tuple[str, str]], separator: bytes, body: bytes
) -> None:
    """Whatever the header and body, the shown copy is the raw message with some field names
    changed to the renamed one and nothing else (the body above all); it never raises."""
    raw = b"".join(f"{name}:{value}\r\n".encode() for name, value in fields) + separator + body
    shown = display_source(raw, authserv_id="inboxcore", ours=None)
    assert _only_renamed(shown, raw)
    if separator:
        assert shown.endswith(separator + body)


_ORIGINAL_NAME = re.compile(rb"authentication-results[ \t]*(?=:)", re.IGNORECASE)


def _only_renamed(shown: bytes, raw: bytes) -> bool:
    """Whether ``shown`` is ``raw`` with some A-R field names replaced by the renamed one."""
    renamed = RENAMED_HEADER.encode()
    i = j = 0
    while i < len(shown):
        original = _ORIGINAL_NAME.match(raw, j)
        if shown.startswith(renamed, i) and original:
            i, j = i + len(renamed), original.end()
        elif j < len(raw) and shown[i] == raw[j]:
            i, j = i + 1, j + 1
        else:
            return False
    return j == len(raw)


def test_incoming_results_are_read_as_written() -> None:
    """Every Authentication-Results value, topmost first, folded lines kept and encoded words
    left encoded (one is not a token); other fields and the body are not read."""
    raw = (
        b"Authentication-Results: mx.edge.example;\r\n spf=pass smtp.mailfrom=a.example\r\n"
        b"Subject: =?utf-8?q?hi?=\r\n"
        b"authentication-results: =?utf-8?q?mx.edge.example?=; dkim=pass\r\n"
        b"\r\nAuthentication-Results: mx.edge.example; body\r\n"
    )
    values = incoming_results(parse_message(raw))
    assert values == (
        " mx.edge.example;\r\n spf=pass smtp.mailfrom=a.example\r\n",
        " =?utf-8?q?mx.edge.example?=; dkim=pass\r\n",
    )
    assert [claims_authserv_id(v, "MX.Edge.Example") for v in values] == [True, False]
