"""Shared canonical body hashes and header splitting, checked against dkimpy."""

from __future__ import annotations

import hashlib

import dkim
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inboxcore.auth.bodyhash import BodyHashes, BodyHashKey, canonical_body, split_message
from inboxcore.domain.errors import InvalidValueError


def test_split_message_keeps_folded_values_and_finds_the_body() -> None:
    """Folded lines stay with their field (CRLF-terminated), LF becomes CRLF, the body follows."""
    raw = b"From  mbox line\nSubject: a\n  long one\nTo:b@example.com\n\nbody\n"
    headers, offset = split_message(raw)
    assert headers == ((b"Subject", b" a\r\n  long one\r\n"), (b"To", b"b@example.com\r\n"))
    assert raw[offset:] == b"body\n"


def test_split_message_skips_garbage_and_handles_no_body() -> None:
    """A line that is no field is skipped; a message without a blank line is all header."""
    raw = b"X-Ok: 1\r\nthis is not a field\r\n: nameless\r\nY-Ok : 2\r\n"
    headers, offset = split_message(raw)
    assert [name for name, _ in headers] == [b"X-Ok", b"Y-Ok "]
    assert offset == len(raw)
    assert split_message(b"") == ((), 0)


def test_length_prefixes_and_algorithms_share_one_walk() -> None:
    """Full sha256, full sha1 and two l= prefixes come from one pass over the body."""
    raw = b"From: a@example.com\r\n\r\n" + b"Hello  world \r\n" * 1000 + b"\r\n\r\n"
    hashes = BodyHashes(raw, chunk_size=100)
    keys = [
        BodyHashKey(canonicalization="relaxed", algorithm="sha256"),
        BodyHashKey(canonicalization="relaxed", algorithm="sha1"),
        BodyHashKey(canonicalization="relaxed", algorithm="sha256", length=10),
        BodyHashKey(canonicalization="relaxed", algorithm="sha256", length=5000),
    ]
    for key in keys:
        hashes.request(key)
    canonical = b"Hello world\r\n" * 1000
    assert hashes.digest(keys[0]) == hashlib.sha256(canonical).digest()
    assert hashes.digest(keys[1]) == hashlib.sha1(canonical).digest()
    assert hashes.digest(keys[2]) == hashlib.sha256(canonical[:10]).digest()
    assert hashes.digest(keys[3]) == hashlib.sha256(canonical[:5000]).digest()
    assert hashes.canonical_length("relaxed") == len(canonical)
    assert hashes.passes == 1


def test_length_beyond_the_body_hashes_the_whole_body() -> None:
    """An l= longer than the body gives the whole body's hash; canonical_length tells them apart."""
    raw = b"From: a@example.com\r\n\r\nshort\r\n"
    hashes = BodyHashes(raw)
    long_key = BodyHashKey(canonicalization="simple", algorithm="sha256", length=999)
    assert hashes.digest(long_key) == hashlib.sha256(b"short\r\n").digest()
    assert hashes.canonical_length("simple") == 7


def test_empty_bodies_follow_rfc_6376() -> None:
    """An empty body is CRLF under simple and nothing under relaxed."""
    raw = b"From: a@example.com\r\n\r\n"
    assert b"".join(canonical_body(raw, len(raw), "simple")) == b"\r\n"
    assert b"".join(canonical_body(raw, len(raw), "relaxed")) == b""


def test_bad_arguments_are_programming_errors() -> None:
    """A zero chunk size, an unknown canonicalization or algorithm is refused."""
    with pytest.raises(InvalidValueError):
        BodyHashes(b"x", chunk_size=0)
    with pytest.raises(InvalidValueError):
        BodyHashes(b"x").canonical_length("loose")
    with pytest.raises(ValueError):
        BodyHashKey(canonicalization="relaxed", algorithm="md5")


def test_header_positions_follow_each_canonicalization() -> None:
    """Relaxed compares names without trailing whitespace; simple compares them as written."""
    hashes = BodyHashes(b"Subject : a\r\nsubject: b\r\nTo: c\r\n\r\n")
    assert hashes.header_positions(relaxed=True)[b"subject"] == (0, 1)
    assert hashes.header_positions(relaxed=False)[b"subject"] == (1,)
    assert hashes.header_positions(relaxed=False)[b"subject "] == (0,)


def test_body_hash_matches_dkimpy_on_a_large_body() -> None:
    """The chunked canonical body hash equals dkimpy's on a multi-chunk body."""
    body = b"".join(
        f"line {n}:  some\ttext with  spaces {'x' * (n % 90)} \r\n".encode() for n in range(40000)
    )
    raw = b"From: a@example.com\r\n\r\n" + body + b"\r\n\r\n"
    hashes = BodyHashes(raw, chunk_size=4096)
    _, dk_body = dkim.rfc822_parse(raw)
    for name, algorithm in (
        ("relaxed", dkim.canonicalization.Relaxed),
        ("simple", dkim.canonicalization.Simple),
    ):
        expected = hashlib.sha256(algorithm.canonicalize_body(dk_body)).digest()
        assert hashes.digest(BodyHashKey(canonicalization=name, algorithm="sha256")) == expected


_BODY_PIECES = st.sampled_from(
    [b"a", b"word", b" ", b"  ", b"\t", b"\r\n", b"\n", b"\r", b" \r\n", b"\t\n", b"x y"]
)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(_BODY_PIECES, max_size=40),
    chunk_size=st.integers(min_value=1, max_value=16),
    canonicalization=st.sampled_from(["simple", "relaxed"]),
)
def test_streaming_canonicalization_equals_dkimpy(
    pieces: list[bytes], chunk_size: int, canonicalization: str
) -> None:
    """For any body and any chunk size, the streamed canonical body equals dkimpy's."""
    raw = b"From: a@example.com\r\n\r\n" + b"".join(pieces)
    _, body_offset = split_message(raw)
    ours = b"".join(canonical_body(raw, body_offset, canonicalization, chunk_size=chunk_size))
    _, dk_body = dkim.rfc822_parse(raw)
    policy = dkim.canonicalization.ALGORITHMS[canonicalization.encode()]
    assert ours == policy.canonicalize_body(dk_body)


_MESSAGE_PIECES = st.sampled_from(
    [b"A: b", b"Subject", b": x", b" ", b"\t", b"\r\n", b"\n", b"\r", b"B:c", b"x", b"From"]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_MESSAGE_PIECES, max_size=16))
def test_split_message_equals_dkimpy_where_dkimpy_parses(pieces: list[bytes]) -> None:
    """Wherever dkimpy's rfc822_parse accepts a message, the fields and body are the same.

    (Except that dkimpy drops any "From " line as an mbox separator, while a "From : x" field
    with space before the colon is valid obsolete syntax that we keep.)
    """
    raw = b"".join(pieces)
    assume(b"From " not in raw)
    try:
        their_headers, their_body = dkim.rfc822_parse(raw)
    except (dkim.MessageFormatError, IndexError):
        return  # dkimpy refuses (garbage line, leading continuation); we skip such lines
    headers, offset = split_message(raw)
    assert headers == tuple((bytes(name), bytes(value)) for name, value in their_headers)
    assert raw[offset:].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") == their_body


def test_blank_line_found_past_the_first_search_window() -> None:
    """A header longer than the first 64 KB window still ends at its blank line."""
    raw = b"X-Long: " + b"a" * 100_000 + b"\r\nTo: b@example.com\r\n\r\nbody\r\n"
    headers, offset = split_message(raw)
    assert [name for name, _ in headers] == [b"X-Long", b"To"]
    assert raw[offset:] == b"body\r\n"
