"""Signed tokens: round trip, tampering, expiry, key rotation, purpose separation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inboxcore.domain.errors import BadTokenSignature, InvalidValueError, TokenExpired
from inboxcore.domain.tokens import Signer

T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
OLD, NEW = b"old-secret-key-0123456789", b"new-secret-key-0123456789"


def test_round_trip_carries_payload_and_issue_time() -> None:
    """unsign gives back the payload and the second it was issued."""
    signer = Signer(secret_keys=(NEW,), salt="verify")
    result = signer.unsign(signer.sign(b"chan-1|a@x.example", T), T + timedelta(hours=1))
    assert result.payload == b"chan-1|a@x.example"
    assert result.issued_at == T


@given(st.binary(max_size=64), st.data())
def test_any_change_to_a_token_is_refused(payload: bytes, data: st.DataObject) -> None:
    """Changing any one character of a token makes it fail verification."""
    signer = Signer(secret_keys=(NEW,), salt="verify")
    token = signer.sign(payload, T)
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("A_-.z0").filter(lambda c: c != token[i]))
    tampered = token[:i] + replacement + token[i + 1 :]
    with pytest.raises(BadTokenSignature):
        signer.unsign(tampered, T)


@given(st.integers(min_value=1, max_value=10**7))
def test_tokens_past_their_age_are_refused(extra_seconds: int) -> None:
    """A token older than max_age raises TokenExpired carrying its issue time."""
    signer = Signer(secret_keys=(NEW,), salt="verify")
    token = signer.sign(b"x", T)
    max_age = timedelta(hours=24)
    with pytest.raises(TokenExpired) as info:
        signer.unsign(token, T + max_age + timedelta(seconds=extra_seconds), max_age)
    assert info.value.issued_at == T
    assert signer.unsign(token, T + max_age, max_age).payload == b"x"


def test_key_rotation_newest_signs_all_verify() -> None:
    """Tokens signed with the old key still verify after rotation; new ones use the new key."""
    before = Signer(secret_keys=(OLD,), salt="s")
    after = Signer(secret_keys=(OLD, NEW), salt="s")
    assert after.unsign(before.sign(b"p", T), T).payload == b"p"
    with pytest.raises(BadTokenSignature):
        before.unsign(after.sign(b"p", T), T)
    with pytest.raises(BadTokenSignature):
        Signer(secret_keys=(NEW,), salt="s").unsign(before.sign(b"p", T), T)


def test_salt_separates_purposes() -> None:
    """A token for one purpose does not verify for another under the same keys."""
    token = Signer(secret_keys=(NEW,), salt="verify-address").sign(b"p", T)
    with pytest.raises(BadTokenSignature):
        Signer(secret_keys=(NEW,), salt="conversation").unsign(token, T)


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b", "a.b.c.d", "!!.AA.AA", "AA.AA.!!", "x" * 5000]
)
def test_malformed_tokens_are_bad_signatures(garbage: str) -> None:
    """Malformed input raises BadTokenSignature, never another exception."""
    with pytest.raises(BadTokenSignature):
        Signer(secret_keys=(NEW,), salt="s").unsign(garbage, T)


def test_future_tokens_are_refused() -> None:
    """A token issued beyond a minute in the future is bad (clock tampering)."""
    signer = Signer(secret_keys=(NEW,), salt="s")
    with pytest.raises(BadTokenSignature):
        signer.unsign(signer.sign(b"p", T + timedelta(hours=1)), T)


def test_weak_or_missing_keys_are_refused() -> None:
    """A signer needs at least one key of 16 bytes or more."""
    with pytest.raises(InvalidValueError):
        Signer(secret_keys=(), salt="s")
    with pytest.raises(InvalidValueError):
        Signer(secret_keys=(b"short",), salt="s")


def test_short_digest_for_compact_tokens() -> None:
    """digest_size trims the MAC for tokens that must fit in a Message-ID or plus-tag."""
    signer = Signer(secret_keys=(NEW,), salt="c", digest_size=12)
    token = signer.sign(b"conv-1", T)
    assert len(token) < 40
    assert signer.unsign(token, T).payload == b"conv-1"
