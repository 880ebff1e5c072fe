"""DKIM verification: every signature with its own result, keys generated here, dkimpy signs."""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import random
import re
from datetime import UTC, datetime, timedelta

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.auth.bodyhash import BodyHashes, split_message
from inboxcore.auth.dkim_verify import (
    DkimSignatureResult,
    a_label,
    hash_signed_headers,
    verify_dkim,
    without_signature,
)
from inboxcore.domain.errors import InvalidValueError
from inboxcore.testing import InMemoryDns

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

MESSAGE = (
    b"Received: from mail.example.com (mail.example.com [192.0.2.10])\r\n"
    b"\tby mx.helpdesk.example with ESMTPS id 4Xk2; Mon, 2 Mar 2026 09:29:58 +0000\r\n"
    b"From: Ann Example <ann@example.com>\r\n"
    b"To: support@acme.example\r\n"
    b"Subject: Invoice  #4411 is wrong\r\n"
    b"Date: Mon, 2 Mar 2026 10:29:51 +0100\r\n"
    b"Message-ID: <CAF7x9b1@mail.example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b"\r\n"
    b"the invoice  lists 12 seats,\twe have 10. \r\n"
    b"Could you send a corrected one?\r\n"
    b"\r\n"
    b"Ann\r\n"
    b"\r\n"
    b"\r\n"
)


class RsaKey:
    """An RSA key pair in the forms dkimpy signs with and DNS publishes."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.record = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


class Ed25519Key:
    def __init__(self) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self.seed = base64.b64encode(raw)
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"


@functools.cache
def rsa_key(bits: int = 2048) -> RsaKey:
    """A generated RSA key (cached: generating 2048-bit keys is slow)."""
    return RsaKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))


@functools.cache
def weak_rsa_key(bits: int = 512) -> RsaKey:
    """A weak RSA key built by hand: the cryptography package refuses to generate one."""
    rng = random.Random(bits)

    def prime(size: int) -> int:
        while True:
            n = rng.getrandbits(size) | (3 << (size - 2)) | 1
            if all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17)):
                return n

    e = 65537
    while True:
        p, q = prime(bits // 2), prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and math.gcd(e, phi) == 1:
            break
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    )
    return RsaKey(numbers.private_key())


@functools.cache
def ed_key() -> Ed25519Key:
    return Ed25519Key()


def sign(
    message: bytes,
    *,
    domain: str = "example.com",
    selector: str = "s2026",
    key: RsaKey | None = None,
    algorithm: bytes = b"rsa-sha256",
    canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
    length: bool = False,
    identity: bytes | None = None,
) -> bytes:
    """``message`` with a DKIM-Signature by dkimpy prepended."""
    private = ed_key().seed if algorithm == b"ed25519-sha256" else (key or rsa_key()).pem
    field: bytes = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private,
        identity=identity,
        canonicalize=canonicalize,
        signature_algorithm=algorithm,
        length=length,
    )
    return field + message


def dns_for(*entries: tuple[str, str, str]) -> InMemoryDns:
    """A DNS zone publishing ``(selector, domain, record)`` keys."""
    return InMemoryDns(
        {f"{selector}._domainkey.{domain}": {"TXT": record} for selector, domain, record in entries}
    )


def default_dns() -> InMemoryDns:
    return dns_for(("s2026", "example.com", rsa_key().record))


def only(results: tuple[DkimSignatureResult, ...]) -> DkimSignatureResult:
    assert len(results) == 1
    return results[0]


def test_intact_relaxed_signature_passes_with_its_details() -> None:
    """An untouched relaxed/relaxed rsa-sha256 signature passes and reports d=, s=, key size, b=."""
    signed = sign(MESSAGE)
    result = only(verify_dkim(signed, default_dns(), now=NOW))
    assert result.result == "pass"
    assert result.passed
    assert (result.domain, result.selector, result.algorithm) == (
        "example.com",
        "s2026",
        "rsa-sha256",
    )
    assert result.key_bits == 2048
    assert result.identity == "@example.com"
    assert result.body_length is None
    b_value = dkim.util.parse_tag_value(split_message(signed)[0][0][1])[b"b"]
    assert result.header_b == b"".join(b_value.split())[:8].decode()


def test_simple_canonicalization_passes_and_survives_lf_line_ends() -> None:
    """A simple/simple signature passes, also when the message was stored with bare LF lines."""
    signed = sign(MESSAGE, canonicalize=(b"simple", b"simple"))
    assert only(verify_dkim(signed, default_dns(), now=NOW)).result == "pass"
    lf_only = signed.replace(b"\r\n", b"\n")
    assert only(verify_dkim(lf_only, default_dns(), now=NOW)).result == "pass"


def test_ed25519_signature_passes() -> None:
    """An ed25519-sha256 signature (RFC 8463) verifies against its key record."""
    signed = sign(MESSAGE, algorithm=b"ed25519-sha256", selector="ed")
    dns = dns_for(("ed", "example.com", ed_key().record))
    result = only(verify_dkim(signed, dns, now=NOW))
    assert (result.result, result.algorithm, result.key_bits) == ("pass", "ed25519-sha256", 256)


def test_body_edited_by_a_list_fails() -> None:
    """A list footer appended after signing breaks the body hash: fail, with the reason."""
    signed = sign(MESSAGE)
    edited = signed + b"--\r\nteam mailing list\r\nhttps://lists.example.net/team\r\n"
    result = only(verify_dkim(edited, default_dns(), now=NOW))
    assert (result.result, result.code) == ("fail", "dkim.body_hash")


def test_whitespace_changes_pass_relaxed_but_fail_simple() -> None:
    """Relaxed body canonicalization forgives re-spaced lines; simple does not."""
    old, new = b"we have 10. \r\n", b"we  have 10.\r\n"
    relaxed = sign(MESSAGE).replace(old, new)
    simple = sign(MESSAGE, canonicalize=(b"relaxed", b"simple")).replace(old, new)
    assert only(verify_dkim(relaxed, default_dns(), now=NOW)).result == "pass"
    assert only(verify_dkim(simple, default_dns(), now=NOW)).code == "dkim.body_hash"


def test_header_edited_fails() -> None:
    """A list's subject tag changes a signed header: the signature fails."""
    edited = sign(MESSAGE).replace(b"Subject: Invoice", b"Subject: [support] Invoice")
    result = only(verify_dkim(edited, default_dns(), now=NOW))
    assert (result.result, result.code) == ("fail", "dkim.signature")


