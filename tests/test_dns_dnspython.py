"""The dnspython adapter against a real DNS server on 127.0.0.1, started by the tests.

The server speaks DNS over UDP with dnspython's message API, so the adapter's whole path runs:
the query on the wire, dnspython's reply handling, its exceptions, and our mapping of them onto
the port's contract. Nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from inboxcore.adapters.dns_dnspython import DnspythonResolver
from inboxcore.auth.spf import check_spf
from inboxcore.domain.errors import DnsTemporaryError
from inboxcore.domain.model import MxRecord

SOA = "ns1.example.com. hostmaster.example.com. 2026030101 7200 3600 1209600 {minimum}"


class FakeDnsServer:
    """A tiny authoritative-style DNS server over UDP for tests.

    ``records`` maps (name, type) to (ttl, [rdata text]); a name present with other types only
    answers NODATA, an absent name NXDOMAIN, both with an SOA whose minimum is ``negative_ttl``.
    ``servfail`` and ``silent`` are names answered with SERVFAIL or not at all (a timeout).
    ``cnames`` maps an alias to its target, answered with the chain as a recursive server does.
    """

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[int, list[str]]] = {}
        self.cnames: dict[str, str] = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.negative_ttl = 60
        self.soa_ttl = 3600
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def add(self, name: str, rdtype: str, *values: str, ttl: int = 300) -> None:
        self.records[(name.lower().rstrip(".") + ".", rdtype)] = (ttl, list(values))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            reply = self._answer(query)
            if reply is not None:
                self._sock.sendto(reply.to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
        bare = name.rstrip(".")
        if bare in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if bare in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        owner = name
        if bare in self.cnames and rdtype != "CNAME":
            target = self.cnames[bare].rstrip(".") + "."
            response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", target))
            owner = target
        if bare in self.cnames and rdtype == "CNAME":
            target = self.cnames[bare].rstrip(".") + "."
            response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", target))
            return response
        found = self.records.get((owner, rdtype))
        if found is not None:
            ttl, values = found
            response.answer.append(dns.rrset.from_text(owner, ttl, "IN", rdtype, *values))
            return response
        exists = any(key[0] == owner for key in self.records) or bare in self.cnames
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(
            dns.rrset.from_text(
                "example.com.", self.soa_ttl, "IN", "SOA", SOA.format(minimum=self.negative_ttl)
            )
        )
        return response


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeDnsServer]:
    srv = FakeDnsServer()
    srv.add(
        "example.com", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"', '"google-site-verification=abc"'
    )
    srv.add("long.example.com", "TXT", '"v=DKIM1; k=rsa; p=MIIBIjAN" "BgkqhkiG9w0BAQEFAAOC"')
    srv.add("example.com", "A", "192.0.2.1", ttl=120)
    srv.add("example.com", "AAAA", "2001:db8::1")
    srv.add("example.com", "MX", "20 MX2.Example.com.", "10 mx1.example.com.")
    srv.add("1.2.0.192.in-addr.arpa", "PTR", "mail.example.com.")
    srv.add("target.example.com", "TXT", '"v=spf1 -all"')
    srv.cnames["alias.example.com"] = "target.example.com"
    srv.servfail.add("broken.example.com")
    srv.silent.add("slow.example.com")
    yield srv
    srv.close()


def _resolver(server: FakeDnsServer, **kwargs: Any) -> DnspythonResolver:
    inner = dns.resolver.Resolver(configure=False)
    inner.nameservers = ["127.0.0.1"]
    inner.port = server.port
    inner.retry_servfail = False
    inner.search = [dns.name.from_text("corp.internal.")]
    kwargs.setdefault("timeout", 1.0)
    return DnspythonResolver(resolver=inner, **kwargs)


# --- answers ---------------------------------------------------------------------------------


def test_every_record_type_is_answered_in_port_form(server: FakeDnsServer) -> None:
    """TXT as character-strings, addresses as text, MX sorted by preference, names without dots."""
    dns_ = _resolver(server)
    assert set(dns_.txt("example.com")) == {
        (b"v=spf1 ip4:192.0.2.0/24 -all",),
        (b"google-site-verification=abc",),
    }
    assert dns_.txt("long.example.com") == (
        (b"v=DKIM1; k=rsa; p=MIIBIjAN", b"BgkqhkiG9w0BAQEFAAOC"),
    )
    assert dns_.a("example.com") == ("192.0.2.1",)
    assert dns_.aaaa("example.com") == ("2001:db8::1",)
    assert dns_.mx("example.com") == (
        MxRecord(preference=10, exchange="mx1.example.com"),
        MxRecord(preference=20, exchange="mx2.example.com"),
    )
    assert dns_.ptr("1.2.0.192.in-addr.arpa") == ("mail.example.com",)


def test_cname_is_followed_and_can_be_asked_for(server: FakeDnsServer) -> None:
    """A TXT lookup of an alias answers with the target's records; cname() names the target."""
    dns_ = _resolver(server)
    assert dns_.txt("alias.example.com") == ((b"v=spf1 -all",),)
    assert dns_.cname("alias.example.com") == ("target.example.com",)


