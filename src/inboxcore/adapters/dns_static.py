"""A DNS resolver answering from a static zone: offline, reproducible runs and tests.

The zone is a mapping (or a JSON file) from names to record sets::

    {"example.com": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"], "A": ["192.0.2.1"],
                     "MX": ["10 mx.example.com"]},
     "broken.example": "SERVFAIL",
     "slow.example": "TIMEOUT"}

Names are case-insensitive, with or without the trailing dot. A TXT value is one string, split
into 255-octet character-strings as DNS would carry it (give a list of strings to choose the split
yourself). A name that is absent is NXDOMAIN, a type that is absent is NODATA: both answer ``()``.
``"SERVFAIL"`` and ``"TIMEOUT"`` make every lookup of the name raise
:class:`~inboxcore.domain.errors.DnsTemporaryError`. A name with a ``CNAME`` answers lookups of
other
types from its target, as a recursive resolver would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inboxcore.domain.errors import DnsTemporaryError, InvalidValueError
from inboxcore.domain.model import MxRecord

__all__ = ["StaticResolver"]

_FAILURES = ("SERVFAIL", "TIMEOUT")
_TYPES = ("TXT", "A", "AAAA", "MX", "PTR", "CNAME")
_MAX_CNAME_HOPS = 8


def _name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _txt_strings(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value)
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not data:
        return (b"",)
    return tuple(data[i : i + 255] for i in range(0, len(data), 255))


class StaticResolver:
    """The :class:`~inboxcore.ports.DnsResolver` port over a static zone; safe under threads.

    ``calls`` lists every lookup as ``(name, type)``; :meth:`fail` and :meth:`add` change the zone
    (for tests that inject failures).
    """

    def __init__(self, zone: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, list[Any]]] = {}
        self._failures: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        for name, records in (zone or {}).items():
            if isinstance(records, str):
                self.fail(name, records)
                continue
            if not isinstance(records, Mapping):
                raise InvalidValueError(
                    f"zone entry for {name!r} must be an object or a failure word"
                )
            for rdtype, values in records.items():
                items = values if isinstance(values, list) else [values]
                for value in items:
                    self.add(name, rdtype, value)

    @classmethod
    def from_file(cls, path: str | Path) -> StaticResolver:
        """Load a JSON zone file; :class:`~inboxcore.domain.errors.InvalidValueError` if it is not
        one."""
        try:
            zone = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidValueError(f"cannot read DNS zone file {path}: {exc}") from exc
        if not isinstance(zone, dict):
            raise InvalidValueError(f"DNS zone file {path} must hold a JSON object")
        return cls(zone)

    def add(self, name: str, rdtype: str, value: Any) -> None:
        """Add one record (``value`` as in the zone format)."""
        rdtype = rdtype.upper()
        if rdtype not in _TYPES:
            raise InvalidValueError(f"unsupported record type {rdtype!r} for {name!r}")
        with self._lock:
            self._records.setdefault(_name(name), {}).setdefault(rdtype, []).append(value)

    def fail(self, name: str, how: str = "TIMEOUT") -> None:
        """Make every lookup of ``name`` fail temporarily (``"TIMEOUT"`` or ``"SERVFAIL"``)."""
        how = how.upper()
        if how not in _FAILURES:
            raise InvalidValueError(f"unknown failure {how!r}; use one of {_FAILURES}")
        with self._lock:
            self._failures[_name(name)] = how

    def _lookup(self, name: str, rdtype: str) -> Sequence[Any]:
        key = _name(name)
        with self._lock:
            self.calls.append((key, rdtype))
            # Like a recursive resolver, follow a CNAME for any other type (DKIM selectors are
            # often delegated to the sending service this way). A loop or an overlong chain ends
            # in no answer, as the RFC 7208 suite expects (ptr-cname-loop), not in a failure.
            for _ in range(_MAX_CNAME_HOPS):
                failure = self._failures.get(key)
                if failure is not None:
                    raise DnsTemporaryError(key, rdtype, failure.lower())
                records = self._records.get(key, {})
                if rdtype in records or rdtype == "CNAME" or "CNAME" not in records:
                    return list(records.get(rdtype, ()))
                key = _name(str(records["CNAME"][0]))
            return []

    def txt(self, name: str) -> tuple[tuple[bytes, ...], ...]:
        return tuple(_txt_strings(v) for v in self._lookup(name, "TXT"))

    def a(self, name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self._lookup(name, "A"))

    def aaaa(self, name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self._lookup(name, "AAAA"))

    def mx(self, name: str) -> tuple[MxRecord, ...]:
        found: list[MxRecord] = []
        for value in self._lookup(name, "MX"):
            if isinstance(value, (list, tuple)):
                pref, host = value
            else:
                pref, _, host = str(value).strip().partition(" ")
            found.append(MxRecord(preference=int(pref), exchange=_name(str(host))))
        return tuple(found)

    def ptr(self, name: str) -> tuple[str, ...]:
        return tuple(_name(str(v)) for v in self._lookup(name, "PTR"))

    def cname(self, name: str) -> tuple[str, ...]:
        return tuple(_name(str(v)) for v in self._lookup(name, "CNAME"))