def test_a_from_added_above_the_signed_one_fails() -> None:
    """A second From inserted on top (a spoofing trick) breaks the signature."""
    signed = sign(MESSAGE)
    spoofed = b"From: CEO <ceo@acme.example>\r\n" + signed
    assert only(verify_dkim(spoofed, default_dns(), now=NOW)).result == "fail"


def test_only_the_lower_signature_is_valid() -> None:
    """Each signature gets its own result, topmost first: a broken forwarder one, a valid author one."""
    author = sign(MESSAGE)
    both = sign(author, domain="fwd.example.net", selector="relay")
    # The forwarder's key is missing, and its signature broken by a later edit anyway.
    edited = both.replace(b"To: support@acme.example", b"To: support@acme.example ")
    results = verify_dkim(edited, default_dns(), now=NOW)
    assert [(r.domain, r.result) for r in results] == [
        ("fwd.example.net", "permerror"),
        ("example.com", "pass"),
    ]
    assert results[0].code == "dkim.no_key"


def test_two_valid_signatures_share_one_body_pass() -> None:
    """Two relaxed sha256 signatures and one simple need two walks over the body, not three."""
    triple = sign(
        sign(sign(MESSAGE), domain="esp.example.org", selector="k1"),
        domain="esp.example.org",
        selector="k2",
        canonicalize=(b"relaxed", b"simple"),
    )
    dns = dns_for(
        ("s2026", "example.com", rsa_key().record),
        ("k1", "esp.example.org", rsa_key().record),
        ("k2", "esp.example.org", rsa_key().record),
    )
    hashes = BodyHashes(triple)
    results = verify_dkim(triple, dns, now=NOW, body_hashes=hashes)
    assert [r.result for r in results] == ["pass", "pass", "pass"]
    assert hashes.passes == 2


def test_a_key_used_twice_is_looked_up_once() -> None:
    """Two signatures with the same selector and domain cost one DNS lookup."""
    twice = sign(sign(MESSAGE), canonicalize=(b"simple", b"simple"))
    dns = default_dns()
    results = verify_dkim(twice, dns, now=NOW)
    assert [r.result for r in results] == ["pass", "pass"]
    assert dns.calls == [("s2026._domainkey.example.com", "TXT")]


