"""DKIM signing of our outbound mail (RFC 6376; Ed25519 by RFC 8463), with host-held keys.

The keys live with the host, behind the :class:`~inboxcore.ports.DkimKeyStore` port, listed per
signing domain newest first. :func:`sign_message` picks the signing domain, the keys and the
header fields, and prepends one ``DKIM-Signature`` per key.

**Which domain signs.** The From address's own domain when the store holds a key for it (the
account's connected sending domain: the signature then aligns with From for DMARC), else a hosted
domain that From's domain is, or lies under (the default from-address
``ada@acme.inbox.example.net`` is signed ``d=inbox.example.net``, which DMARC's relaxed alignment
accepts). A message whose From matches no domain with a key goes out unsigned: signing it with
an unrelated domain would help no receiver and could tie that domain's reputation to it.

**Which keys.** The newest key whose ``not_before`` has come signs. During a selector rotation
an older key with a ``sign_until`` still ahead signs as well, so that a receiver whose resolver
has not yet seen the new selector's record can still verify the old one; at most
:data:`MAX_SIGNATURES` signatures go on one message. RSA keys under 1024 bits are refused (RFC
8301: receivers must not accept them), so a weak key fails loudly at the host, not silently at
every receiver.

**Which header fields.** Those in :data:`SIGNED_HEADERS` that the message carries, each as often
as it occurs, and those in :data:`OVERSIGNED_HEADERS` once more than they occur: an extra, empty
entry in ``h=`` makes a receiver's verification fail if anyone adds another such field (a second
From or Subject) on the way. Fields that relays add or rewrite (Received, Return-Path, the
authentication results, other DKIM and ARC fields) are never signed. Canonicalization is
``relaxed/relaxed``, which survives the re-folding and white-space changes of ordinary relays;
no ``l=`` is written, so nothing can be appended to a signed body.

The primitives are dkimpy's (header canonicalization and hashing, folding), the body hash our
:class:`~inboxcore.auth.bodyhash.BodyHashes` (one streaming pass, also for 30 MB messages), and the
private-key operations the ``cryptography`` package's, so that Ed25519 needs no PyNaCl and the
signature time (``t=``) comes from the caller's clock, not from ``time.time()``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from dkim import hash_headers
from dkim.canonicalization import CanonicalizationPolicy

from inboxcore.auth.bodyhash import BodyHashes, BodyHashKey
from inboxcore.domain.addresses import normalize_domain
from inboxcore.domain.errors import InvalidEmailAddress, InvalidValueError
from inboxcore.domain.model import DkimSigningKey
from inboxcore.ports import DkimKeyStore

__all__ = [
    "DkimSigned",
    "MAX_SIGNATURES",
    "MIN_RSA_BITS",
    "OVERSIGNED_HEADERS",
    "SIGNED_HEADERS",
    "algorithm_of",
    "dkim_signature",
    "keys_to_sign_with",
    "sign_message",
    "signing_domains",
]

MAX_SIGNATURES = 3
"""The most signatures one message gets (the newest key and keys still in a rotation window)."""

MIN_RSA_BITS = 1024
"""RSA keys shorter than this are refused: receivers must not accept them (RFC 8301)."""

SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "auto-submitted",
    "x-auto-response-suppress",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "x-inboxcore-loop",
)
"""Header fields signed wherever the message has them."""

OVERSIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "subject",
    "to",
    "cc",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
)
"""Header fields listed once more than they occur, so that none can be added in transit."""

_BODY_KEY = BodyHashKey(canonicalization="relaxed", algorithm="sha256")
_LINE = 76
_B_CHUNK = 72
_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_PrivateKey = RSAPrivateKey | Ed25519PrivateKey


@attrs.frozen(kw_only=True)
class DkimSigned:
    """A message after signing: its bytes and who signed it (for logs and tests)."""

    data: bytes
    domain: str | None = None
    """The ``d=`` domain, or None when the message went out unsigned."""
    selectors: tuple[str, ...] = ()


def _load_key(key: DkimSigningKey) -> _PrivateKey:
    """The private key, or :class:`InvalidValueError` naming the selector (never the key)."""
    material = key.private_key.strip()
    if material.startswith(b"-----BEGIN"):
        try:
            loaded = serialization.load_pem_private_key(material, password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidValueError(f"DKIM key {key.selector!r} is not a usable PEM key") from exc
    else:
        try:
            seed = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidValueError(f"DKIM key {key.selector!r} is neither PEM nor base64") from exc
        if len(seed) != 32:
            raise InvalidValueError(f"DKIM key {key.selector!r}: an Ed25519 seed is 32 bytes")
        loaded = Ed25519PrivateKey.from_private_bytes(seed)
    if isinstance(loaded, RSAPrivateKey):
        if loaded.key_size < MIN_RSA_BITS:
            raise InvalidValueError(
                f"DKIM key {key.selector!r} has {loaded.key_size} bits; receivers refuse RSA "
                f"keys under {MIN_RSA_BITS} bits"
            )
        return loaded
    if isinstance(loaded, Ed25519PrivateKey):
        return loaded
    raise InvalidValueError(f"DKIM key {key.selector!r} is neither RSA nor Ed25519")


def algorithm_of(key: DkimSigningKey) -> str:
    """``rsa-sha256`` or ``ed25519-sha256``; :class:`InvalidValueError` for an unusable key."""
    return "ed25519-sha256" if isinstance(_load_key(key), Ed25519PrivateKey) else "rsa-sha256"


def _selector(value: str) -> str:
    try:
        name = normalize_domain(value)
    except InvalidEmailAddress as exc:
        raise InvalidValueError(f"not a DKIM selector: {value!r}") from exc
    if name.startswith("["):
        raise InvalidValueError(f"not a DKIM selector: {value!r}")
    return name


def keys_to_sign_with(keys: Sequence[DkimSigningKey], now: datetime) -> tuple[DkimSigningKey, ...]:
    """The keys that sign now: the newest one in force, then older ones still inside their
    rotation window (``sign_until`` ahead), at most :data:`MAX_SIGNATURES` in all."""
    in_force = [k for k in keys if k.not_before is None or k.not_before <= now]
    if not in_force:
        return ()
    newest, *older = in_force
    chosen = [newest]
    seen = {newest.selector.lower()}
    for key in older:
        if len(chosen) >= MAX_SIGNATURES:
            break
        if key.sign_until is not None and key.sign_until > now and key.selector.lower() not in seen:
            chosen.append(key)
            seen.add(key.selector.lower())
    return tuple(chosen)


def signing_domains(from_domain: str, hosted_domains: Iterable[str] = ()) -> tuple[str, ...]:
    """Where to look for a key, in order: From's domain, then each hosted domain that From's
    domain is or lies under (relaxed DMARC alignment). Lowercase A-labels; never raises."""
    try:
        own = normalize_domain(from_domain)
    except InvalidEmailAddress:
        return ()
    found = [own]
    for hosted in hosted_domains:
        try:
            name = normalize_domain(hosted)
        except InvalidEmailAddress:
            continue
        if (own == name or own.endswith("." + name)) and name not in found:
            found.append(name)
    return tuple(found)


def _include(body_hashes: BodyHashes) -> tuple[bytes, ...]:
    positions = body_hashes.header_positions(relaxed=True)
    include: list[bytes] = []
    for name in SIGNED_HEADERS:
        count = len(positions.get(name.encode("ascii"), ()))
        extra = 1 if name in OVERSIGNED_HEADERS else 0
        include.extend([name.encode("ascii")] * (count + extra))
    return tuple(include)


def dkim_signature(
    raw: bytes,
    key: DkimSigningKey,
    *,
    domain: str,
    now: datetime,
    expire_after: timedelta | None = None,
    body_hashes: BodyHashes | None = None,
) -> bytes:
    """The ``DKIM-Signature`` header field (name, value, CRLF) signing ``raw`` as ``d=domain``
    with ``key``; prepend it to ``raw``. ``expire_after`` writes ``x=`` (RFC 6376 suggests it
    for keys that rotate often). Raises :class:`InvalidValueError` for an unusable key, domain or
    selector, and for a message without a From field (DKIM must sign From)."""
    if now.tzinfo is None:
        raise InvalidValueError("now must be timezone-aware")
    private = _load_key(key)
    selector = _selector(key.selector)
    try:
        d = normalize_domain(domain)
    except InvalidEmailAddress as exc:
        raise InvalidValueError(f"not a signing domain: {domain!r}") from exc
    if body_hashes is None:
        body_hashes = BodyHashes(raw)
    elif body_hashes.raw is not raw:
        raise InvalidValueError("body_hashes was made for another message")
    if not body_hashes.header_positions(relaxed=True).get(b"from"):
        raise InvalidValueError("a message without a From field cannot be DKIM-signed")
    include = _include(body_hashes)
    algorithm = "ed25519-sha256" if isinstance(private, Ed25519PrivateKey) else "rsa-sha256"
    body_hashes.request(_BODY_KEY)
    body_hash = base64.b64encode(body_hashes.digest(_BODY_KEY))
    pieces = _tag_pieces(algorithm, d, selector, now, expire_after, include, body_hash)
    # Folded here, before hashing, and only where white space already is, so that the field
    # hashed is the field sent (relaxed canonicalization turns each fold into one space).
    unsigned = (_fold(pieces) + "\r\n b=").encode("ascii")
    hasher = hashlib.sha256()
    canonical = _RELAXED.canonicalize_headers(list(body_hashes.headers))
    hash_headers(
        hasher, _RELAXED, canonical, list(include), (b"DKIM-Signature", b" " + unsigned), {}
    )
    b64 = base64.b64encode(_sign(private, hasher.digest()))
    chunks = [b64[i : i + _B_CHUNK] for i in range(0, len(b64), _B_CHUNK)]
    return b"DKIM-Signature: " + unsigned + b"\r\n ".join(chunks) + b"\r\n"


def _tag_pieces(
    algorithm: str,
    domain: str,
    selector: str,
    now: datetime,
    expire_after: timedelta | None,
    include: Sequence[bytes],
    body_hash: bytes,
) -> list[str]:
    """The signature's tags up to ``bh=``, each piece a place where the field may be folded."""
    timestamp = int(now.timestamp())
    pieces = [
        "v=1;",
        f"a={algorithm};",
        "c=relaxed/relaxed;",
        f"d={domain};",
        f"s={selector};",
        f"t={timestamp};",
    ]
    if expire_after is not None:
        if expire_after <= timedelta(0):
            raise InvalidValueError("expire_after must be positive")
        pieces.append(f"x={timestamp + int(expire_after.total_seconds())};")
    names = [n.decode("ascii") for n in include]
    pieces += [f"h={names[0]}:", *(f"{n}:" for n in names[1:-1]), f"{names[-1]};"]
    pieces.append(f"bh={body_hash.decode('ascii')};")
    return pieces