def test_names_are_queried_absolute_without_search_domains(server: FakeDnsServer) -> None:
    """A missing name is NXDOMAIN; the resolver never tries name.corp.internal."""
    dns_ = _resolver(server)
    assert dns_.txt("missing.example.com") == ()
    assert all("corp.internal" not in name for name, _ in server.queries)


def test_nxdomain_and_nodata_are_empty(server: FakeDnsServer) -> None:
    """NXDOMAIN and NODATA both answer (), never an error."""
    dns_ = _resolver(server)
    assert dns_.a("nowhere.example.com") == ()
    assert dns_.ptr("example.com") == ()
    assert dns_.cname("example.com") == ()


def test_invalid_names_have_no_records_and_cost_no_query(server: FakeDnsServer) -> None:
    """A name that cannot be put on the wire answers () without a query."""
    dns_ = _resolver(server)
    assert dns_.txt("x" * 64 + ".example.com") == ()
    assert dns_.txt("") == ()
    assert dns_.txt("a..b") == ()
    assert server.queries == []


# --- failures --------------------------------------------------------------------------------


def test_servfail_raises_temporary_error(server: FakeDnsServer) -> None:
    """SERVFAIL is DnsTemporaryError, naming the name, type and cause."""
    dns_ = _resolver(server)
    with pytest.raises(DnsTemporaryError) as caught:
        dns_.txt("broken.example.com")
    assert caught.value.name == "broken.example.com"
    assert caught.value.rdtype == "TXT"
    assert "servfail" in caught.value.reason


def test_timeout_raises_temporary_error_within_the_lookup_timeout(server: FakeDnsServer) -> None:
    """A server that never answers is a DnsTemporaryError after about the per-lookup timeout."""
    dns_ = _resolver(server, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DnsTemporaryError) as caught:
        dns_.mx("slow.example.com")
    assert "timeout" in caught.value.reason
    assert time.monotonic() - started < 2.0