def test_length_limit_shorter_than_body_is_policy() -> None:
    """An l= that leaves an appended footer unsigned verifies but does not count as a pass."""
    signed = sign(MESSAGE, length=True)
    assert only(verify_dkim(signed, default_dns(), now=NOW)).result == "pass"
    appended = signed + b"Sent via lists.example.net: click here to win\r\n"
    result = only(verify_dkim(appended, default_dns(), now=NOW))
    assert (result.result, result.code) == ("policy", "dkim.partial_body")
    assert result.body_length is not None
    assert not result.passed


def test_length_limit_longer_than_body_fails() -> None:
    """A body cut short below l= fails (RFC 6376: the signature cannot cover missing text)."""
    signed = sign(MESSAGE, length=True)
    cut = signed.replace(b"Could you send a corrected one?\r\n", b"")
    assert only(verify_dkim(cut, default_dns(), now=NOW)).code == "dkim.body_length"


def test_rsa_sha1_is_policy() -> None:
    """rsa-sha1 verifies but is refused (RFC 8301)."""
    signed = sign(MESSAGE, algorithm=b"rsa-sha1")
    result = only(verify_dkim(signed, default_dns(), now=NOW))
    assert (result.result, result.code) == ("policy", "dkim.sha1")


def test_rsa_sha1_that_does_not_verify_is_fail() -> None:
    """A broken rsa-sha1 signature reports the failure, not the policy."""
    signed = sign(MESSAGE, algorithm=b"rsa-sha1") + b"P.S. changed\r\n"
    assert only(verify_dkim(signed, default_dns(), now=NOW)).result == "fail"


@pytest.mark.parametrize(("bits", "expected"), [(512, "policy"), (1024, "pass")])
def test_rsa_keys_under_1024_bits_do_not_pass(bits: int, expected: str) -> None:
    """A 512-bit key is refused as weak (RFC 8301); 1024 bits is the floor that passes."""
    key = weak_rsa_key(bits) if bits < 1024 else rsa_key(bits)
    signed = sign(MESSAGE, key=key, selector="small")
    result = only(verify_dkim(signed, dns_for(("small", "example.com", key.record)), now=NOW))
    assert (result.result, result.key_bits) == (expected, bits)
    if expected == "policy":
        assert result.code == "dkim.weak_key"


@pytest.mark.parametrize("failure", ["SERVFAIL", "TIMEOUT"])
def test_dns_failure_on_the_key_is_temperror(failure: str) -> None:
    """SERVFAIL or a timeout on the key lookup is temperror, never fail."""
    dns = InMemoryDns({"s2026._domainkey.example.com": failure})
    result = only(verify_dkim(sign(MESSAGE), dns, now=NOW))
    assert (result.result, result.code) == ("temperror", "dkim.key_unavailable")
    assert result.domain == "example.com"


def test_missing_key_is_permerror() -> None:
    """No key record at the selector (NXDOMAIN) is permerror: no key for signature."""
    result = only(verify_dkim(sign(MESSAGE), InMemoryDns(), now=NOW))
    assert (result.result, result.code) == ("permerror", "dkim.no_key")


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ("v=DKIM1; k=rsa; p=", "dkim.key_revoked"),
        ("v=DKIM1; k=rsa; p=bm90IGEga2V5", "dkim.key_syntax"),
        ("v=DKIM1; k=rsa; p=%%%", "dkim.key_syntax"),
        ("v=DKIM2; p=AAAA", "dkim.key_syntax"),
        ("v=DKIM1; k=dsa; p=AAAA", "dkim.key_syntax"),
        ("this is not a key; ;", "dkim.key_syntax"),
    ],
)
def test_unusable_keys_are_permerror(record: str, code: str) -> None:
    """A revoked, unparsable or foreign key record is permerror with its own code."""
    result = only(verify_dkim(sign(MESSAGE), dns_for(("s2026", "example.com", record)), now=NOW))
    assert (result.result, result.code) == ("permerror", code)


def test_key_restrictions_are_enforced() -> None:
    """A key that allows only sha1 (h=), or is an ed25519 key for an RSA signature, is permerror."""
    pem_record = rsa_key().record
    sha1_only = pem_record.replace("k=rsa;", "k=rsa; h=sha1;")
    result = only(verify_dkim(sign(MESSAGE), dns_for(("s2026", "example.com", sha1_only)), now=NOW))
    assert result.code == "dkim.key_mismatch"
    wrong_kind = dns_for(("s2026", "example.com", ed_key().record))
    assert only(verify_dkim(sign(MESSAGE), wrong_kind, now=NOW)).code == "dkim.key_mismatch"