def _sign(private: _PrivateKey, digest: bytes) -> bytes:
    """Sign the SHA-256 ``digest`` of the signed header fields (Ed25519 or RSA PKCS#1 v1.5)."""
    if isinstance(private, Ed25519PrivateKey):
        return private.sign(digest)
    return private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def _fold(pieces: Sequence[str]) -> str:
    """The pieces joined by single spaces, a space turned into a fold before a line would pass
    :data:`_LINE` characters (the field name counts on the first line)."""
    lines: list[str] = []
    line = ""
    used = len("DKIM-Signature: ")
    for piece in pieces:
        if line and used + len(line) + 1 + len(piece) > _LINE:
            lines.append(line)
            line, used = piece, 1
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\r\n ".join(lines)


def sign_message(
    raw: bytes,
    keys: DkimKeyStore,
    *,
    from_domain: str,
    hosted_domains: Iterable[str] = (),
    now: datetime,
    expire_after: timedelta | None = None,
) -> DkimSigned:
    """``raw`` with a DKIM signature by each key that signs now, for the first of
    :func:`signing_domains` whose store entry has one; unchanged when none has.

    The newest signature ends up on top. A :class:`~inboxcore.domain.errors.PortError` from the
    store
    propagates (the caller decides whether to send unsigned or to wait); an unusable key raises
    :class:`InvalidValueError`.
    """
    for domain in signing_domains(from_domain, hosted_domains):
        chosen = keys_to_sign_with(keys.signing_keys(domain), now)
        if not chosen:
            continue
        body_hashes = BodyHashes(raw)
        fields = [
            dkim_signature(
                raw,
                key,
                domain=domain,
                now=now,
                expire_after=expire_after,
                body_hashes=body_hashes,
            )
            for key in chosen
        ]
        return DkimSigned(
            data=b"".join(fields) + raw,
            domain=domain,
            selectors=tuple(_selector(k.selector) for k in chosen),
        )
    return DkimSigned(data=raw)
