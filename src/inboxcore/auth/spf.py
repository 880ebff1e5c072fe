"""SPF (RFC 7208) through the DNS port: who may send mail for the envelope sender's domain.

The evaluation is pyspf's: its record parser, macro expansion and mechanism logic are the
reference implementation the RFC 7208 test suite was written against. What we change is where its
DNS answers come from. pyspf resolves through a module-level function that hosts would have to
monkeypatch, which is unsafe when several threads check mail at once; instead :class:`_PortQuery`
subclasses ``spf.query`` and overrides its single lookup method, :meth:`spf.query.dns`, so every
query resolves through the :class:`~inboxcore.ports.DnsResolver` it was given and nothing global
changes.

The seam keeps the RFC's processing limits: at most 10 terms that cause DNS lookups
(``include``, ``a``, ``mx``, ``ptr``, ``exists``, ``redirect``: counted by pyspf) and at most 2
*void* lookups (answers that are empty), counted here as pyspf counts them. A
:class:`~inboxcore.domain.errors.DnsTemporaryError` from the port, including an exhausted
per-message
DNS budget, becomes ``temperror``: a network fault must never read as "not authorized".

The identity checked is MAIL FROM; when it is null (a bounce, ``MAIL FROM:<>``) it is the HELO
name, as ``postmaster@<helo>`` (RFC 7208 section 2.4).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, Final, Literal

import attrs
import spf as pyspf

from inboxcore.domain.addresses import domain_to_ascii
from inboxcore.domain.errors import DnsTemporaryError
from inboxcore.ports import DnsResolver

__all__ = [
    "DEFAULT_EXPLANATION",
    "SPF_RESULTS",
    "SpfResult",
    "check_spf",
]

SpfResultWord = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]

SPF_RESULTS: Final = frozenset(
    {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}
)
"""The RFC 7208 / RFC 8601 result words, as :attr:`SpfResult.result` carries them."""

DEFAULT_EXPLANATION: Final = "SPF fail - not authorized"
"""The explanation of a fail when the sender's record gives none (no ``exp=``)."""

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")

_REASONS: Final[dict[str, str]] = {
    "pass": "{ip} is authorized to send for {domain}",
    "fail": "{ip} is not authorized to send for {domain}",
    "softfail": "{domain} discourages, but does not forbid, mail from {ip}",
    "neutral": "{domain} makes no assertion about {ip}",
    "none": "{domain} publishes no SPF record",
}


@attrs.frozen(kw_only=True)
class SpfResult:
    """The outcome of one SPF check.

    ``domain`` is the domain of the identity checked, in A-label form (DMARC aligns it with the
    From domain); ``identity`` says which identity that was. ``explanation`` is what the domain
    asks receivers to say on a failure (its ``exp=`` text, else :data:`DEFAULT_EXPLANATION`);
    ``reason`` is our own sentence on why the result is what it is, for the team reading it.
    """

    result: SpfResultWord = attrs.field(validator=attrs.validators.in_(SPF_RESULTS))
    domain: str
    identity: Literal["mailfrom", "helo"] = attrs.field(
        validator=attrs.validators.in_(("mailfrom", "helo"))
    )
    ip: str
    explanation: str | None = None
    reason: str = ""
    mechanism: str | None = None
    """The term of the record that decided (``ip4:192.0.2.0/24``, ``-all``), where one did."""

    @property
    def passed(self) -> bool:
        return self.result == "pass"


