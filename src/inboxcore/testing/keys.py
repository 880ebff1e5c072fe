"""A DKIM key store for tests, and key pairs to put in it.

:class:`InMemoryDkimKeys` is the :class:`~inboxcore.ports.DkimKeyStore` port over a dict: keys per
signing domain, newest first, as a host's vault or settings table would hand them out. It records
each lookup (``lookups``), can fail the next ones with a
:class:`~inboxcore.domain.errors.PortError` (a
sealed vault), and publishes the matching DNS records (:meth:`InMemoryDkimKeys.dns_records`), so
that a test signs with the library and verifies against an
:class:`~inboxcore.testing.InMemoryDns` zone built from the same store.

:func:`generate_rsa_key` and :func:`generate_ed25519_key` make key pairs with their DKIM record.
Generating an RSA key takes a noticeable fraction of a second, so the RSA pair of a given size is
made once per process and shared unless ``fresh=True`` asks for another; an Ed25519 pair is derived
from a seed (by default from its selector), so that runs repeat exactly.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from inboxcore.domain.addresses import normalize_domain
from inboxcore.domain.errors import InvalidValueError, PortError
from inboxcore.domain.model import DkimSigningKey

__all__ = [
    "GeneratedDkimKey",
    "InMemoryDkimKeys",
    "dkim_record",
    "generate_ed25519_key",
    "generate_rsa_key",
]


@attrs.frozen(kw_only=True)
class GeneratedDkimKey:
    """A key pair for tests: the private half as the store hands it out, the public half as the
    TXT record a domain publishes at ``<selector>._domainkey.<domain>``."""

    key: DkimSigningKey
    record: str
    """``v=DKIM1; k=rsa; p=...`` or ``v=DKIM1; k=ed25519; p=...``."""

    @property
    def selector(self) -> str:
        return self.key.selector

    def dns_name(self, domain: str) -> str:
        """Where the record is published for ``domain``."""
        return f"{self.key.selector}._domainkey.{normalize_domain(domain)}"


def dkim_record(key: DkimSigningKey) -> str:
    """The DKIM TXT record (RFC 6376 section 3.6.1; RFC 8463 for Ed25519) publishing the public
    half of ``key``. Raises :class:`~inboxcore.domain.errors.InvalidValueError` for a key that is
    neither a PEM RSA or Ed25519 key nor a base64 Ed25519 seed."""
    material = key.private_key.strip()
    private: object
    if material.startswith(b"-----BEGIN"):
        try:
            private = serialization.load_pem_private_key(material, password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidValueError(f"DKIM key {key.selector!r} is not a usable PEM key") from exc
    else:
        try:
            seed = base64.b64decode(material, validate=True)
            private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        except ValueError as exc:
            raise InvalidValueError(f"DKIM key {key.selector!r} is not an Ed25519 seed") from exc
    if isinstance(private, rsa.RSAPrivateKey):
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"
    raise InvalidValueError(f"DKIM key {key.selector!r} is neither RSA nor Ed25519")


@functools.cache
def _shared_rsa_pem(bits: int) -> bytes:
    return _rsa_pem(bits)


def _rsa_pem(bits: int) -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_rsa_key(
    selector: str = "s1",
    *,
    bits: int = 2048,
    fresh: bool = False,
    not_before: datetime | None = None,
    sign_until: datetime | None = None,
) -> GeneratedDkimKey:
    """An RSA key (PKCS#8 PEM) with its record. The pair of a given size is shared within the
    process (generation is slow) unless ``fresh``. At least 1024 bits: the ``cryptography``
    package generates none smaller."""
    if bits < 1024:
        raise InvalidValueError("test RSA keys have at least 1024 bits")
    pem = _rsa_pem(bits) if fresh else _shared_rsa_pem(bits)
    key = DkimSigningKey(
        selector=selector, private_key=pem, not_before=not_before, sign_until=sign_until
    )
    return GeneratedDkimKey(key=key, record=dkim_record(key))


def generate_ed25519_key(
    selector: str = "s1",
    *,
    seed: bytes | None = None,
    pem: bool = False,
    not_before: datetime | None = None,
    sign_until: datetime | None = None,
) -> GeneratedDkimKey:
    """An Ed25519 key with its record, as the base64 seed dkimpy and ``rspamadm dkim_keygen``
    write (or PKCS#8 PEM with ``pem=True``). Without ``seed`` the key is derived from the
    selector: the same selector gives the same key in every run, another selector another key.
    """
    if seed is None:
        seed = hashlib.sha256(b"inboxcore.testing.ed25519:" + selector.encode("utf-8")).digest()
    if len(seed) != 32:
        raise InvalidValueError("an Ed25519 seed is 32 bytes")
    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    if pem:
        material = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        material = base64.b64encode(seed)
    key = DkimSigningKey(
        selector=selector, private_key=material, not_before=not_before, sign_until=sign_until
    )
    return GeneratedDkimKey(key=key, record=dkim_record(key))


def _signing_key(key: DkimSigningKey | GeneratedDkimKey) -> DkimSigningKey:
    return key.key if isinstance(key, GeneratedDkimKey) else key


class InMemoryDkimKeys:
    """The :class:`~inboxcore.ports.DkimKeyStore` port in memory; safe under threads.

    ``keys`` maps a signing domain to its keys, newest first (a :class:`GeneratedDkimKey` is
    taken for its key). Domains are compared as lowercase A-labels, as the port promises.
    """

    def __init__(
        self,
        keys: Mapping[str, Sequence[DkimSigningKey | GeneratedDkimKey]] | None = None,
    ) -> None:
        self._keys: dict[str, tuple[DkimSigningKey, ...]] = {}
        self._failures: list[PortError] = []
        self._lock = threading.Lock()
        self.lookups: list[str] = []
        """Every domain asked for, in order (failed lookups included)."""
        for domain, domain_keys in (keys or {}).items():
            self.set_keys(domain, domain_keys)

    def signing_keys(self, domain: str) -> tuple[DkimSigningKey, ...]:
        with self._lock:
            self.lookups.append(domain)
            if self._failures:
                raise self._failures.pop(0)
            return self._keys.get(_domain(domain), ())

    def set_keys(self, domain: str, keys: Iterable[DkimSigningKey | GeneratedDkimKey]) -> None:
        """Replace the keys of ``domain`` (newest first); an empty list removes the domain."""
        found = tuple(_signing_key(k) for k in keys)
        with self._lock:
            if found:
                self._keys[_domain(domain)] = found
            else:
                self._keys.pop(_domain(domain), None)

    def add(self, domain: str, key: DkimSigningKey | GeneratedDkimKey) -> None:
        """Put ``key`` in front of the domain's keys, as a host does when it rotates selectors
        (a key with the same selector is replaced)."""
        new = _signing_key(key)
        with self._lock:
            name = _domain(domain)
            older = [k for k in self._keys.get(name, ()) if k.selector != new.selector]
            self._keys[name] = (new, *older)

    def remove(self, domain: str, selector: str) -> None:
        """Drop the key with ``selector`` from the domain (the end of a rotation)."""
        with self._lock:
            name = _domain(domain)
            kept = tuple(k for k in self._keys.get(name, ()) if k.selector != selector)
            if kept:
                self._keys[name] = kept
            else:
                self._keys.pop(name, None)

    def fail_next_lookups(self, count: int = 1, error: PortError | None = None) -> None:
        """Make the next ``count`` lookups raise ``error`` (a sealed vault by default)."""
        with self._lock:
            self._failures.extend([error or PortError("the DKIM key store is unavailable")] * count)

    def domains(self) -> tuple[str, ...]:
        """The domains holding keys, sorted."""
        with self._lock:
            return tuple(sorted(self._keys))

    def dns_records(self) -> dict[str, dict[str, str]]:
        """The TXT record of every key, by ``<selector>._domainkey.<domain>``, in the shape
        :class:`~inboxcore.testing.InMemoryDns` takes: ``InMemoryDns(store.dns_records())``."""
        with self._lock:
            entries = [(d, k) for d, keys in self._keys.items() for k in keys]
        return {
            f"{key.selector}._domainkey.{domain}": {"TXT": dkim_record(key)}
            for domain, key in entries
        }


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidValueError:
        return value.strip().lower()
