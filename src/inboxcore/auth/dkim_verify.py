"""DKIM verification (RFC 6376, RFC 8301, RFC 8463), every signature with its own result.

:func:`verify_dkim` checks each DKIM-Signature of a message (up to a cap) and returns one
:class:`DkimSignatureResult` per signature, in header order, each with an RFC 8601 result word and
a reason a person can read. Nothing from the message or the DNS makes it raise; only a broken DNS
port (an exception other than :class:`~inboxcore.domain.errors.DnsTemporaryError`) propagates.

The rules we chose where the RFCs leave room (a demanding receiver's choices; the DMARC step
counts only ``pass``):

- a DNS failure (SERVFAIL, timeout) on the key is ``temperror``, never ``fail``: a retry may pass;
- no key record is ``permerror`` (RFC 6376 section 6.1.2: "no key for signature"), and so are a
  revoked key (empty ``p=``), an unparsable key, a key that does not allow the signature's
  algorithm, and every syntax error in the signature (missing or malformed tags, an unknown
  algorithm or canonicalization, ``i=`` outside ``d=``, ``From`` not signed, ``x=`` before ``t=``);
- a body hash or signature that does not verify is ``fail``; so is an ``l=`` longer than the body;
- ``policy`` marks a signature that verifies but that we do not accept: ``rsa-sha1`` and RSA keys
  under 1024 bits (RFC 8301 says verifiers must not consider them valid), an ``l=`` that leaves
  part of the body unsigned (a list could have appended anything after it), and an expired
  ``x=`` (RFC 6376 lets verifiers treat it as invalid; we do, with :data:`CLOCK_SKEW` of grace).
  A cryptographic failure is reported before any of these, so ``policy`` always means "would
  have verified". An expired signature is not checked further;
- signatures past ``max_signatures`` are ``neutral`` ("not checked"), so that a message padded
  with junk signatures says why its real one went unheard;
- a signature from a key in testing mode (``t=y``) keeps its result; ``testing`` says so.

Signing domains are reported lowercase in A-label form (``xn--bcher-kva.example``), the form the
DNS port and the DMARC step use; a ``d=`` written in U-labels (RFC 8616) is converted.

Performance: the body is canonicalized and hashed once per (canonicalization, algorithm, length)
for all signatures, through :class:`~inboxcore.auth.bodyhash.BodyHashes`; pass the same instance to
:func:`~inboxcore.auth.arc.validate_arc` to share it with the ARC-Message-Signatures.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.crypto import UnparsableKeyError, parse_public_key
from dkim.util import InvalidTagValueList, parse_tag_value

from inboxcore.auth.bodyhash import BodyHashes, BodyHashKey
from inboxcore.domain.addresses import domain_to_ascii
from inboxcore.domain.errors import DnsTemporaryError, InvalidValueError
from inboxcore.ports import DnsResolver

__all__ = [
    "CLOCK_SKEW",
    "DkimKey",
    "DkimSignatureResult",
    "MAX_SIGNED_FIELDS",
    "MIN_RSA_BITS",
    "RESULTS",
    "Refusal",
    "a_label",
    "check_signature",
    "fetch_key",
    "hash_signed_headers",
    "parse_tags",
    "verify_dkim",
    "without_signature",
]

RESULTS = ("fail", "neutral", "pass", "permerror", "policy", "temperror")
"""The RFC 8601 result words a DKIM signature can get."""

MIN_RSA_BITS = 1024
"""RSA keys shorter than this do not pass (RFC 8301 section 3.2)."""

MAX_SIGNED_FIELDS = 1_000
"""A signature whose ``h=`` lists more fields is a ``permerror`` (``dkim.syntax``) and an
ARC-Message-Signature's a ``fail``: real ones list a few dozen, and each entry costs memory
before any check."""

CLOCK_SKEW = timedelta(minutes=15)
"""Grace given to an ``x=`` expiry for clocks that disagree."""

_ALGORITHMS = {"rsa-sha256": "sha256", "rsa-sha1": "sha1", "ed25519-sha256": "sha256"}
_WSP = re.compile(rb"\s+")
_DIGITS = re.compile(rb"[0-9]{1,76}")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
# dkimpy's RE_BTAG, matching the same text: its folding-white-space groups reduce to \s*, and its
# per-character loop of nested optional groups cost ~0.1 ms on a 2048-bit signature's b=.
_B_TAG = re.compile(rb"([;\s]b\s*=)(?:[\sA-Za-z0-9+/=]*[A-Za-z0-9+/=])?(?:\r?\n\Z)?")


@attrs.frozen(kw_only=True)
class DkimSignatureResult:
    """The verdict on one DKIM-Signature header field.

    ``result`` is an RFC 8601 word (:data:`RESULTS`), ``code`` a stable machine-readable reason
    (``dkim.body_hash``) and ``reason`` its sentence for people. ``header_b`` is the start of
    ``b=`` that Authentication-Results quotes to tell signatures apart (RFC 6008).
    """

    domain: str
    selector: str
    algorithm: str
    result: str = attrs.field(validator=attrs.validators.in_(RESULTS))
    code: str
    reason: str
    key_bits: int | None = None
    body_length: int | None = None
    header_b: str = ""
    identity: str | None = None
    testing: bool = False

    @property
    def passed(self) -> bool:
        """Whether this signature counts for DMARC and trust decisions."""
        return self.result == "pass"


@attrs.frozen(kw_only=True)
class Refusal:
    """Why a signature (or a step of checking it) did not pass: result word, code, sentence."""

    result: str = attrs.field(validator=attrs.validators.in_(RESULTS))
    code: str
    reason: str


@attrs.frozen(kw_only=True)
class DkimKey:
    """A public key record from ``<selector>._domainkey.<domain>`` (RFC 6376 section 3.6.1)."""

    kind: str
    """``"rsa"`` or ``"ed25519"``."""
    bits: int
    material: object = attrs.field(repr=False, eq=False)
    """A ``cryptography`` RSA or Ed25519 public key."""
    hashes: tuple[str, ...] | None = None
    """The ``h=`` list of acceptable hash algorithms; None allows all."""
    testing: bool = False
    strict_identity: bool = False
    """``t=s``: ``i=`` must use exactly the ``d=`` domain, not a subdomain."""


def parse_tags(value: bytes) -> dict[bytes, bytes] | None:
    """A tag-list (RFC 6376 section 3.2) as a dict, or None when its syntax is broken.

    Duplicate tags, empty specs and tag names that do not start with a letter are broken.
    """
    try:
        tags: dict[bytes, bytes] = parse_tag_value(value)
    except InvalidTagValueList:
        return None
    return tags


def a_label(text: str) -> str | None:
    """A domain (or selector) in lowercase A-label form (UTS #46, then IDNA 2008), or None if it
    is not a valid name: ``d=`` is compared with the From domain in this form."""
    return domain_to_ascii(text)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _base64(value: bytes) -> bytes | None:
    compact = _WSP.sub(b"", value)
    if not compact or len(compact) % 4 or not _BASE64.fullmatch(compact):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error:
        return None


# Memoized on the record's bytes, not cached by name: the DNS port is still asked every time (it
# gives no TTL, and hosts keep control of caching), but the same answer is not parsed again.
# Parsing is pure and its results frozen, so this cannot change a verdict; dkimpy's ASN.1 parser
# and building the OpenSSL key cost about as much as the verification itself. Bounded: a record is
# at most a few KB, so 1,024 of them hold a few MB at worst.
@functools.lru_cache(maxsize=1_024)
def _parse_key(record: bytes) -> DkimKey | Refusal:
    tags = parse_tags(record)
    if tags is None:
        return Refusal(result="permerror", code="dkim.key_syntax", reason="key record is malformed")
    if b"v" in tags and tags[b"v"] != b"DKIM1":
        return Refusal(
            result="permerror", code="dkim.key_syntax", reason="key record version is not DKIM1"
        )
    services = [s.strip() for s in tags.get(b"s", b"*").split(b":")]
    if b"*" not in services and b"email" not in services:
        return Refusal(
            result="permerror", code="dkim.key_mismatch", reason="key is not for email (s=)"
        )
    if b"p" not in tags:
        return Refusal(result="permerror", code="dkim.key_syntax", reason="key record has no p=")
    compact = _WSP.sub(b"", tags[b"p"])
    if not compact:
        return Refusal(result="permerror", code="dkim.key_revoked", reason="key was revoked")
    data = _base64(compact)
    if data is None:
        return Refusal(result="permerror", code="dkim.key_syntax", reason="key p= is not base64")
    kind = _text(tags.get(b"k", b"rsa")).strip().lower()
    flags = {f.strip() for f in tags.get(b"t", b"").split(b":")}
    hashes = None
    if b"h" in tags:
        hashes = tuple(_text(h).strip().lower() for h in tags[b"h"].split(b":"))
    material: object
    if kind == "rsa":
        try:
            # dkimpy's parser decides what an RSA key record may look like; OpenSSL then
            # refuses what is no RSA key at all (e < 3, e >= n), which dkimpy would have used.
            numbers = parse_public_key(data)
            public = rsa.RSAPublicNumbers(
                int(numbers["publicExponent"]), int(numbers["modulus"])
            ).public_key()
        except (UnparsableKeyError, IndexError, TypeError, ValueError):
            return Refusal(
                result="permerror", code="dkim.key_syntax", reason="RSA key cannot be parsed"
            )
        bits = public.key_size
        material = public
    elif kind == "ed25519":
        if len(data) != 32:
            return Refusal(
                result="permerror", code="dkim.key_syntax", reason="Ed25519 key is not 32 octets"
            )
        material = Ed25519PublicKey.from_public_bytes(data)
        bits = 256
    else:
        return Refusal(
            result="permerror", code="dkim.key_syntax", reason=f"unknown key type k={kind}"
        )
    return DkimKey(
        kind=kind,
        bits=bits,
        material=material,
        hashes=hashes,
        testing=b"y" in flags,
        strict_identity=b"s" in flags,
    )


def fetch_key(
    dns: DnsResolver,
    selector: str,
    domain: str,
    cache: dict[tuple[str, str], DkimKey | Refusal] | None = None,
) -> DkimKey | Refusal:
    """The key at ``<selector>._domainkey.<domain>`` (both in A-label form), or why not.

    ``temperror`` when the lookup failed for now, ``permerror`` when there is no usable key.
    When several TXT records answer, the first that parses as a key is used. ``cache`` (one per
    message) spares a second lookup of the same key.
    """
    found = cache.get((selector, domain)) if cache is not None else None
    if found is not None:
        return found
    try:
        records = dns.txt(f"{selector}._domainkey.{domain}")
    except DnsTemporaryError as exc:
        found = Refusal(
            result="temperror",
            code="dkim.key_unavailable",
            reason=f"key lookup failed for now ({exc.reason})",
        )
    else:
        found = Refusal(
            result="permerror",
            code="dkim.no_key",
            reason=f"no key at {selector}._domainkey.{domain}",
        )
        for record in records:
            parsed = _parse_key(b"".join(record))
            if isinstance(parsed, DkimKey):
                found = parsed
                break
            if found.code == "dkim.no_key":
                found = parsed
    if cache is not None:
        cache[(selector, domain)] = found
    return found


def without_signature(value: bytes) -> bytes:
    """A signature field's value with its ``b=`` emptied, as it was hashed when signing."""
    return _B_TAG.sub(b"\\1", value)


def hash_signed_headers(
    algorithm: str,
    canonicalization: bytes,
    message: BodyHashes,
    include: Sequence[bytes],
    signature_header: tuple[bytes, bytes],
) -> hashlib._Hash:
    """The hash over the signed header fields and the signature field with ``b=`` emptied.

    ``include`` is the lowercased ``h=`` list; each name takes the next field of that name from
    the bottom up, and a name with no field left adds nothing (RFC 6376 section 5.4.2, as
    dkimpy's ``hash_headers``). ``canonicalization`` is the header part of ``c=``. Only the
    selected fields are canonicalized, through the message's cached name index: a message with
    a huge header cannot make each signature cost a pass over every field.
    """
    policy = CanonicalizationPolicy.from_c_value(canonicalization + b"/simple")
    index = message.header_positions(relaxed=canonicalization == b"relaxed")
    stacks = {name: list(index[name]) for name in set(include) if name in index}
    selected = []
    for name in include:
        stack = stacks.get(name)
        if stack:
            selected.append(message.headers[stack.pop()])
    hasher = hashlib.new(algorithm)
    for name, value in policy.canonicalize_headers(selected):
        hasher.update(name + b":" + value)
    unsigned = (signature_header[0], without_signature(signature_header[1]))
    name, value = policy.canonicalize_headers([unsigned])[0]
    # The signature field is hashed without its final CRLF (RFC 6376 section 3.7).
    hasher.update(name + b":" + value.rstrip())
    return hasher


def check_signature(key: DkimKey, hasher: hashlib._Hash, signature: bytes) -> bool:
    """Whether ``signature`` signs the header hash in ``hasher`` under ``key``."""
    if key.kind == "ed25519":
        material = key.material
        assert isinstance(material, Ed25519PublicKey)
        try:
            material.verify(signature, hasher.digest())
        except InvalidSignature:
            return False
        return True
    material = key.material
    assert isinstance(material, rsa.RSAPublicKey)
    modulus = material.public_numbers().n
    # Read as dkimpy reads it (a number modulo n, of any length), so that verdicts do not
    # change: OpenSSL wants exactly len(n) octets below n, and leading zeros or s + n pass.
    value = int.from_bytes(signature, "big") % modulus
    algorithm = hashes.SHA1() if hasher.name == "sha1" else hashes.SHA256()
    try:
        material.verify(
            value.to_bytes((modulus.bit_length() + 7) // 8, "big"),
            hasher.digest(),
            padding.PKCS1v15(),
            Prehashed(algorithm),
        )
    except (InvalidSignature, ValueError):
        # ValueError: a key too short for the digest, which dkimpy fails as well.
        return False
    return True


@attrs.frozen(kw_only=True)
class _Signature:
    index: int
    header: tuple[bytes, bytes]
    domain: str
    selector: str
    algorithm: str
    hash_name: str
    header_canon: bytes
    body_canon: str
    include: tuple[bytes, ...]
    body_length: int | None
    identity: str
    body_hash: bytes
    signature: bytes
    header_b: str


def _partial(tags: dict[bytes, bytes] | None, header_b: str) -> dict[str, str | int | None]:
    """What a refused signature still tells: its domain, selector, algorithm, l=, i=."""
    tags = tags or {}
    length = tags.get(b"l", b"")
    return {
        "domain": (a_label(_text(tags.get(b"d", b""))) or _text(tags.get(b"d", b"")).lower()),
        "selector": _text(tags.get(b"s", b"")),
        "algorithm": _text(tags.get(b"a", b"")),
        "identity": _text(tags[b"i"]) if b"i" in tags else None,
        "body_length": int(length) if _DIGITS.fullmatch(length) else None,
        "header_b": header_b,
    }


def _header_b(value: bytes) -> str:
    match = re.search(rb"(?:^|;)\s*b\s*=\s*([A-Za-z0-9+/=\s]*)", value)
    if match is None:
        return ""
    return _WSP.sub(b"", match.group(1))[:8].decode("ascii")


def _parse_signature(
    index: int, header: tuple[bytes, bytes], tags: dict[bytes, bytes], now: datetime
) -> _Signature | Refusal:
    if tags.get(b"v") != b"1":
        return _perm("dkim.version", "v= is missing or not 1")
    for tag in (b"a", b"b", b"bh", b"d", b"h", b"s"):
        if not tags.get(tag):
            return _perm("dkim.missing_tag", f"{tag.decode()}= is missing or empty")
    algorithm = _text(tags[b"a"]).strip()
    if algorithm not in _ALGORITHMS:
        return _perm("dkim.algorithm", f"unsupported algorithm a={algorithm}")
    domain = a_label(_text(tags[b"d"]))
    if domain is None:
        return _perm("dkim.domain", "d= is not a domain name")
    selector = a_label(_text(tags[b"s"]))
    if selector is None:
        return _perm("dkim.selector", "s= is not a valid selector")
    try:
        policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple").strip())
    except InvalidCanonicalizationPolicyError:
        return _perm("dkim.canonicalization", "c= names an unknown canonicalization")
    include = _signed_fields(tags)
    if isinstance(include, Refusal):
        return include
    identity = _identity(tags, domain)
    if isinstance(identity, Refusal):
        return identity
    body_length = _body_length(tags)
    if isinstance(body_length, Refusal):
        return body_length
    refusal = _query_method_refusal(tags) or _timestamps_refusal(tags, now)
    if refusal is not None:
        return refusal
    body_hash = _base64(tags[b"bh"])
    if body_hash is None:
        return _perm("dkim.syntax", "bh= is not base64")
    signature = _base64(tags[b"b"])
    if signature is None:
        return _perm("dkim.syntax", "b= is not base64")
    return _Signature(
        index=index,
        header=header,
        domain=domain,
        selector=selector,
        algorithm=algorithm,
        hash_name=_ALGORITHMS[algorithm],
        header_canon=policy.header_algorithm.name,
        body_canon=policy.body_algorithm.name.decode(),
        include=include,
        body_length=body_length,
        identity=identity,
        body_hash=body_hash,
        signature=signature,
        header_b=_header_b(header[1]),
    )


def _perm(code: str, reason: str) -> Refusal:
    return Refusal(result="permerror", code=code, reason=reason)


def _signed_fields(tags: dict[bytes, bytes]) -> tuple[bytes, ...] | Refusal:
    """The lowercased ``h=`` field names; refused if too many or if From is not among them."""
    if tags[b"h"].count(b":") >= MAX_SIGNED_FIELDS:
        return _perm("dkim.syntax", f"h= lists more than {MAX_SIGNED_FIELDS} fields")
    # split on ":" and strip, not a "\s*:\s*" pattern: that rescans every run of blanks
    include = tuple(h.strip().lower() for h in tags[b"h"].strip().split(b":"))
    if b"from" not in include:
        return _perm("dkim.from_not_signed", "the From field is not signed")
    return include


def _identity(tags: dict[bytes, bytes], domain: str) -> str | Refusal:
    """The ``i=`` identity (``@`` and the ``d=`` domain by default); refused outside ``d=``."""
    identity = _text(tags[b"i"]).strip() if b"i" in tags else f"@{domain}"
    id_domain = a_label(identity.rpartition("@")[2]) if "@" in identity else None
    if id_domain is None or not (id_domain == domain or id_domain.endswith("." + domain)):
        return _perm("dkim.identity", "i= is not within the d= domain")
    return identity


def _body_length(tags: dict[bytes, bytes]) -> int | Refusal | None:
    """The ``l=`` body length, None without one; refused if it is not a number."""
    if b"l" not in tags:
        return None
    if not _DIGITS.fullmatch(tags[b"l"].strip()):
        return _perm("dkim.syntax", "l= is not a number")
    return int(tags[b"l"].strip())


def _query_method_refusal(tags: dict[bytes, bytes]) -> Refusal | None:
    """Refused if ``q=`` is given and offers no DNS TXT key query."""
    if b"q" in tags:
        methods = [m.strip() for m in tags[b"q"].split(b":")]
        if not any(m == b"dns/txt" or m.startswith(b"dns/txt") for m in methods):
            return _perm("dkim.query_method", "q= offers no dns/txt key query")
    return None


def _timestamps_refusal(tags: dict[bytes, bytes], now: datetime) -> Refusal | None:
    """Refused for a malformed ``t=``/``x=``, an ``x=`` before ``t=``, or an expired signature."""
    times: dict[bytes, int] = {}
    for tag in (b"t", b"x"):
        if tag in tags:
            if not _DIGITS.fullmatch(tags[tag].strip()):
                return _perm("dkim.syntax", f"{tag.decode()}= is not a timestamp")
            times[tag] = int(tags[tag].strip())
    if b"x" in times and b"t" in times and times[b"x"] < times[b"t"]:
        return _perm("dkim.timestamps", "x= is before t=")
    if b"x" in times and times[b"x"] < (now - CLOCK_SKEW).timestamp():
        return Refusal(result="policy", code="dkim.expired", reason="the signature has expired")
    return None


def _key_fits(sig: _Signature, key: DkimKey) -> Refusal | None:
    kind = "ed25519" if sig.algorithm.startswith("ed25519") else "rsa"
    if key.kind != kind:
        return Refusal(
            result="permerror",
            code="dkim.key_mismatch",
            reason=f"a {key.kind} key cannot check an {sig.algorithm} signature",
        )
    if key.hashes is not None and sig.hash_name not in key.hashes:
        return Refusal(
            result="permerror",
            code="dkim.key_mismatch",
            reason=f"the key does not allow {sig.hash_name} (h=)",
        )
    if key.strict_identity and a_label(sig.identity.rpartition("@")[2]) != sig.domain:
        return Refusal(
            result="permerror",
            code="dkim.identity",
            reason="the key requires i= in exactly the d= domain (t=s)",
        )
    return None


def verify_dkim(
    raw: bytes,
    dns: DnsResolver,
    *,
    max_signatures: int = 10,
    now: datetime,
    body_hashes: BodyHashes | None = None,
) -> tuple[DkimSignatureResult, ...]:
    """Verify every DKIM-Signature of ``raw`` (topmost first) and say how each fared.

    An unsigned message gives ``()``. ``now`` (timezone-aware) judges ``x=`` expiry.
    ``body_hashes`` is the message's shared :class:`~inboxcore.auth.bodyhash.BodyHashes` (made for
    ``raw``); without one, a private one is used.
    """
    if now.tzinfo is None:
        raise InvalidValueError("now must be timezone-aware")
    if body_hashes is None:
        body_hashes = BodyHashes(raw)
    elif body_hashes.raw is not raw:
        raise InvalidValueError("body_hashes was made for another message")
    headers = body_hashes.headers
    fields = [(n, v) for n, v in headers if n.rstrip(b" \t").lower() == b"dkim-signature"]
    results: dict[int, DkimSignatureResult] = {}
    keys: dict[tuple[str, str], DkimKey | Refusal] = {}
    ready: list[tuple[_Signature, DkimKey]] = []
    for index, field in enumerate(fields):
        if index >= max_signatures:
            results[index] = _refused(
                field,
                Refusal(
                    result="neutral",
                    code="dkim.not_checked",
                    reason=f"not checked: over the limit of {max_signatures} signatures",
                ),
            )
            continue
        prepared = _prepare(index, field, dns, keys, now)
        if isinstance(prepared, DkimSignatureResult):
            results[index] = prepared
            continue
        ready.append(prepared)
        body_hashes.request(_body_key(prepared[0]))
    # Every body hash is requested before any is read: one walk per canonicalization serves all.
    for sig, key in ready:
        results[sig.index] = _verify(sig, key, headers, body_hashes)
    return tuple(results[i] for i in range(len(fields)))


def _prepare(
    index: int,
    field: tuple[bytes, bytes],
    dns: DnsResolver,
    keys: dict[tuple[str, str], DkimKey | Refusal],
    now: datetime,
) -> tuple[_Signature, DkimKey] | DkimSignatureResult:
    """Parse one signature and fetch a fitting key; the result already if either is refused."""
    tags = parse_tags(field[1])
    if tags is None:
        return _refused(
            field, Refusal(result="permerror", code="dkim.syntax", reason="malformed tags")
        )
    parsed = _parse_signature(index, field, tags, now)
    if isinstance(parsed, Refusal):
        return _refused(field, parsed)
    key = fetch_key(dns, parsed.selector, parsed.domain, keys)
    if isinstance(key, DkimKey):
        mismatch = _key_fits(parsed, key)
        if mismatch is None:
            return parsed, key
        key_refusal = mismatch
    else:
        key_refusal = key
    return _refused(field, key_refusal, domain=parsed.domain, selector=parsed.selector)


def _refused(
    field: tuple[bytes, bytes], refusal: Refusal, **known: str | int | None
) -> DkimSignatureResult:
    """The result of a signature refused before verification, with what its tags still tell."""
    details = _partial(parse_tags(field[1]), _header_b(field[1]))
    details.update(known)
    return DkimSignatureResult(
        result=refusal.result,
        code=refusal.code,
        reason=refusal.reason,
        domain=str(details["domain"]),
        selector=str(details["selector"]),
        algorithm=str(details["algorithm"]),
        identity=details["identity"] if isinstance(details["identity"], str) else None,
        body_length=details["body_length"] if isinstance(details["body_length"], int) else None,
        header_b=str(details["header_b"]),
    )


def _body_key(sig: _Signature) -> BodyHashKey:
    return BodyHashKey(
        canonicalization=sig.body_canon, algorithm=sig.hash_name, length=sig.body_length
    )


def _verify(
    sig: _Signature,
    key: DkimKey,
    headers: Sequence[tuple[bytes, bytes]],
    body_hashes: BodyHashes,
) -> DkimSignatureResult:
    def result(value: str, code: str, reason: str) -> DkimSignatureResult:
        return DkimSignatureResult(
            domain=sig.domain,
            selector=sig.selector,
            algorithm=sig.algorithm,
            result=value,
            code=code,
            reason=reason,
            key_bits=key.bits,
            body_length=sig.body_length,
            header_b=sig.header_b,
            identity=sig.identity,
            testing=key.testing,
        )

    length = body_hashes.canonical_length(sig.body_canon)
    if sig.body_length is not None and sig.body_length > length:
        return result("fail", "dkim.body_length", "l= is longer than the body")
    if body_hashes.digest(_body_key(sig)) != sig.body_hash:
        return result("fail", "dkim.body_hash", "the body was changed after signing")
    include = list(sig.include)
    # A second From above the signed one must break the signature (dkimpy does the same).
    include.append(b"from")
    hasher = hash_signed_headers(sig.hash_name, sig.header_canon, body_hashes, include, sig.header)
    if not check_signature(key, hasher, sig.signature):
        return result("fail", "dkim.signature", "the signature does not verify")
    if sig.algorithm == "rsa-sha1":
        return result("policy", "dkim.sha1", "rsa-sha1 signatures are not accepted (RFC 8301)")
    if key.kind == "rsa" and key.bits < MIN_RSA_BITS:
        return result(
            "policy", "dkim.weak_key", f"{key.bits}-bit RSA keys are not accepted (RFC 8301)"
        )
    if sig.body_length is not None and sig.body_length < length:
        return result(
            "policy",
            "dkim.partial_body",
            f"only {sig.body_length} of {length} body octets are signed (l=)",
        )
    return result("pass", "dkim.pass", "the signature verifies")