class _PortQuery(pyspf.query):  # type: ignore[misc]  # pyspf ships no types
    """A pyspf query whose lookups go through our DNS port instead of pyspf's globals."""

    def __init__(self, resolver: DnsResolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    def dns(
        self,
        name: str,
        qtype: str,
        cnames: object = None,
        ignore_void: bool = False,
    ) -> list[Any]:
        """One lookup, as ``spf.query.dns`` defines it: a list of values, [] for none.

        The port's resolver already follows CNAMEs (as a recursive resolver does), so none are
        chased here. Empty answers count toward the void-lookup limit unless pyspf says not to.
        """
        if not name:
            return []
        key = str(name).rstrip(".").lower()
        labels = key.split(".")
        if not all(0 < len(label) < 64 for label in labels):
            return []  # not a valid DNS name: pyspf treats it as an empty answer
        cached: list[Any] | None = self.cache.get((key, qtype))
        if cached:
            return cached
        ascii_name = _to_ascii(key)
        if ascii_name is None:
            result: list[Any] = []
        else:
            try:
                result = self._lookup(ascii_name, qtype)
            except DnsTemporaryError as exc:
                raise pyspf.TempError(f"DNS {exc.reason} for {exc.name} {exc.rdtype}") from exc
        if result:
            self.cache[(key, qtype)] = result
        elif not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > pyspf.MAX_VOID_LOOKUPS:
                raise pyspf.PermError(f"Void lookup limit of {pyspf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def _lookup(self, name: str, qtype: str) -> list[Any]:
        resolver = self._resolver
        if qtype in ("TXT", "SPF"):
            # RFC 7208 section 3.1: only TXT is published and queried; the SPF RR type is dead.
            return [tuple(strings) for strings in resolver.txt(name)]
        if qtype == "A":
            return list(resolver.a(name))
        if qtype == "AAAA":
            return list(resolver.aaaa(name))
        if qtype == "MX":
            return [(mx.preference, mx.exchange) for mx in resolver.mx(name)]
        if qtype == "PTR":
            return list(resolver.ptr(name))
        raise pyspf.PermError(f"unsupported DNS query type {qtype}")


def _to_ascii(domain: str) -> str | None:
    """The A-label form of ``domain`` (UTS #46, then IDNA 2008), or None if it cannot be one.

    An ASCII name is queried as written (lowercase): macro expansion makes names that are no
    host names ("foo:bar.example") and RFC 7208's test suite expects them looked up.
    """
    if domain.isascii():
        return domain.lower()
    return domain_to_ascii(domain)


def _identity_domain(domain: str) -> str | None:
    """The domain to check in A-label form, or None when RFC 7208 section 4.3 says "none".

    A domain literal, a single label, an empty or over-long label, or a name that does not encode
    as IDNA cannot hold an SPF record; checking it would only put junk on the wire.
    """
    domain = domain.strip().rstrip(".")
    if not domain or domain.startswith("["):
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(0 < len(label) < 64 for label in labels):
        return None
    if domain.isascii():
        ascii_domain: str | None = domain.lower()
    else:
        ascii_domain = _to_ascii(domain)
    if ascii_domain is None:
        return None
    if not all(_LABEL.match(label) for label in ascii_domain.split(".")):
        return None
    return ascii_domain


def check_spf(
    ip: str,
    mail_from: str | None,
    helo: str | None,
    dns: DnsResolver,
    *,
    receiver: str | None = None,
    now: datetime | None = None,
) -> SpfResult:
    """Check the SMTP client ``ip`` against the SPF record of the sender's domain.

    ``mail_from`` is the MAIL FROM address (None, ``""`` or ``"<>"`` for a null sender, then the
    ``helo`` name is checked). ``receiver`` and ``now`` feed the ``%{r}`` and ``%{t}`` macros
    (pyspf's own clock and ``unknown`` otherwise). Never raises for anything the sender or the
    DNS can do: a broken record is ``permerror``, a DNS failure ``temperror``.
    """
    helo_name = (helo or "").strip()
    identity, local, domain = _sender_identity(mail_from, helo_name)
    if not domain:
        return SpfResult(
            result="none",
            domain="",
            identity=identity,
            ip=ip,
            reason="there is no sender domain to check (null MAIL FROM and no HELO name)",
        )
    checked = _identity_domain(domain)
    if checked is None:
        return SpfResult(
            result="none",
            domain=domain.lower(),
            identity=identity,
            ip=ip,
            reason=f"{domain!r} is not a domain name that can publish SPF",
        )
    try:
        client = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return SpfResult(
            result="none",
            domain=checked,
            identity=identity,
            ip=ip,
            reason=f"{ip!r} is not an IP address, so SPF cannot be evaluated",
        )
    query = _query(dns, client, f"{local}@{checked}", helo_name or checked, identity, receiver, now)
    result, _code, explanation = query.check()
    return _result(query, result, explanation, checked, identity, client)


def _sender_identity(
    mail_from: str | None, helo_name: str
) -> tuple[Literal["mailfrom", "helo"], str, str]:
    """Which identity is checked (MAIL FROM or HELO), with its local part and domain.

    A null sender is checked as ``postmaster@`` the HELO name; an address without a local part
    as ``postmaster@`` its domain.
    """
    sender = (mail_from or "").strip()
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1].strip()
    if not sender:
        return "helo", "postmaster", helo_name
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "postmaster", sender
    return "mailfrom", local or "postmaster", domain


def _query(
    dns: DnsResolver,
    client: str,
    sender: str,
    helo_name: str,
    identity: Literal["mailfrom", "helo"],
    receiver: str | None,
    now: datetime | None,
) -> _PortQuery:
    """A pyspf query for ``sender`` from ``client``, asking our DNS port, ready to check."""
    query = _PortQuery(
        dns,
        i=client,
        s=sender,
        h=helo_name,
        receiver=receiver,
        strict=True,
        querytime=0,
    )
    if identity == "helo":
        query.ident = "helo"
    if now is not None:
        query.t = str(int(now.timestamp()))
    query.set_default_explanation(DEFAULT_EXPLANATION)
    return query


def _result(
    query: _PortQuery,
    result: str,
    explanation: str,
    domain: str,
    identity: Literal["mailfrom", "helo"],
    ip: str,
) -> SpfResult:
    mechanism = getattr(query, "mechanism", None)
    if result in ("temperror", "permerror"):
        reason = f"{domain}: {getattr(query, 'prob', explanation)}"
        kept_explanation: str | None = None
    else:
        reason = _REASONS.get(result, "{domain}: {ip}").format(ip=ip, domain=domain)
        if mechanism:
            reason += f" (matched {mechanism})"
        kept_explanation = explanation if result in ("fail", "softfail") else None
    if result not in SPF_RESULTS:  # "ambiguous" exists only in pyspf's harsh mode
        result = "permerror"
    return SpfResult(
        result=result,  # type: ignore[arg-type]  # checked against SPF_RESULTS above
        domain=domain,
        identity=identity,
        ip=ip,
        explanation=kept_explanation,
        reason=reason,
        mechanism=str(mechanism) if mechanism else None,
    )
