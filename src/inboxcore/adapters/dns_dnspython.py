"""The DNS port on dnspython: the production resolver for SPF, DKIM, ARC and DMARC lookups.

What a mail host needs of DNS beyond "ask the resolver":

- **The error contract, exactly.** NXDOMAIN and NODATA (``NoAnswer``) are ``()``; SERVFAIL,
  REFUSED (dnspython's ``NoNameservers``), timeouts and malformed replies raise
  :class:`~inboxcore.domain.errors.DnsTemporaryError`. Confusing the two turns a network fault into
  a
  forged-mail verdict.
- **A per-lookup timeout** (``timeout``) and **a per-message budget**: :meth:`budget` returns a
  view of the resolver whose lookups together may take at most so many seconds, after which
  every uncached lookup raises ``DnsTemporaryError``. One message with a hostile SPF record (ten
  includes on dead servers) cannot hold a worker for minutes; it is deferred or rechecked later.
- **A TTL cache** shared by every view and thread: answers are kept for their TTL (at most
  ``max_ttl``); NXDOMAIN and NODATA are kept per RFC 2308 (the SOA's minimum and TTL, at most
  ``max_negative_ttl``). Temporary failures are never cached. Cache hits cost no budget.

Names are queried absolute (no search domains): ``example.com`` never becomes
``example.com.corp.internal``. CNAMEs are followed by dnspython, as a recursive resolver does.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from inboxcore.domain.errors import ConfigurationError, DnsTemporaryError, Problem
from inboxcore.domain.model import MxRecord

__all__ = ["BudgetedResolver", "DnspythonResolver"]

_Result = tuple[Any, ...]


def _absolute(name: str) -> dns.name.Name | None:
    """The absolute query name, or None if ``name`` cannot be one (it then has no records)."""
    text = name.strip().rstrip(".")
    if not text:
        return None
    try:
        return dns.name.from_text(text + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return None


def _negative_ttl(response: dns.message.Message | None) -> int | None:
    """The negative-caching TTL of an NXDOMAIN/NODATA reply (RFC 2308), None if unknown."""
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            soa: Any = rrset[0]
            return int(min(rrset.ttl, soa.minimum))
    return None


class DnspythonResolver:
    """The :class:`~inboxcore.ports.DnsResolver` port on dnspython; safe under threads.

    ``resolver`` is a configured ``dns.resolver.Resolver`` (the system's by default: a missing
    ``/etc/resolv.conf`` is a :class:`~inboxcore.domain.errors.ConfigurationError`). ``clock`` is a
    monotonic seconds function, injectable so tests can age the cache.
    """

    def __init__(
        self,
        *,
        resolver: dns.resolver.Resolver | None = None,
        timeout: float = 5.0,
        max_ttl: int = 3600,
        max_negative_ttl: int = 900,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if resolver is None:
            try:
                resolver = dns.resolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                raise ConfigurationError(
                    [Problem(code="dns.no_resolver", message=f"no usable DNS resolver: {exc}")]
                ) from exc
        self._resolver = resolver
        self.timeout = timeout
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self._cache_size = cache_size
        self.clock = clock
        """The monotonic clock the cache and budgets run on."""
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[float, _Result]] = OrderedDict()
        self.lookups = 0
        """How many queries went to the network (cache misses); for tests and metrics."""

    # -- the port ------------------------------------------------------------------------------

    def txt(self, name: str) -> tuple[tuple[bytes, ...], ...]:
        return self._lookup(name, "TXT", None)

    def a(self, name: str) -> tuple[str, ...]:
        return self._lookup(name, "A", None)

    def aaaa(self, name: str) -> tuple[str, ...]:
        return self._lookup(name, "AAAA", None)

    def mx(self, name: str) -> tuple[MxRecord, ...]:
        return self._lookup(name, "MX", None)

    def ptr(self, name: str) -> tuple[str, ...]:
        return self._lookup(name, "PTR", None)

    def cname(self, name: str) -> tuple[str, ...]:
        return self._lookup(name, "CNAME", None)

    # -- budget and cache ----------------------------------------------------------------------

    def budget(self, seconds: float) -> BudgetedResolver:
        """A view of this resolver whose uncached lookups may take ``seconds`` in all."""
        return BudgetedResolver(self, self.clock() + seconds)

    def clear_cache(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[str, str]) -> _Result | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            expires, value = entry
            if self.clock() >= expires:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return value

    def _store(self, key: tuple[str, str], value: _Result, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._cache[key] = (self.clock() + ttl, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- the lookup ----------------------------------------------------------------------------

    def _lookup(self, name: str, rdtype: str, deadline: float | None) -> _Result:
        key = (name.strip().rstrip(".").lower(), rdtype)
        cached = self._cached(key)
        if cached is not None:
            return cached
        qname = _absolute(key[0])
        if qname is None:
            return ()
        lifetime = self.timeout
        if deadline is not None:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise DnsTemporaryError(key[0], rdtype, "the DNS time budget is spent")
            lifetime = min(lifetime, remaining)
        with self._lock:
            self.lookups += 1
        value, ttl = self._query(qname, key[0], rdtype, lifetime)
        self._store(key, value, ttl)
        return value

    def _query(
        self, qname: dns.name.Name, name: str, rdtype: str, lifetime: float
    ) -> tuple[_Result, float]:
        """Ask dnspython; map its outcomes onto the port's contract. Returns (value, ttl)."""
        try:
            answer = self._resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, lifetime=lifetime, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            responses = exc.kwargs.get("responses") or {}
            response = next(iter(responses.values()), None)
            return (), self._negative(_negative_ttl(response))
        except dns.resolver.NoAnswer as exc:  # only if a resolver raises it regardless
            return (), self._negative(_negative_ttl(exc.kwargs.get("response")))
        except dns.resolver.YXDOMAIN:
            return (), 0
        except dns.exception.Timeout as exc:
            raise DnsTemporaryError(name, rdtype, f"timeout: {exc}") from exc
        except dns.resolver.NoNameservers as exc:
            raise DnsTemporaryError(name, rdtype, f"servfail: {exc}") from exc
        except dns.exception.DNSException as exc:
            raise DnsTemporaryError(name, rdtype, f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:  # the network itself (no route, socket errors)
            raise DnsTemporaryError(name, rdtype, f"network error: {exc}") from exc
        rrset = answer.rrset
        if rrset is None:
            return (), self._negative(_negative_ttl(answer.response))
        ttl = min(float(answer.chaining_result.minimum_ttl), float(self.max_ttl))
        return _values(rrset, rdtype), ttl

    def _negative(self, ttl: int | None) -> float:
        if ttl is None:
            return 0.0  # no SOA: RFC 2308 says do not cache
        return float(min(ttl, self.max_negative_ttl))


def _values(rrset: Any, rdtype: str) -> _Result:
    if rdtype == "TXT":
        return tuple(tuple(bytes(s) for s in rdata.strings) for rdata in rrset)
    if rdtype in ("A", "AAAA"):
        return tuple(str(rdata.address) for rdata in rrset)
    if rdtype == "MX":
        return tuple(
            MxRecord(
                preference=int(rdata.preference),
                exchange=rdata.exchange.to_text(omit_final_dot=True).lower(),
            )
            for rdata in sorted(rrset, key=lambda r: (r.preference, r.exchange.to_text()))
        )
    targets = tuple(rdata.target.to_text(omit_final_dot=True).lower() for rdata in rrset)
    return targets[:1] if rdtype == "CNAME" else targets


class BudgetedResolver:
    """A view of a :class:`DnspythonResolver` with a time budget for one message.

    It shares the resolver's cache; cached answers cost nothing. Once ``deadline`` passed,
    every uncached lookup raises :class:`~inboxcore.domain.errors.DnsTemporaryError`, and no lookup
    waits past it.
    """

    def __init__(self, resolver: DnspythonResolver, deadline: float) -> None:
        self._resolver = resolver
        self.deadline = deadline

    @property
    def remaining(self) -> float:
        """Seconds of budget left (0 when spent), e.g. to log how close a message came."""
        return max(0.0, self.deadline - self._resolver.clock())

    def txt(self, name: str) -> tuple[tuple[bytes, ...], ...]:
        return self._resolver._lookup(name, "TXT", self.deadline)

    def a(self, name: str) -> tuple[str, ...]:
        return self._resolver._lookup(name, "A", self.deadline)

    def aaaa(self, name: str) -> tuple[str, ...]:
        return self._resolver._lookup(name, "AAAA", self.deadline)

    def mx(self, name: str) -> tuple[MxRecord, ...]:
        return self._resolver._lookup(name, "MX", self.deadline)

    def ptr(self, name: str) -> tuple[str, ...]:
        return self._resolver._lookup(name, "PTR", self.deadline)

    def cname(self, name: str) -> tuple[str, ...]:
        return self._resolver._lookup(name, "CNAME", self.deadline)
