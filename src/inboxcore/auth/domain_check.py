"""Checking a sending domain: SPF, DKIM and DMARC as the host's mail service needs them.

Before replies go out from ``help@acme.example`` through the host's mail service, the account must
publish three things in the DNS of ``acme.example``; :func:`check_sending_domain` looks them up
through the :class:`~inboxcore.ports.DnsResolver` port and returns one
:class:`DomainCheckReport`, with each check :class:`CheckStatus` ``passed``, ``missing``,
``wrong`` or ``temporary_failure``, and the exact record to publish:

* **SPF** (RFC 7208): the domain's one ``v=spf1`` record authorizes the host's service through
  ``include:<spf_include>``, directly or through its own includes and ``redirect=`` (followed up to
  the RFC's limit of 10 lookups). When it does not, the suggested record is the domain's record
  with the include inserted before its ``all``, so nothing the domain already authorizes is lost;
  a domain without SPF is offered ``v=spf1 include:<spf_include> ~all`` (soft fail: the domain may
  send from elsewhere too, which a new ``-all`` would break).
* **DKIM** (RFC 6376): each configured selector is published, either as the expected CNAME
  (hosts that rotate keys for their customers) or as a TXT record whose ``p=`` is the host's
  public key. Exactly one key record per selector: several make verification a lottery.
* **DMARC** (RFC 7489): a ``v=DMARC1`` record exists with a valid ``p=`` tag, at the domain or, as
  DMARCbis does, at a parent domain (the tree walk stops before the top-level domain).

A lookup that fails for now (:class:`~inboxcore.domain.errors.DnsTemporaryError`) makes that check
``temporary_failure``, never ``missing``: telling a team their record is gone because a DNS server
timed out would send them to change records that are fine.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence

import attrs

from inboxcore.domain.addresses import normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
    DnsTemporaryError,
    InvalidEmailAddress,
    InvalidValueError,
    Problem,
)
from inboxcore.ports import DnsResolver

__all__ = [
    "CheckStatus",
    "DkimSelector",
    "DnsCheck",
    "DnsRecord",
    "DomainCheckReport",
    "SendingServiceConfig",
    "check_sending_domain",
]

SPF_LOOKUP_LIMIT = 10


class CheckStatus(enum.Enum):
    PASSED = "passed"
    MISSING = "missing"
    WRONG = "wrong"
    TEMPORARY_FAILURE = "temporary_failure"
    """The DNS could not answer now; check again later. Says nothing about the record."""


@attrs.frozen(kw_only=True)
class DnsRecord:
    """A record to publish: type, name and value, as a DNS provider's form asks for them."""

    type: str
    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}. {self.type} {self.value}"


@attrs.frozen(kw_only=True)
class DnsCheck:
    """The result of one check."""

    check: str
    """``spf``, ``dkim:<selector>`` or ``dmarc``."""
    status: CheckStatus
    message: str
    expected: DnsRecord
    """The record that makes the check pass: what the user must publish."""
    found: tuple[str, ...] = ()
    """The records found (as text), for showing next to the expected one."""

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED


@attrs.frozen(kw_only=True)
class DomainCheckReport:
    """Every check of one sending domain."""

    domain: str
    checks: tuple[DnsCheck, ...]

    @property
    def passed(self) -> bool:
        """Whether the domain is ready to send from: every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def temporary(self) -> bool:
        """Whether some check could not be done now (and should be repeated)."""
        return any(c.status is CheckStatus.TEMPORARY_FAILURE for c in self.checks)

    def check(self, name: str) -> DnsCheck:
        """The check called ``name``; :class:`KeyError` if there is none."""
        for c in self.checks:
            if c.check == name:
                return c
        raise KeyError(name)

    def records_to_publish(self) -> tuple[DnsRecord, ...]:
        """The records of every check that is missing or wrong."""
        return tuple(
            c.expected for c in self.checks if c.status in (CheckStatus.MISSING, CheckStatus.WRONG)
        )


def _key(value: str) -> str:
    return "".join(value.split())


@attrs.frozen(kw_only=True)
class DkimSelector:
    """One DKIM selector the host signs with: a public key in TXT, or a CNAME to the host's."""

    selector: str
    public_key: str | None = attrs.field(default=None)
    """The base64 ``p=`` value (white space is ignored)."""
    cname_target: str | None = None
    """Where ``<selector>._domainkey.<domain>`` must point, when the host publishes the key."""
    key_type: str = "rsa"

    def __attrs_post_init__(self) -> None:
        if (self.public_key is None) == (self.cname_target is None):
            raise InvalidValueError("a DKIM selector needs either a public key or a CNAME target")
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?", self.selector):
            raise InvalidValueError(f"not a DKIM selector: {self.selector!r}")