def test_unreachable_server_is_temporary() -> None:
    """Nobody listening (ICMP refused or silence) is temporary, not 'no record'."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inner = dns.resolver.Resolver(configure=False)
    inner.nameservers = ["127.0.0.1"]
    inner.port = port
    with pytest.raises(DnsTemporaryError):
        DnspythonResolver(resolver=inner, timeout=0.3).txt("example.com")


def test_failures_are_not_cached(server: FakeDnsServer) -> None:
    """After a SERVFAIL is fixed, the next lookup gets the answer."""
    dns_ = _resolver(server)
    with pytest.raises(DnsTemporaryError):
        dns_.a("broken.example.com")
    server.servfail.discard("broken.example.com")
    server.add("broken.example.com", "A", "192.0.2.9")
    assert dns_.a("broken.example.com") == ("192.0.2.9",)


def test_library_boundary_no_answer_exception_is_empty() -> None:
    """A resolver that raises NoAnswer or YXDOMAIN (older dnspython habits) still gives ()."""

    class Raising(dns.resolver.Resolver):
        def __init__(self, exc: Exception) -> None:
            super().__init__(configure=False)
            self.exc = exc

        def resolve(self, *args: Any, **kwargs: Any) -> dns.resolver.Answer:
            raise self.exc

    # dnspython's exception constructors are untyped; the instances are what matter here.
    no_answer: Exception = dns.resolver.NoAnswer()  # type: ignore[no-untyped-call]
    yxdomain: Exception = dns.resolver.YXDOMAIN()  # type: ignore[no-untyped-call]
    form_error: Exception = dns.exception.FormError()  # type: ignore[no-untyped-call]
    assert DnspythonResolver(resolver=Raising(no_answer)).txt("x.example") == ()
    assert DnspythonResolver(resolver=Raising(yxdomain)).a("x.example") == ()
    with pytest.raises(DnsTemporaryError):
        DnspythonResolver(resolver=Raising(form_error)).a("x.example")
    with pytest.raises(DnsTemporaryError):
        DnspythonResolver(resolver=Raising(OSError("network unreachable"))).a("x.example")


# --- cache -----------------------------------------------------------------------------------


def test_answers_are_cached_for_their_ttl(server: FakeDnsServer) -> None:
    """The A record (TTL 120) is served from cache until it expires, then asked again."""
    clock = ManualClock()
    dns_ = _resolver(server, clock=clock)
    assert dns_.a("example.com") == ("192.0.2.1",)
    clock.now += 119
    assert dns_.a("example.com") == ("192.0.2.1",)
    assert server.queries.count(("example.com.", "A")) == 1
    clock.now += 2
    assert dns_.a("example.com") == ("192.0.2.1",)
    assert server.queries.count(("example.com.", "A")) == 2
    assert dns_.lookups == 2


def test_positive_ttl_is_capped(server: FakeDnsServer) -> None:
    """A long TTL is kept at most max_ttl seconds."""
    server.add("sticky.example.com", "A", "192.0.2.5", ttl=86400)
    clock = ManualClock()
    dns_ = _resolver(server, clock=clock, max_ttl=60)
    dns_.a("sticky.example.com")
    clock.now += 61
    dns_.a("sticky.example.com")
    assert server.queries.count(("sticky.example.com.", "A")) == 2


def test_nxdomain_and_nodata_are_cached_per_soa_minimum(server: FakeDnsServer) -> None:
    """Negative answers are kept for the SOA minimum (60 s), then asked again."""
    clock = ManualClock()
    dns_ = _resolver(server, clock=clock)
    for _ in range(3):
        assert dns_.txt("ghost.example.com") == ()
        assert dns_.ptr("example.com") == ()
    assert server.queries.count(("ghost.example.com.", "TXT")) == 1
    assert server.queries.count(("example.com.", "PTR")) == 1
    clock.now += 61
    dns_.txt("ghost.example.com")
    dns_.ptr("example.com")
    assert server.queries.count(("ghost.example.com.", "TXT")) == 2
    assert server.queries.count(("example.com.", "PTR")) == 2


def test_negative_ttl_is_capped(server: FakeDnsServer) -> None:
    """A huge SOA minimum is capped at max_negative_ttl."""
    server.negative_ttl = 86400
    clock = ManualClock()
    dns_ = _resolver(server, clock=clock, max_negative_ttl=30)
    dns_.txt("ghost.example.com")
    clock.now += 31
    dns_.txt("ghost.example.com")
    assert server.queries.count(("ghost.example.com.", "TXT")) == 2


def test_cache_is_bounded_and_clearable(server: FakeDnsServer) -> None:
    """The cache keeps at most cache_size entries (oldest out) and clear_cache empties it."""
    dns_ = _resolver(server, cache_size=2)
    dns_.a("example.com")
    dns_.aaaa("example.com")
    dns_.mx("example.com")
    dns_.a("example.com")  # evicted: asked again
    assert server.queries.count(("example.com.", "A")) == 2
    dns_.clear_cache()
    dns_.mx("example.com")
    assert server.queries.count(("example.com.", "MX")) == 2


# --- budget ----------------------------------------------------------------------------------


def test_budget_spent_raises_for_uncached_lookups_only(server: FakeDnsServer) -> None:
    """After the budget, uncached lookups raise; cached answers are still served free."""
    clock = ManualClock()
    dns_ = _resolver(server, clock=clock)
    view = dns_.budget(5.0)
    assert view.a("example.com") == ("192.0.2.1",)
    clock.now += 2
    assert view.remaining == pytest.approx(3.0)
    clock.now += 4
    assert view.remaining == 0.0
    assert view.a("example.com") == ("192.0.2.1",)
    with pytest.raises(DnsTemporaryError) as caught:
        view.txt("example.com")
    assert "budget" in caught.value.reason
    assert dns_.txt("example.com")  # the resolver itself has no budget
    assert dns_.budget(5.0).mx("example.com")  # a new message gets a new budget


def test_budget_shortens_a_slow_lookup(server: FakeDnsServer) -> None:
    """With 0.3 s of budget left, a lookup of a silent server gives up after about 0.3 s."""
    dns_ = _resolver(server, timeout=5.0)
    view = dns_.budget(0.3)
    started = time.monotonic()
    with pytest.raises(DnsTemporaryError):
        view.txt("slow.example.com")
    assert time.monotonic() - started < 2.0
    with pytest.raises(DnsTemporaryError):
        view.txt("example.com")  # the budget is now spent


def test_spf_under_a_budget_turns_a_dead_include_into_temperror(server: FakeDnsServer) -> None:
    """End to end: an SPF include on a silent server is temperror within the message budget."""
    server.add("sender.example.com", "TXT", '"v=spf1 include:slow.example.com -all"')
    dns_ = _resolver(server, timeout=5.0)
    started = time.monotonic()
    result = check_spf("192.0.2.10", "a@sender.example.com", None, dns_.budget(0.4))
    assert result.result == "temperror"
    assert time.monotonic() - started < 2.0
    assert check_spf("192.0.2.10", "a@example.com", None, dns_).result == "pass"


# --- threads ---------------------------------------------------------------------------------


def test_concurrent_lookups_from_many_threads(server: FakeDnsServer) -> None:
    """Eight threads sharing one resolver (and its cache) all get correct answers."""
    dns_ = _resolver(server)
    for i in range(20):
        server.add(f"h{i}.example.com", "A", f"198.51.100.{i + 1}")
    errors: list[str] = []

    def work(offset: int) -> None:
        for round_ in range(3):
            for i in range(20):
                j = (i + offset + round_) % 20
                got = dns_.a(f"h{j}.example.com")
                if got != (f"198.51.100.{j + 1}",):
                    errors.append(f"h{j}: {got}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert dns_.lookups <= 20 * 8  # later rounds come from the cache
    assert sum(1 for q in server.queries if q[1] == "A") == dns_.lookups
