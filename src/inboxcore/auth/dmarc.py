"""DMARC (RFC 9989, which obsoletes RFC 7489): does the From domain's owner vouch for this mail?

A forwarded message reaches a hosted inbox with SPF for the forwarder, not the author, and DKIM
that a mailing list may have broken; DMARC is the check that ties what survived to the From
address a person reads, and the From domain's published policy says how hard to treat a failure.
This module is our own implementation (no DMARC library does the RFC 9989 tree walk, strict
temperror handling and deterministic sampling together); it takes the SPF and DKIM outcomes as
values and asks the DNS only for ``_dmarc`` records and, for ``np``, whether the From domain exists.

**Policy discovery** is the DNS tree walk of RFC 9989 section 4.10: the Author Domain's own
record if it has one, else the Organizational Domain's or the Public Suffix Domain's record,
found by walking up at most 8 names (``_dmarc.a.b.example.com``, ``_dmarc.b.example.com``,
``_dmarc.example.com``, ``_dmarc.com``; names of 8 or more labels jump to their last 7) and
stopping at a record with ``psd=y`` or ``psd=n``. The walk finds every policy the RFC 7489 lookup
(Author Domain, then the Public Suffix List's registrable domain) finds, plus policies published
at intermediate names and by public suffix operators.

**How the walk and the Public Suffix List combine.** The walk decides; the PSL can only *narrow*
the Organizational Domain used for relaxed alignment, never widen it. If the walk would make a
name the PSL lists as a public suffix (``co.uk``, or a private suffix such as ``blogspot.com``)
the Organizational Domain, because such a name publishes a record without ``psd=y``, we use the
PSL's registrable domain instead: otherwise every customer of that suffix would align with every
other. The policy found by the walk still applies (as a PSD policy would). ``psl=None`` gives pure
RFC 9989; ``discovery="rfc7489"`` gives the old two-query lookup with PSL Organizational Domains.

**Results** are RFC 8601 words: ``pass`` (an aligned SPF or DKIM pass), ``fail``, ``none`` (no
policy), ``temperror`` (a DNS failure that could change the outcome: never read as ``none``) and
``permerror`` (a record so broken that DMARC cannot be applied). ``applied_policy`` is what the
receiver should do with a failing message after ``sp``/``np``, ``pct`` sampling and the ``t=y``
testing flag. With several From domains each is evaluated and the strictest outcome stands.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final, Literal

import attrs

from inboxcore.auth.spf import SpfResult
from inboxcore.domain.addresses import domain_to_ascii
from inboxcore.domain.errors import DnsTemporaryError
from inboxcore.domain.outcomes import Reason
from inboxcore.mail.suffixes import BUNDLED_PSL, SuffixList
from inboxcore.ports import DnsResolver

__all__ = [
    "BUNDLED_PSL",
    "DMARC_RESULTS",
    "DmarcRecord",
    "DmarcResult",
    "SuffixList",
    "evaluate_dmarc",
    "organizational_domain",
    "parse_dmarc_record",
    "sampling_value",
]

Policy = Literal["none", "quarantine", "reject"]
DmarcResultWord = Literal["pass", "fail", "none", "temperror", "permerror"]
Discovery = Literal["rfc9989", "rfc7489"]

DMARC_RESULTS: Final = frozenset({"pass", "fail", "none", "temperror", "permerror"})
"""The RFC 8601 result words :attr:`DmarcResult.result` carries."""

_POLICIES: Final[tuple[Policy, ...]] = ("none", "quarantine", "reject")
_MAX_WALK: Final = 8
_TAG_NAME = re.compile(r"^[A-Za-z]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s,!]+$")
_KNOWN_TAGS: Final = frozenset(
    {"p", "sp", "np", "adkim", "aspf", "pct", "t", "psd", "rua", "ruf", "fo", "rf", "ri"}
)


@attrs.frozen(kw_only=True)
class DmarcRecord:
    """A parsed DMARC policy record (RFC 9989 section 4.7).

    Unknown tags are ignored and a bad value falls back to the tag's default, as the RFC says;
    each such thing is noted in ``problems``. A missing ``p`` counts as ``p=none``. An invalid
    ``p``, ``sp`` or ``np`` sets ``invalid_policy``: the record then acts as ``p=none`` if it has
    a usable ``rua`` address, and otherwise DMARC is not applied (``permerror``).
    """

    text: str
    p: Policy = "none"
    sp: Policy | None = None
    np: Policy | None = None
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    pct: int = 100
    testing: bool = False
    """The ``t=y`` flag: the owner is testing, so apply one level less than the policy."""
    psd: Literal["y", "n", "u"] = "u"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    invalid_policy: bool = False
    problems: tuple[str, ...] = ()


def _policy(value: str) -> Policy | None:
    value = value.strip().lower()
    for policy in _POLICIES:
        if value == policy:
            return policy
    return None


def _uris(value: str) -> tuple[str, ...]:
    found = []
    for item in value.split(","):
        uri = item.strip().split("!", 1)[0]  # the obsolete "!size" suffix is ignored
        if _URI.match(uri):
            found.append(uri)
    return tuple(found)


def parse_dmarc_record(text: str) -> DmarcRecord | None:
    """Parse one TXT record; None if it is not a DMARC record (``v=DMARC1`` must come first).

    Never raises: whatever else the record holds is parsed as far as the RFC allows.
    """
    parts = text.split(";")
    name, eq, version = parts[0].partition("=")
    if not eq or name.strip().lower() != "v" or version.strip() != "DMARC1":
        return None
    problems: list[str] = []
    tags = _read_tags(parts[1:], problems)
    fields: dict[str, object] = {}
    invalid = _read_policies(tags, fields, problems)
    _read_options(tags, fields, problems)
    problems.extend(f"unknown tag {tag} ignored" for tag in tags if tag not in _KNOWN_TAGS)
    return DmarcRecord(
        text=text,
        invalid_policy=invalid,
        problems=tuple(problems),
        **fields,  # type: ignore[arg-type]  # each value was validated above
    )


def _read_tags(parts: Sequence[str], problems: list[str]) -> dict[str, str]:
    """The ``tag=value`` pairs after the version; a malformed or repeated tag is noted, skipped."""
    tags: dict[str, str] = {}
    for part in parts:
        if not part.strip():
            continue
        tag, eq, value = part.partition("=")
        tag = tag.strip().lower()
        if not eq or not _TAG_NAME.match(tag) or not value.strip():
            problems.append(f"syntax error ignored: {part.strip()!r}")
            continue
        if tag in tags:
            problems.append(f"repeated tag {tag} ignored")
            continue
        tags[tag] = value.strip()
    return tags


def _read_policies(tags: dict[str, str], fields: dict[str, object], problems: list[str]) -> bool:
    """Put valid ``p``, ``sp`` and ``np`` into ``fields``; True if any of them was invalid."""
    invalid = False
    for tag in ("p", "sp", "np"):
        if tag in tags:
            policy = _policy(tags[tag])
            if policy is None:
                invalid = True
                problems.append(f"invalid {tag}={tags[tag]}")
            else:
                fields[tag] = policy
    return invalid


def _read_options(tags: dict[str, str], fields: dict[str, object], problems: list[str]) -> None:
    """Put the valid non-policy tags into ``fields``; a bad value keeps the default, noted."""
    for tag in ("adkim", "aspf"):
        if tag in tags:
            mode = tags[tag].lower()
            if mode in ("r", "s"):
                fields[tag] = mode
            else:
                problems.append(f"invalid {tag}={tags[tag]}; relaxed assumed")
    if "pct" in tags:
        pct = tags["pct"]
        if pct.isdigit() and 0 <= int(pct) <= 100:
            fields["pct"] = int(pct)
        else:
            problems.append(f"invalid pct={pct}; 100 assumed")
    if "t" in tags:
        flag = tags["t"].lower()
        if flag in ("y", "n"):
            fields["testing"] = flag == "y"
        else:
            problems.append(f"invalid t={tags['t']}; n assumed")
    if "psd" in tags:
        psd = tags["psd"].lower()
        if psd in ("y", "n", "u"):
            fields["psd"] = psd
        else:
            problems.append(f"invalid psd={tags['psd']}; u assumed")
    for tag in ("rua", "ruf"):
        if tag in tags:
            fields[tag] = _uris(tags[tag])


def sampling_value(message_hash: str | bytes) -> float:
    """A number in [0, 1) derived from a message's hash, for deterministic ``pct`` sampling.

    The same message always gets the same value, so a retry or a recheck of a quarantined
    message reaches the same decision.
    """
    data = message_hash.encode("utf-8") if isinstance(message_hash, str) else message_hash
    digest = hashlib.sha256(b"inboxcore-dmarc-pct\x00" + data).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@attrs.frozen(kw_only=True)
class DmarcResult:
    """The DMARC outcome for a message.

    ``from_domain`` is the (strictest) Author Domain, A-label form; ``policy_domain`` where its
    policy record was found and ``org_domain`` its Organizational Domain. ``policy`` is the
    published policy that covers the From domain (``p``, ``sp`` or ``np``); ``applied_policy``
    what to do with the message: set only for ``fail``, after ``pct`` sampling and ``t=y``.
    """

    result: DmarcResultWord = attrs.field(validator=attrs.validators.in_(DMARC_RESULTS))
    from_domain: str | None
    reason: Reason
    from_domains: tuple[str, ...] = ()
    policy_domain: str | None = None
    org_domain: str | None = None
    policy: Policy | None = None
    applied_policy: Policy | None = None
    spf_aligned: bool = False
    dkim_aligned: bool = False
    record: str | None = None
    testing: bool = False
    sampled_out: bool = False
    """``pct`` < 100 and this message fell outside the sample: the policy was lowered a level."""

    @property
    def passed(self) -> bool:
        return self.result == "pass"


class _Unknown(Exception):
    """A DNS answer needed for the decision could not be had."""

    def __init__(self, cause: DnsTemporaryError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@attrs.frozen
class _Found:
    record: DmarcRecord | None
    duplicates: int = 0


class _Context:
    """The lookups of one evaluation, cached so the walks for From, SPF and DKIM share them."""

    def __init__(self, dns: DnsResolver, psl: SuffixList | None, discovery: Discovery) -> None:
        self.dns = dns
        self.psl = psl
        self.discovery = discovery
        self._records: dict[str, _Found | _Unknown] = {}
        self._orgs: dict[str, str | _Unknown] = {}
        self.duplicated: set[str] = set()
        """Names whose several DMARC records were all discarded (RFC 9989 section 4.10)."""

    def record(self, domain: str) -> _Found:
        cached = self._records.get(domain)
        if cached is None:
            try:
                cached = self._fetch(domain)
            except DnsTemporaryError as exc:
                cached = _Unknown(exc)
            self._records[domain] = cached
        if isinstance(cached, _Unknown):
            raise cached
        return cached

    def _fetch(self, domain: str) -> _Found:
        found = []
        for strings in self.dns.txt(f"_dmarc.{domain}"):
            text = b"".join(strings).decode("utf-8", errors="replace")
            record = parse_dmarc_record(text)
            if record is not None:
                found.append(record)
        if len(found) == 1:
            return _Found(found[0])
        if len(found) > 1:
            self.duplicated.add(domain)
            return _Found(None, duplicates=len(found))
        return _Found(None)

    def cached_org(self, domain: str) -> str | None:
        cached = self._orgs.get(domain)
        return cached if isinstance(cached, str) else None

    def registrable(self, domain: str) -> str:
        if self.psl is None:
            return domain
        return self.psl.privatesuffix(domain) or domain

    def org_domain(self, domain: str) -> str:
        cached = self._orgs.get(domain)
        if cached is None:
            try:
                cached = self._org_domain(domain)
            except _Unknown as exc:
                cached = exc
            self._orgs[domain] = cached
        if isinstance(cached, _Unknown):
            raise cached
        return cached

    def _org_domain(self, domain: str) -> str:
        if self.discovery == "rfc7489":
            return self.registrable(domain)
        walked = self.select_org(domain, self.walk(domain, _walk_targets(domain)))
        if self.psl is not None:
            narrower = self.registrable(domain)
            if narrower != walked and narrower.endswith("." + walked):
                return narrower
        return walked

    def walk(self, start: str, targets: Sequence[str]) -> list[tuple[str, DmarcRecord]]:
        """The RFC 9989 tree walk over ``targets``: records found, stopping at a psd=y/n.

        With a PSL, once a record was found at the registrable domain of ``start``, nothing
        higher can change the (narrowed) Organizational Domain or the policy, so a DNS failure
        above it (a top-level domain's servers timing out) ends the walk instead of failing it.
        """
        registrable = self.registrable(start) if self.psl is not None else None
        anchored = False
        found: list[tuple[str, DmarcRecord]] = []
        for name in targets:
            try:
                record = self.record(name).record
            except _Unknown:
                if anchored:
                    break
                raise
            if record is not None:
                anchored = anchored or name == registrable
                found.append((name, record))
                if record.psd in ("y", "n"):
                    break
        return found

    @staticmethod
    def select_org(start: str, found: Sequence[tuple[str, DmarcRecord]]) -> str:
        """RFC 9989 section 4.10.2: the Organizational Domain among the records of a walk."""
        for name, record in found:
            if record.psd == "n":
                return name
            if record.psd == "y" and name != start:
                return _one_below(start, name)
        if found:
            return min(found, key=lambda item: item[0].count("."))[0]
        return start


def _walk_targets(domain: str) -> list[str]:
    """The names a tree walk queries for ``domain``: itself, then at most 7 shorter ones."""
    labels = domain.split(".")
    targets = [domain]
    count = min(len(labels) - 1, _MAX_WALK - 1)
    for size in range(count, 0, -1):
        targets.append(".".join(labels[-size:]))
    return targets


def _one_below(start: str, ancestor: str) -> str:
    labels = start.split(".")
    return ".".join(labels[-(ancestor.count(".") + 2) :])


def _normalize(domain: str) -> str | None:
    """The A-label form of a domain (UTS #46, then IDNA 2008), lowercase, or None if it is not a
    usable domain name: the From domain is looked up and compared for alignment in this form."""
    return domain_to_ascii(domain)


@attrs.frozen
class _Policy:
    record: DmarcRecord
    domain: str


def _discover(author: str, ctx: _Context) -> _Policy | None:
    """The policy record for ``author`` and where it was found; raises _Unknown on DNS failure."""
    own = ctx.record(author)
    if own.record is not None:
        return _Policy(own.record, author)
    if ctx.discovery == "rfc7489":
        org = ctx.registrable(author)
        if org == author:
            return None
        found = ctx.record(org).record
        return None if found is None else _Policy(found, org)
    walked = ctx.walk(author, _walk_targets(author)[1:])
    if not walked:
        return None
    by_name = dict(walked)
    # The (PSL-narrowed) Organizational Domain's record first: a suffix publishing a record
    # without psd=y must not displace the policy of the registrable domain below it.
    org = ctx.org_domain(author)
    if org in by_name:
        return _Policy(by_name[org], org)
    walk_org = _Context.select_org(author, walked)
    if walk_org in by_name:
        return _Policy(by_name[walk_org], walk_org)
    psd = next(((name, rec) for name, rec in walked if rec.psd == "y"), None)
    if psd is not None:
        return _Policy(psd[1], psd[0])
    return None


def organizational_domain(
    domain: str,
    dns: DnsResolver,
    *,
    psl: SuffixList | None = BUNDLED_PSL,
    discovery: Discovery = "rfc9989",
) -> str:
    """The Organizational Domain of ``domain`` as :func:`evaluate_dmarc` computes it.

    Raises :class:`~inboxcore.domain.errors.DnsTemporaryError` when the walk could not finish, and
    :class:`~inboxcore.domain.errors.InvalidValueError` for a string that is not a domain name.
    """
    from inboxcore.domain.errors import InvalidValueError

    normalized = _normalize(domain)
    if normalized is None:
        raise InvalidValueError(f"not a domain name: {domain!r}")
    try:
        return _Context(dns, psl, discovery).org_domain(normalized)
    except _Unknown as exc:
        raise exc.cause from None


def _aligned(identifier: str, author: str, mode: str, ctx: _Context) -> bool:
    """Whether ``identifier`` aligns with ``author``; raises _Unknown if the DNS cannot say."""
    if identifier == author:
        return True
    if mode == "s":
        return False
    if ctx.psl is not None and ctx.registrable(identifier) != ctx.registrable(author):
        return False  # the PSL only narrows: different registrable domains never align
    return ctx.org_domain(identifier) == ctx.org_domain(author)


def _exists(domain: str, dns: DnsResolver) -> bool:
    """Whether ``domain`` exists for ``np``: any A, AAAA or MX record (RFC 9091 section 2.7).

    Raises _Unknown when no record was found and some lookup failed.
    """
    failure: DnsTemporaryError | None = None
    for lookup in (dns.a, dns.aaaa, dns.mx):
        try:
            if lookup(domain):
                return True
        except DnsTemporaryError as exc:
            failure = exc
    if failure is not None:
        raise _Unknown(failure)
    return False


_LOWER: Final[dict[Policy, Policy]] = {
    "reject": "quarantine",
    "quarantine": "none",
    "none": "none",
}


def _evaluate_one(
    author: str,
    spf: SpfResult | None,
    dkim_domains: Sequence[str],
    ctx: _Context,
    sample: float | None,
) -> DmarcResult:
    try:
        found = _discover(author, ctx)
    except _Unknown as exc:
        return _undiscovered(author, exc)
    if found is None:
        return _no_policy(author, ctx)
    record = found.record
    subdomain = found.domain != author
    # Filled in step by step; every return below is an evolution of it.
    outcome = DmarcResult(
        result="none",
        from_domain=author,
        reason=Reason(code="dmarc.none", message=""),
        policy_domain=found.domain,
        record=record.text,
        testing=record.testing,
    )
    if record.invalid_policy:
        if not record.rua:
            return _invalid_record(outcome, found)
        # RFC 9989 section 4.10.1: act as if the record said p=none.
        record = attrs.evolve(record, p="none", sp="none", np="none")
    spf_aligned, dkim_aligned, unknown = _alignment(author, spf, dkim_domains, record, ctx)
    published: Policy = (record.sp or record.p) if subdomain else record.p
    outcome = attrs.evolve(
        outcome,
        spf_aligned=spf_aligned,
        dkim_aligned=dkim_aligned,
        policy=published,
        org_domain=ctx.cached_org(author),
    )
    if spf_aligned or dkim_aligned:
        return _passed(outcome, author)
    if unknown is not None:
        return _temperror(outcome, f"alignment with {author} could not be decided: {unknown}")
    nonexistent = False
    if subdomain and record.np is not None and record.np != published:
        try:
            nonexistent = not _exists(author, ctx.dns)
        except _Unknown as exc:
            return _temperror(
                outcome, f"whether {author} exists (for np=) could not be decided: {exc}"
            )
        if nonexistent:
            published = record.np
    source = "np" if nonexistent else ("sp" if subdomain and record.sp else "p")
    return _failed(outcome, author, record, published, source, sample)


def _undiscovered(author: str, exc: _Unknown) -> DmarcResult:
    """``temperror``: the DNS failed before a policy for ``author`` could be found."""
    return DmarcResult(
        result="temperror",
        from_domain=author,
        reason=Reason(
            code="dmarc.dns_temporary",
            message=f"the DMARC policy of {author} could not be looked up: {exc}",
        ),
    )


def _no_policy(author: str, ctx: _Context) -> DmarcResult:
    """``none``: no record covers ``author``, or the ones that would were duplicated."""
    duplicated = sorted(n for n in ctx.duplicated if f".{author}".endswith(f".{n}"))
    if duplicated:
        reason = Reason(
            code="dmarc.multiple_records",
            message=(
                f"{', '.join(duplicated)} publishes more than one DMARC record, "
                f"so they are discarded and no policy applies to {author}"
            ),
        )
    else:
        reason = Reason(code="dmarc.no_policy", message=f"{author} publishes no DMARC policy")
    return DmarcResult(result="none", from_domain=author, reason=reason)


def _invalid_record(outcome: DmarcResult, found: _Policy) -> DmarcResult:
    """``permerror``: an invalid policy and no report address to act as ``p=none`` for."""
    problems = "; ".join(found.record.problems)
    return attrs.evolve(
        outcome,
        result="permerror",
        reason=Reason(
            code="dmarc.invalid_record",
            message=(
                f"the DMARC record of {found.domain} has an invalid policy ({problems}) "
                "and no report address, so DMARC does not apply"
            ),
        ),
    )


def _alignment(
    author: str,
    spf: SpfResult | None,
    dkim_domains: Sequence[str],
    record: DmarcRecord,
    ctx: _Context,
) -> tuple[bool, bool, _Unknown | None]:
    """Whether SPF and DKIM align with ``author``, and the first DNS failure met deciding it."""
    spf_aligned = dkim_aligned = False
    unknown: _Unknown | None = None
    if spf is not None and spf.result == "pass" and spf.identity == "mailfrom" and spf.domain:
        try:
            spf_aligned = _aligned(spf.domain.lower(), author, record.aspf, ctx)
        except _Unknown as exc:
            unknown = exc
    for raw in dkim_domains:
        domain = _normalize(raw)
        if domain is None:
            continue
        try:
            if _aligned(domain, author, record.adkim, ctx):
                dkim_aligned = True
                break
        except _Unknown as exc:
            unknown = unknown or exc
    return spf_aligned, dkim_aligned, unknown


def _passed(outcome: DmarcResult, author: str) -> DmarcResult:
    which = " and ".join(
        name for name, ok in (("SPF", outcome.spf_aligned), ("DKIM", outcome.dkim_aligned)) if ok
    )
    return attrs.evolve(
        outcome,
        result="pass",
        reason=Reason(code="dmarc.pass", message=f"{which} aligned with {author}"),
    )


def _temperror(outcome: DmarcResult, message: str) -> DmarcResult:
    return attrs.evolve(
        outcome,
        result="temperror",
        reason=Reason(code="dmarc.dns_temporary", message=message),
    )


def _failed(
    outcome: DmarcResult,
    author: str,
    record: DmarcRecord,
    published: Policy,
    source: str,
    sample: float | None,
) -> DmarcResult:
    """``fail`` under the ``published`` policy (from tag ``source``), lowered a level by ``t=y``
    or ``pct`` sampling."""
    applied = published
    sampled_out = False
    lowered = ""
    if record.testing:
        applied = _LOWER[published]
        lowered = "t=y (the owner is testing its policy)"
    elif record.pct < 100 and sample is not None and sample * 100 >= record.pct:
        applied = _LOWER[published]
        sampled_out = True
        lowered = f"pct={record.pct} (this message is outside the sample)"
    message = f"no aligned SPF or DKIM pass for {author}; policy {source}={published}"
    if outcome.policy_domain != author:
        message += f" of {outcome.policy_domain}"
    if lowered and applied != published:
        message += f", applied as {applied} because of {lowered}"
    return attrs.evolve(
        outcome,
        result="fail",
        policy=published,
        applied_policy=applied,
        sampled_out=sampled_out,
        reason=Reason(code="dmarc.fail", message=message),
    )


def _severity(result: DmarcResult) -> int:
    if result.result == "fail":
        return {"reject": 6, "quarantine": 5}.get(result.applied_policy or "none", 3)
    return {"temperror": 4, "permerror": 2, "none": 1, "pass": 0}[result.result]


def evaluate_dmarc(
    *,
    from_domains: Sequence[str],
    spf: SpfResult | None,
    dkim_pass_domains: Sequence[str],
    dns: DnsResolver,
    psl: SuffixList | None = BUNDLED_PSL,
    discovery: Discovery = "rfc9989",
    sample: float | None = None,
) -> DmarcResult:
    """Evaluate DMARC for a message.

    ``from_domains`` are the domains of the From header's addresses (exactly one is normal);
    ``spf`` the SPF result (only a MAIL FROM pass can align, RFC 9989 section 3.2.2);
    ``dkim_pass_domains`` the ``d=`` of every DKIM signature that passed. ``sample`` (from
    :func:`sampling_value`) decides ``pct`` sampling; without it the policy applies in full.
    Never raises for anything in the message or the DNS.
    """
    seen: list[str] = []
    invalid: list[str] = []
    for raw in from_domains:
        domain = _normalize(raw)
        if domain is None:
            invalid.append(raw)
        elif domain not in seen:
            seen.append(domain)
    if not seen and not invalid:
        return DmarcResult(
            result="none",
            from_domain=None,
            reason=Reason(
                code="dmarc.no_from_domain",
                message="the message has no From domain, so DMARC cannot be evaluated",
            ),
        )
    ctx = _Context(dns, psl, discovery)
    results = [_evaluate_one(domain, spf, dkim_pass_domains, ctx, sample) for domain in seen]
    # An unusable From domain is a permerror of its own; it never hides another domain's policy.
    results.extend(
        DmarcResult(
            result="permerror",
            from_domain=None,
            reason=Reason(
                code="dmarc.invalid_from_domain",
                message=f"the From domain {raw!r} is not a valid domain name",
            ),
        )
        for raw in invalid
    )
    worst = max(results, key=_severity)
    if len(results) > 1:
        worst = attrs.evolve(
            worst,
            reason=Reason(
                code=worst.reason.code,
                message=f"{len(results)} From domains; the strictest outcome: "
                + worst.reason.message,
            ),
        )
    return attrs.evolve(worst, from_domains=tuple(seen))