def _dns_name(value: str) -> str:
    """A host name as DNS uses it (underscores allowed, as in ``_spf.example.net``)."""
    name = value.strip().rstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))+", name):
        raise InvalidValueError(f"not a DNS name: {value!r}")
    return name


def _selectors(values: Iterable[DkimSelector]) -> tuple[DkimSelector, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class SendingServiceConfig:
    """What the host's sending service needs a customer domain to publish."""

    spf_include: str = attrs.field(converter=_dns_name)
    dkim_selectors: tuple[DkimSelector, ...] = attrs.field(converter=_selectors)
    dmarc_suggestion: str = "v=DMARC1; p=none"
    """The DMARC record suggested to a domain that has none."""

    def __attrs_post_init__(self) -> None:
        if not self.dkim_selectors:
            raise InvalidValueError("configure at least one DKIM selector")


# --- helpers -------------------------------------------------------------------------------------


def _txt(resolver: DnsResolver, name: str) -> tuple[str, ...]:
    return tuple(
        b"".join(strings).decode("utf-8", errors="replace") for strings in resolver.txt(name)
    )


def _name(value: str) -> str:
    return value.strip().rstrip(".").lower()


def _is_spf(record: str) -> bool:
    lowered = record.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


class _SpfWalk:
    """Follows include: and redirect= looking for the host's include, within the lookup limit."""

    def __init__(self, resolver: DnsResolver, target: str) -> None:
        self.resolver = resolver
        self.target = target
        self.lookups = 0

    def authorizes(self, record: str, seen: frozenset[str]) -> bool:
        terms = record.split()[1:]
        redirect: str | None = None
        for term in terms:
            lowered = term.lower()
            qualifier = lowered[0] if lowered[:1] in ("+", "-", "~", "?") else "+"
            body = lowered[1:] if lowered[:1] in ("+", "-", "~", "?") else lowered
            if body.startswith("redirect="):
                redirect = _name(body[len("redirect=") :])
                continue
            if not body.startswith("include:"):
                if body == "all":
                    return False  # nothing after "all" is ever reached, redirect included
                continue
            domain = _name(body[len("include:") :])
            if qualifier != "+":
                continue
            if domain == self.target:
                return True
            if self._follow(domain, seen):
                return True
        if redirect is not None:
            return self._follow(redirect, seen)
        return False

    def _follow(self, domain: str, seen: frozenset[str]) -> bool:
        if domain in seen or "%{" in domain or self.lookups >= SPF_LOOKUP_LIMIT:
            return False
        self.lookups += 1
        records = [r for r in _txt(self.resolver, domain) if _is_spf(r)]
        if len(records) != 1:
            return False
        return self.authorizes(records[0], seen | {domain})


def _suggest_spf(existing: str | None, include: str) -> str:
    if existing is None:
        return f"v=spf1 include:{include} ~all"
    terms = existing.split()
    for i, term in enumerate(terms[1:], start=1):
        body = term.lower().lstrip("+-~?")
        if body == "all" or body.startswith("redirect="):
            return " ".join([*terms[:i], f"include:{include}", *terms[i:]])
    return " ".join([*terms, f"include:{include}"])


# --- the checks -------------------------------------------------------------------------------


def _check_spf(resolver: DnsResolver, domain: str, config: SendingServiceConfig) -> DnsCheck:
    include = config.spf_include
    fresh = DnsRecord(type="TXT", name=domain, value=_suggest_spf(None, include))
    try:
        records = [r for r in _txt(resolver, domain) if _is_spf(r)]
    except DnsTemporaryError as exc:
        return DnsCheck(
            check="spf",
            status=CheckStatus.TEMPORARY_FAILURE,
            message=f"the DNS did not answer for {domain} ({exc.reason}); check again later",
            expected=fresh,
        )
    if not records:
        return DnsCheck(
            check="spf",
            status=CheckStatus.MISSING,
            message=f"{domain} publishes no SPF record",
            expected=fresh,
        )
    if len(records) > 1:
        return DnsCheck(
            check="spf",
            status=CheckStatus.WRONG,
            message=f"{domain} publishes {len(records)} SPF records; receivers then ignore all "
            "of them (RFC 7208 section 4.5): merge them into one",
            expected=DnsRecord(type="TXT", name=domain, value=_suggest_spf(records[0], include)),
            found=tuple(records),
        )
    record = records[0]
    walk = _SpfWalk(resolver, include)
    try:
        ok = walk.authorizes(record, frozenset({domain}))
    except DnsTemporaryError as exc:
        return DnsCheck(
            check="spf",
            status=CheckStatus.TEMPORARY_FAILURE,
            message=f"the DNS did not answer for {exc.name} ({exc.reason}); check again later",
            expected=DnsRecord(type="TXT", name=domain, value=record),
            found=(record,),
        )
    if ok:
        return DnsCheck(
            check="spf",
            status=CheckStatus.PASSED,
            message=f"the SPF record of {domain} authorizes {include}",
            expected=DnsRecord(type="TXT", name=domain, value=record),
            found=(record,),
        )
    return DnsCheck(
        check="spf",
        status=CheckStatus.WRONG,
        message=f"the SPF record of {domain} does not include {include}",
        expected=DnsRecord(type="TXT", name=domain, value=_suggest_spf(record, include)),
        found=(record,),
    )


def _dkim_tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _check_dkim(resolver: DnsResolver, domain: str, selector: DkimSelector) -> DnsCheck:
    name = f"{selector.selector}._domainkey.{domain}"
    check = f"dkim:{selector.selector}"
    if selector.cname_target is not None:
        return _check_dkim_cname(resolver, name, check, _name(selector.cname_target))
    return _check_dkim_key(resolver, name, check, selector)


def _check_dkim_cname(resolver: DnsResolver, name: str, check: str, target: str) -> DnsCheck:
    """The selector must be a CNAME to ``target``, so that its owner can rotate the key."""
    expected = DnsRecord(type="CNAME", name=name, value=target)
    try:
        found = tuple(_name(t) for t in resolver.cname(name))
        txt = () if found else _txt(resolver, name)
    except DnsTemporaryError as exc:
        return _temporary(check, exc, expected)
    if target in found:
        return DnsCheck(
            check=check,
            status=CheckStatus.PASSED,
            message=f"{name} points to {target}",
            expected=expected,
            found=found,
        )
    if found or txt:
        return DnsCheck(
            check=check,
            status=CheckStatus.WRONG,
            message=f"{name} must be a CNAME to {target}, so that key rotation works",
            expected=expected,
            found=found or txt,
        )
    return DnsCheck(
        check=check,
        status=CheckStatus.MISSING,
        message=f"{name} is not published",
        expected=expected,
    )


def _check_dkim_key(
    resolver: DnsResolver, name: str, check: str, selector: DkimSelector
) -> DnsCheck:
    """The selector must publish exactly one DKIM key: the one we sign with."""
    key = _key(selector.public_key or "")
    expected = DnsRecord(type="TXT", name=name, value=f"v=DKIM1; k={selector.key_type}; p={key}")
    try:
        records = _txt(resolver, name)
    except DnsTemporaryError as exc:
        return _temporary(check, exc, expected)
    keys = [r for r in records if "p" in _dkim_tags(r)]
    if not keys:
        return DnsCheck(
            check=check,
            status=CheckStatus.MISSING,
            message=f"{name} publishes no DKIM key",
            expected=expected,
            found=records,
        )
    if len(keys) > 1:
        return DnsCheck(
            check=check,
            status=CheckStatus.WRONG,
            message=f"{name} publishes {len(keys)} DKIM keys; publish exactly one",
            expected=expected,
            found=tuple(keys),
        )
    published = _key(_dkim_tags(keys[0])["p"])
    if published == key:
        return DnsCheck(
            check=check,
            status=CheckStatus.PASSED,
            message=f"{name} publishes the signing key",
            expected=expected,
            found=tuple(keys),
        )
    reason = "is revoked (empty p=)" if not published else "is not the signing key"
    return DnsCheck(
        check=check,
        status=CheckStatus.WRONG,
        message=f"the key at {name} {reason}",
        expected=expected,
        found=tuple(keys),
    )


_DMARC_POLICIES = frozenset({"none", "quarantine", "reject"})


def _check_dmarc(resolver: DnsResolver, domain: str, config: SendingServiceConfig) -> DnsCheck:
    expected = DnsRecord(type="TXT", name=f"_dmarc.{domain}", value=config.dmarc_suggestion)
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
    for candidate in candidates:
        name = f"_dmarc.{candidate}"
        try:
            records = [r for r in _txt(resolver, name) if r.strip().lower().startswith("v=dmarc1")]
        except DnsTemporaryError as exc:
            return _temporary("dmarc", exc, expected)
        if not records:
            continue
        where = "" if candidate == domain else f" (inherited from {candidate})"
        if len(records) > 1:
            return DnsCheck(
                check="dmarc",
                status=CheckStatus.WRONG,
                message=f"{name} publishes {len(records)} DMARC records; receivers then ignore "
                "them all: keep one",
                expected=DnsRecord(type="TXT", name=name, value=records[0]),
                found=tuple(records),
            )
        policy = _dkim_tags(records[0]).get("p", "").lower()
        if policy not in _DMARC_POLICIES:
            return DnsCheck(
                check="dmarc",
                status=CheckStatus.WRONG,
                message=f"the DMARC record at {name} has no valid p= policy{where}",
                expected=DnsRecord(type="TXT", name=name, value=config.dmarc_suggestion),
                found=tuple(records),
            )
        return DnsCheck(
            check="dmarc",
            status=CheckStatus.PASSED,
            message=f"DMARC policy p={policy}{where}",
            expected=DnsRecord(type="TXT", name=name, value=records[0]),
            found=tuple(records),
        )
    return DnsCheck(
        check="dmarc",
        status=CheckStatus.MISSING,
        message=f"{domain} publishes no DMARC record",
        expected=expected,
    )


def _temporary(check: str, exc: DnsTemporaryError, expected: DnsRecord) -> DnsCheck:
    return DnsCheck(
        check=check,
        status=CheckStatus.TEMPORARY_FAILURE,
        message=f"the DNS did not answer for {exc.name} ({exc.reason}); check again later",
        expected=expected,
    )


def check_sending_domain(
    domain: str, resolver: DnsResolver, config: SendingServiceConfig
) -> DomainCheckReport:
    """Check SPF, every DKIM selector and DMARC of ``domain``; never raises for DNS trouble.

    Raises :class:`~inboxcore.domain.errors.ConfigurationError` (``sending_domain.invalid``) when
    ``domain`` is not a domain name at all.
    """
    try:
        normalized = normalize_domain(domain)
    except InvalidEmailAddress as exc:
        raise ConfigurationError(
            [
                Problem(
                    code="sending_domain.invalid",
                    message=f"not a domain name: {exc.reason}",
                    field="domain",
                )
            ]
        ) from exc
    if "." not in normalized or normalized.startswith("["):
        raise ConfigurationError(
            [
                Problem(
                    code="sending_domain.invalid",
                    message="enter a registered domain such as acme.example",
                    field="domain",
                )
            ]
        )
    checks: list[DnsCheck] = [_check_spf(resolver, normalized, config)]
    selectors: Sequence[DkimSelector] = config.dkim_selectors
    checks.extend(_check_dkim(resolver, normalized, s) for s in selectors)
    checks.append(_check_dmarc(resolver, normalized, config))
    return DomainCheckReport(domain=normalized, checks=tuple(checks))