def test_key_in_testing_mode_is_flagged() -> None:
    """A key with t=y still verifies, and the result says it is in testing mode."""
    testing = rsa_key().record.replace("k=rsa;", "k=rsa; t=y;")
    result = only(verify_dkim(sign(MESSAGE), dns_for(("s2026", "example.com", testing)), now=NOW))
    assert result.passed
    assert result.testing


def test_multiple_txt_records_use_the_one_that_is_a_key() -> None:
    """A stray TXT record beside the key does not hide it."""
    dns = InMemoryDns(
        {
            "s2026._domainkey.example.com": {
                "TXT": ["google-site-verification=abc", rsa_key().record]
            }
        }
    )
    assert only(verify_dkim(sign(MESSAGE), dns, now=NOW)).passed


def _tamper(signed: bytes, old: bytes, new: bytes) -> bytes:
    headers_end = signed.index(b"\r\nFrom:")
    assert old in signed[:headers_end]
    return signed[:headers_end].replace(old, new, 1) + signed[headers_end:]


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        (b"v=1", b"v=2", "dkim.version"),
        (b"v=1; ", b"", "dkim.version"),
        (b"a=rsa-sha256", b"a=rsa-md5", "dkim.algorithm"),
        (b"a=rsa-sha256", b"a=", "dkim.missing_tag"),
        (b"c=relaxed/relaxed", b"c=loose/relaxed", "dkim.canonicalization"),
        (b"d=example.com", b"d=exa(mple.com", "dkim.domain"),
        (b"i=@example.com", b"i=@attacker.example", "dkim.identity"),
        (b"q=dns/txt", b"q=http/well-known", "dkim.query_method"),
        (b"bh=", b"bh=!!", "dkim.syntax"),
        (b"s=s2026", b"s=s2026; s=again", "dkim.syntax"),
        (b"t=", b"x=1000; t=", "dkim.timestamps"),
    ],
)
def test_malformed_signatures_are_permerror(old: bytes, new: bytes, code: str) -> None:
    """Every syntax error in a signature is permerror with a specific code, never a crash."""
    result = only(verify_dkim(_tamper(sign(MESSAGE), old, new), default_dns(), now=NOW))
    assert (result.result, result.code) == ("permerror", code)


def test_signature_not_covering_from_is_permerror() -> None:
    """A signature whose h= leaves out From protects nothing DMARC can use: permerror."""
    signed = sign(MESSAGE)
    field_end = signed.index(b"\r\nFrom:")
    field = re.sub(rb"h=[^;]*;", b"h=to : subject : date;", signed[:field_end])
    result = only(verify_dkim(field + signed[field_end:], default_dns(), now=NOW))
    assert (result.result, result.code) == ("permerror", "dkim.from_not_signed")


def test_garbage_signature_field_is_permerror() -> None:
    """A DKIM-Signature that is not a tag list at all is permerror."""
    raw = b"DKIM-Signature: this is ; ; not = a = signature\r\n" + MESSAGE
    result = only(verify_dkim(raw, default_dns(), now=NOW))
    assert (result.result, result.code) == ("permerror", "dkim.syntax")


def test_expired_signature_is_policy() -> None:
    """An x= in the past (beyond the clock-skew grace) is refused as expired."""
    now_ts = int(NOW.timestamp())
    signed = _tamper(sign(MESSAGE), b"t=", f"x={now_ts - 3600}; t=".encode())
    # The t= dkimpy wrote is the real signing time, later than NOW; keep x >= t with a fresh t.
    signed = _tamper(signed, b"; t=", f"; t={now_ts - 7200}; z=".encode())
    result = only(verify_dkim(signed, default_dns(), now=NOW))
    assert (result.result, result.code) == ("policy", "dkim.expired")
    in_grace = only(verify_dkim(signed, default_dns(), now=NOW - timedelta(minutes=50)))
    assert in_grace.code != "dkim.expired"


def test_signatures_over_the_cap_are_not_checked() -> None:
    """Past max_signatures, signatures are neutral 'not checked' and cost no DNS lookups."""
    raw = MESSAGE
    for n in range(3):
        raw = sign(raw, selector=f"k{n}")
    dns = dns_for(*[(f"k{n}", "example.com", rsa_key().record) for n in range(3)])
    results = verify_dkim(raw, dns, now=NOW, max_signatures=2)
    assert [r.result for r in results] == ["pass", "pass", "neutral"]
    assert results[2].code == "dkim.not_checked"
    assert results[2].selector == "k0"
    assert ("k0._domainkey.example.com", "TXT") not in dns.calls


def test_unsigned_message_has_no_results() -> None:
    """No DKIM-Signature, no results (Authentication-Results then says dkim=none)."""
    assert verify_dkim(MESSAGE, default_dns(), now=NOW) == ()


def test_hyphenated_signing_domain_passes() -> None:
    """Hyphens in the signing domain and the selector are ordinary."""
    signed = sign(MESSAGE, domain="mail-out.my-shop.example", selector="sel-2026-03")
    dns = dns_for(("sel-2026-03", "mail-out.my-shop.example", rsa_key().record))
    result = only(verify_dkim(signed, dns, now=NOW))
    assert (result.result, result.domain) == ("pass", "mail-out.my-shop.example")


def test_internationalized_signing_domain_is_looked_up_in_a_label_form() -> None:
    """d= in U-labels (RFC 8616) or A-labels finds the key at the A-label name."""
    message = MESSAGE.replace(b"ann@example.com", "ann@bücher.example".encode())
    dns = dns_for(("s1", "xn--bcher-kva.example", rsa_key().record))
    for domain in ("bücher.example", "xn--bcher-kva.example"):
        signed = sign(message, domain=domain, selector="s1", identity=f"@{domain}".encode())
        result = only(verify_dkim(signed, dns, now=NOW))
        assert (result.result, result.domain) == ("pass", "xn--bcher-kva.example")


def test_a_label_normalizes_and_rejects() -> None:
    """a_label lowercases, converts U-labels and refuses names with forbidden characters."""
    assert a_label("Bücher.Example.") == "xn--bcher-kva.example"
    assert a_label("my-shop.example") == "my-shop.example"
    assert a_label("exa mple.com") is None
    assert a_label("-bad.example") is None
    assert a_label("") is None


def test_naive_now_and_foreign_cache_are_programming_errors() -> None:
    """A naive datetime or a BodyHashes made for another message raises InvalidValueError."""
    with pytest.raises(InvalidValueError):
        verify_dkim(MESSAGE, default_dns(), now=datetime(2026, 1, 1))
    with pytest.raises(InvalidValueError):
        verify_dkim(MESSAGE, default_dns(), now=NOW, body_hashes=BodyHashes(b"x"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verify_never_raises_on_mangled_messages(data: st.DataObject) -> None:
    """Flipping, cutting or inserting bytes anywhere in a signed message yields results, no crash."""
    signed = bytearray(sign(MESSAGE))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            signed[at] = data.draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del signed[at : at + data.draw(st.integers(min_value=1, max_value=30))]
        else:
            signed[at:at] = data.draw(st.sampled_from([b";", b"=", b"\r\n", b" ", b"\x00", b"b=;"]))
    results = verify_dkim(bytes(signed), default_dns(), now=NOW)
    assert all(r.result in ("pass", "fail", "neutral", "permerror", "policy") for r in results)


_FIELD_NAMES = st.sampled_from([b"From", b"from", b"To", b"Subject", b"Received", b"X-Tag "])
_FIELD_VALUES = st.sampled_from([b" a\r\n", b"  b  c \r\n", b"\tfolded\r\n  more\r\n", b"x\r\n"])


@settings(max_examples=120, deadline=None)
@given(
    fields=st.lists(st.tuples(_FIELD_NAMES, _FIELD_VALUES), max_size=12),
    include=st.lists(st.sampled_from([b"from", b"to", b"subject", b"received", b"x-tag", b"cc"])),
    canonicalization=st.sampled_from([b"simple", b"relaxed"]),
)
def test_header_hash_equals_dkimpy(
    fields: list[tuple[bytes, bytes]], include: list[bytes], canonicalization: bytes
) -> None:
    """Selecting and hashing signed fields through the name index equals dkimpy's hash_headers."""
    raw = b"".join(name + b":" + value for name, value in fields) + b"\r\nbody\r\n"
    message = BodyHashes(raw)
    signature = (b"DKIM-Signature", b" v=1; a=rsa-sha256; h=from; b=AbCd\r\n  Ef==\r\n")
    ours = hash_signed_headers("sha256", canonicalization, message, include, signature)
    policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(canonicalization)
    theirs = hashlib.sha256()
    canonical = policy.canonicalize_headers([list(h) for h in message.headers])
    dkim.hash_headers(theirs, policy, canonical, list(include), signature, {})
    assert ours.digest() == theirs.digest()


def test_sharp_s_signing_domain_is_its_own_domain() -> None:
    """IDNA 2008: d=straße.example is xn--strae-oqa.example (IDNA 2003 made it
    strasse.example); the key is looked up there and strasse.example's key does not verify it."""
    message = MESSAGE.replace(b"ann@example.com", "ann@straße.example".encode())
    good = dns_for(("s1", "xn--strae-oqa.example", rsa_key().record))
    signed = sign(
        message, domain="straße.example", selector="s1", identity="@straße.example".encode()
    )
    result = only(verify_dkim(signed, good, now=NOW))
    assert (result.result, result.domain) == ("pass", "xn--strae-oqa.example")
    wrong = dns_for(("s1", "strasse.example", rsa_key().record))
    assert only(verify_dkim(signed, wrong, now=NOW)).result != "pass"


def test_a_label_refuses_what_idna_2008_refuses() -> None:
    """Invalid A-labels, emoji and contextless joiners are not names; selectors keep ``_``."""
    assert a_label("xn--zz.example") is None
    assert a_label("😀.example") is None
    assert a_label("\u200d.example") is None
    assert a_label("Sel_1._domainkey.Straße.example") == "sel_1._domainkey.xn--strae-oqa.example"


def test_a_signature_verifies_above_twenty_thousand_filler_fields() -> None:
    """Only the first 10,000 header fields are read (as the parser keeps them): a signature and
    the fields it signs above 20,000 unsigned ones still pass; one below them is not seen."""
    signed = sign(MESSAGE)
    head, _, body = signed.partition(b"\r\n\r\n")
    fillers = b"".join(b"X-Filler-%d: x\r\n" % i for i in range(20_000))
    padded = head + b"\r\n" + fillers + b"\r\n" + body
    assert only(verify_dkim(padded, default_dns(), now=NOW)).result == "pass"
    buried = fillers + signed
    assert verify_dkim(buried, default_dns(), now=NOW) == ()


def test_a_signature_listing_too_many_fields_is_a_permerror() -> None:
    """An h= of 200,000 names (each a bytes object before any check: 27 times the message) is
    refused as a syntax error before it is split; a few repeated names still verify."""
    signed = sign(MESSAGE)
    padded = signed.replace(b"h=", b"h=" + b"x:" * 200_000, 1)
    result = only(verify_dkim(padded, default_dns(), now=NOW))
    assert (result.result, result.code) == ("permerror", "dkim.syntax")
    assert "more than 1000 fields" in result.reason
    assert only(verify_dkim(signed, default_dns(), now=NOW)).result == "pass"


_SIGNATURE_TEXT = st.lists(
    st.sampled_from([b"b", b"=", b";", b" ", b"\t", b"\r\n", b"\n", b"\r", b"a", b"Z", b"+", b"/"]),
    max_size=40,
).map(b"".join)


@given(_SIGNATURE_TEXT)
def test_b_emptied_exactly_as_dkimpy_empties_it(value: bytes) -> None:
    # Our faster pattern must blank the same text as dkimpy's, or hashes would stop matching.
    assert without_signature(value) == dkim.RE_BTAG.sub(b"\\1", value)
    assert without_signature(b"v=1; a=x;" + value) == dkim.RE_BTAG.sub(b"\\1", b"v=1; a=x;" + value)


def _der(tag: int, value: bytes) -> bytes:
    size = len(value)
    length = bytes([size]) if size < 128 else bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + value


def test_an_rsa_record_with_public_exponent_one_is_no_key() -> None:
    # dkimpy parses it, and with e = 1 the padded digest itself would "verify" as a signature.
    modulus = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    n = modulus.public_numbers().n
    numbers = _der(0x02, n.to_bytes(257, "big")) + _der(0x02, b"\x01")
    algorithm = _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00"
    der = _der(0x30, _der(0x30, algorithm) + _der(0x03, b"\x00" + _der(0x30, numbers)))
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    result = only(verify_dkim(sign(MESSAGE), dns_for(("s2026", "example.com", record)), now=NOW))
    assert (result.result, result.code) == ("permerror", "dkim.key_syntax")
