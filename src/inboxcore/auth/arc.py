"""ARC chain validation (RFC 8617) and the ARC-Authentication-Results it carries.

A mailing list or forwarder that changes a message breaks its DKIM signature; if it seals the
message with ARC first, it vouches for what it saw (its ARC-Authentication-Results, "AAR") and
signs the message as it passes it on. :func:`validate_arc` checks the chain of such seals the way
RFC 8617 section 5.2 says:

1. no ARC header fields: ``none``;
2. the newest ARC-Seal says ``cv=fail``: ``fail``;
3. the structure: every instance 1..N (N at most 50) has exactly one AAR, one
   ARC-Message-Signature (AMS) and one ARC-Seal (AS), each well formed; ``cv=none`` on instance 1
   and ``cv=pass`` on every later one; otherwise ``fail``;
4. the newest AMS must verify (a DKIM-like signature over the message as the newest sealer
   passed it on); otherwise ``fail``;
5. every AS, newest first, must verify (each signs the ARC header fields of its instance and all
   older ones); otherwise ``fail``;
6. ``pass``.

A DNS failure on a key needed to decide is ``temperror`` (unless a definite failure is found
anyway): a retry may pass. Keys follow the DKIM rules of :mod:`inboxcore.auth.dkim_verify` (the same
DNS port, RSA keys of at least 1024 bits; ARC signs only with ``rsa-sha256``), and the newest AMS
takes its body hash from the message's shared :class:`~inboxcore.auth.bodyhash.BodyHashes`, so that
a
message both DKIM-signed and sealed is canonicalized once.

The result names the sealer domains by instance and parses the newest AAR
(:class:`AuthenticationResults`): what the newest sealer says it saw (``dmarc=pass
header.from=example.com``). Trust it only when the chain passes and the sealer is one you trust;
that decision belongs to the disposition step, not here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

import attrs
from dkim.canonicalization import (
    CanonicalizationPolicy,
    InvalidCanonicalizationPolicyError,
    Relaxed,
)

from inboxcore.auth.bodyhash import BodyHashes, BodyHashKey
from inboxcore.auth.dkim_verify import (
    CLOCK_SKEW,
    MAX_SIGNED_FIELDS,
    MIN_RSA_BITS,
    DkimKey,
    Refusal,
    a_label,
    check_signature,
    fetch_key,
    hash_signed_headers,
    parse_tags,
    without_signature,
)
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.text import split_outside_quotes
from inboxcore.ports import DnsResolver

__all__ = [
    "ARC_RESULTS",
    "ArcResult",
    "AuthMethodResult",
    "AuthenticationResults",
    "MAX_INSTANCES",
    "parse_authentication_results",
    "validate_arc",
]

ARC_RESULTS = ("fail", "none", "pass", "temperror")
"""The chain validation results (RFC 8617 section 4.4, plus ``temperror`` for DNS failures)."""

MAX_INSTANCES = 50
"""More ARC sets than this make the chain fail (RFC 8617 section 4.2.1)."""

_AAR = b"arc-authentication-results"
_AMS = b"arc-message-signature"
_AS = b"arc-seal"
_KINDS = (_AAR, _AMS, _AS)
_INSTANCE = re.compile(rb"[1-9][0-9]{0,2}")
_AAR_PREFIX = re.compile(rb"\s*i\s*=\s*([0-9]+)\s*;")
_DIGITS = re.compile(rb"[0-9]{1,76}")
_WSP = re.compile(rb"\s+")
_WSP_STR = re.compile(r"\s+")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
# A key is tried from the start of its run of name characters only (what leads the run and
# cannot begin a key is skipped): every start inside a long run would rescan the rest of it.
_TOKEN = re.compile(
    r"""(?<![A-Za-z0-9_.\-])[_.\-]*+"""
    r"""([A-Za-z0-9][A-Za-z0-9_.\-]*+(?:\s*/\s*[0-9]+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;"]*)"""
)


@attrs.frozen(kw_only=True)
class AuthMethodResult:
    """One ``method=result`` of an Authentication-Results field, with its properties.

    ``properties`` keeps ``(ptype.property, value)`` pairs in order, names lowercased:
    ``("header.from", "example.com")``, ``("smtp.mailfrom", "ann@example.com")``.
    """

    method: str
    result: str
    reason: str | None = None
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        """The first value of property ``name`` (``"header.from"``), or None."""
        wanted = name.lower()
        for key, value in self.properties:
            if key == wanted:
                return value
        return None


@attrs.frozen(kw_only=True)
class AuthenticationResults:
    """An Authentication-Results (or ARC-Authentication-Results) field (RFC 8601), parsed."""

    authserv_id: str
    results: tuple[AuthMethodResult, ...] = ()

    def methods(self, method: str) -> tuple[AuthMethodResult, ...]:
        """The results of one method (``"dmarc"``, ``"spf"``, ``"dkim"``), in order."""
        wanted = method.lower()
        return tuple(r for r in self.results if r.method == wanted)

    @property
    def dmarc(self) -> tuple[AuthMethodResult, ...]:
        return self.methods("dmarc")

    @property
    def spf(self) -> tuple[AuthMethodResult, ...]:
        return self.methods("spf")

    @property
    def dkim(self) -> tuple[AuthMethodResult, ...]:
        return self.methods("dkim")


@attrs.frozen(kw_only=True)
class ArcResult:
    """The ARC chain validation result of a message.

    ``sealer_domains`` are the ARC-Seal ``d=`` domains by instance (index 0 is ``i=1``), in
    A-label form; ``newest_sealer`` is the last of them. ``newest_aar`` is what the newest sealer
    says it saw; it is filled in whatever the result, and means something only on ``pass``.
    """

    result: str = attrs.field(validator=attrs.validators.in_(ARC_RESULTS))
    code: str
    reason: str
    newest_instance: int = 0
    sealer_domains: tuple[str, ...] = ()
    newest_sealer: str | None = None
    newest_aar: AuthenticationResults | None = None

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def _strip_comments(text: str) -> str:
    """``text`` without its (nested) comments, white space collapsed. The kept text is gathered
    as slices, not character by character (a list of characters costs eight times the text)."""
    kept: list[str] = []
    start = 0
    depth = 0
    quoted = False
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == "(":
            if depth == 0:
                kept.append(text[start:index])
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                start = index + 1
        elif depth == 0:
            quoted = ch == '"'
    if depth == 0:
        kept.append(text[start:])
    return _WSP_STR.sub(" ", "".join(kept)).strip()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """Parse the value of an Authentication-Results field (RFC 8601 section 2.2).

    Comments are dropped, the method version (``dkim/1``) too; method, result and property names
    are lowercased, values kept; a quoted authserv-id keeps its quotes, so that it never passes
    for a trusted token. Pieces that are not ``method=result`` are skipped. None when there is
    not even an authserv-id. Never raises.
    """
    parts = split_outside_quotes(_strip_comments(value))
    head = parts[0].split()
    if not head:
        return None
    results: list[AuthMethodResult] = []
    for part in parts[1:]:
        tokens = _TOKEN.findall(part)
        if not tokens:
            continue
        method, result = tokens[0]
        reason = None
        properties: list[tuple[str, str]] = []
        for key, raw in tokens[1:]:
            name = key.lower()
            if name == "reason":
                reason = _unquote(raw)
            elif "." in name:
                properties.append((name, _unquote(raw)))
        results.append(
            AuthMethodResult(
                method=_WSP_STR.sub("", method).split("/")[0].lower(),
                result=_unquote(result).lower(),
                reason=reason,
                properties=tuple(properties),
            )
        )
    return AuthenticationResults(authserv_id=head[0].lower(), results=tuple(results))


@attrs.frozen(kw_only=True)
class _Field:
    kind: bytes
    header: tuple[bytes, bytes]
    tags: dict[bytes, bytes] = attrs.field(factory=dict, eq=False)


@attrs.frozen(kw_only=True)
class _Known:
    """What the result reports about the chain, whatever the verdict."""

    newest_instance: int
    sealer_domains: tuple[str, ...]
    newest_sealer: str | None
    newest_aar: AuthenticationResults | None

    def result(self, result: str, code: str, reason: str) -> ArcResult:
        return ArcResult(
            result=result,
            code=code,
            reason=reason,
            newest_instance=self.newest_instance,
            sealer_domains=self.sealer_domains,
            newest_sealer=self.newest_sealer,
            newest_aar=self.newest_aar,
        )

    def fail(self, code: str, reason: str) -> ArcResult:
        return self.result("fail", code, reason)


def _instance_of(kind: bytes, value: bytes) -> tuple[int, dict[bytes, bytes]] | str:
    if kind == _AAR:
        match = _AAR_PREFIX.match(value)
        if match is None:
            return "an ARC-Authentication-Results field does not start with i=<n>;"
        raw = match.group(1)
        tags: dict[bytes, bytes] = {}
    else:
        parsed = parse_tags(value)
        if parsed is None:
            return f"an {_name(kind)} field is malformed"
        tags = parsed
        raw = tags.get(b"i", b"")
    if not _INSTANCE.fullmatch(raw.strip()):
        return f"an {_name(kind)} field has no valid instance (i=)"
    return int(raw.strip()), tags


def _name(kind: bytes) -> str:
    return {_AAR: "ARC-Authentication-Results", _AMS: "ARC-Message-Signature", _AS: "ARC-Seal"}[
        kind
    ]


def validate_arc(
    raw: bytes,
    dns: DnsResolver,
    *,
    now: datetime,
    body_hashes: BodyHashes | None = None,
) -> ArcResult:
    """Validate the ARC chain of ``raw`` (RFC 8617 section 5.2); never raises on bad input.

    ``now`` (timezone-aware) judges an ``x=`` expiry on the newest AMS. ``body_hashes`` is the
    message's shared :class:`~inboxcore.auth.bodyhash.BodyHashes` (made for ``raw``).
    """
    if now.tzinfo is None:
        raise InvalidValueError("now must be timezone-aware")
    if body_hashes is None:
        body_hashes = BodyHashes(raw)
    elif body_hashes.raw is not raw:
        raise InvalidValueError("body_hashes was made for another message")

    sets, problem = _arc_sets(body_hashes.headers)
    if not sets and problem is None:
        return ArcResult(result="none", code="arc.none", reason="the message has no ARC sets")

    newest = max(sets) if sets else 0
    sealers = _sealers(sets)
    known = _Known(
        newest_instance=newest,
        sealer_domains=sealers,
        newest_sealer=sealers[-1] if sealers and len(sealers) == newest else None,
        newest_aar=_aar(sets.get(newest)),
    )
    newest_seal = sets.get(newest, {}).get(_AS, [])
    if len(newest_seal) == 1 and newest_seal[0].tags.get(b"cv", b"").strip().lower() == b"fail":
        return known.fail("arc.sealed_fail", f"the newest sealer (i={newest}) recorded cv=fail")
    problem = problem if problem is not None else _structure_problem(sets, newest)
    if problem is not None:
        return known.fail("arc.structure", problem)
    return _verify_chain(sets, known, body_hashes, dns, now)


_Sets = dict[int, dict[bytes, list[_Field]]]
"""The ARC header fields of a message by instance, then by kind."""


def _arc_sets(headers: Sequence[tuple[bytes, bytes]]) -> tuple[_Sets, str | None]:
    """The ARC fields of ``headers`` grouped into sets, and the first malformed field's problem."""
    sets: _Sets = {}
    problem: str | None = None
    for name, value in headers:
        kind = name.rstrip(b" \t").lower()
        if kind not in _KINDS:
            continue
        found = _instance_of(kind, value)
        if isinstance(found, str):
            problem = problem or found
            continue
        instance, tags = found
        slot = sets.setdefault(instance, {k: [] for k in _KINDS})
        slot[kind].append(_Field(kind=kind, header=(name, value), tags=tags))
    return sets, problem


def _structure_problem(sets: _Sets, newest: int) -> str | None:
    """What is wrong with the chain's shape: too long, a set missing, a field missing or doubled."""
    if newest > MAX_INSTANCES:
        return f"more than {MAX_INSTANCES} ARC sets"
    for instance in range(1, newest + 1):
        current = sets.get(instance)
        if current is None:
            return f"ARC set i={instance} is missing"
        for kind in _KINDS:
            if len(current[kind]) != 1:
                what = "missing" if not current[kind] else "repeated"
                return f"{_name(kind)} i={instance} is {what}"
        seal_problem = _seal_problem(current[_AS][0].tags, instance)
        if seal_problem is not None:
            return seal_problem
    return None


def _verify_chain(
    sets: _Sets, known: _Known, body_hashes: BodyHashes, dns: DnsResolver, now: datetime
) -> ArcResult:
    """Verify the newest AMS and every seal of a well-formed chain, newest first."""
    newest = known.newest_instance
    keys: dict[tuple[str, str], DkimKey | Refusal] = {}
    temporary: str | None = None
    ams = sets[newest][_AMS][0]
    ams_outcome = _check_ams(ams, body_hashes.headers, body_hashes, dns, keys, now)
    if ams_outcome is not None:
        if ams_outcome.result != "temperror":
            return known.fail("arc.ams", f"ARC-Message-Signature i={newest}: {ams_outcome.reason}")
        temporary = f"ARC-Message-Signature i={newest}: {ams_outcome.reason}"
    for instance in range(newest, 0, -1):
        seal_outcome = _check_seal(sets, instance, dns, keys)
        if seal_outcome is not None:
            if seal_outcome.result != "temperror":
                return known.fail("arc.seal", f"ARC-Seal i={instance}: {seal_outcome.reason}")
            temporary = temporary or f"ARC-Seal i={instance}: {seal_outcome.reason}"
    if temporary is not None:
        return known.result("temperror", "arc.key_unavailable", temporary)
    plural = "s" if newest > 1 else ""
    return known.result("pass", "arc.pass", f"the chain of {newest} ARC set{plural} validates")


def _sealers(sets: dict[int, dict[bytes, list[_Field]]]) -> tuple[str, ...]:
    domains: list[str] = []
    for instance in sorted(sets):
        seals = sets[instance][_AS]
        if len(seals) != 1:
            break
        raw = seals[0].tags.get(b"d", b"").decode("utf-8", "replace")
        domains.append(a_label(raw) or raw.strip().lower())
    return tuple(domains)


def _aar(slot: dict[bytes, list[_Field]] | None) -> AuthenticationResults | None:
    if slot is None or len(slot[_AAR]) != 1:
        return None
    value = slot[_AAR][0].header[1]
    match = _AAR_PREFIX.match(value)
    payload = value[match.end() :] if match else value
    return parse_authentication_results(payload.decode("utf-8", "replace"))


def _seal_problem(tags: dict[bytes, bytes], instance: int) -> str | None:
    for tag in (b"a", b"b", b"cv", b"d", b"s"):
        if not tags.get(tag, b"").strip():
            return f"ARC-Seal i={instance} has no {tag.decode()}="
    if b"h" in tags:
        return f"ARC-Seal i={instance} has an h= tag, which seals must not have"
    cv = tags[b"cv"].strip().lower()
    expected = b"none" if instance == 1 else b"pass"
    if cv not in (b"none", b"pass", b"fail"):
        return f"ARC-Seal i={instance} has an invalid cv="
    if cv != expected:
        return f"ARC-Seal i={instance} says cv={cv.decode()}, expected cv={expected.decode()}"
    return None


def _common_tags(tags: dict[bytes, bytes], what: str) -> Refusal | tuple[str, str, bytes]:
    def fail(reason: str) -> Refusal:
        return Refusal(result="fail", code="arc.syntax", reason=reason)

    if tags.get(b"a", b"").strip() != b"rsa-sha256":
        return fail(f"{what} algorithm is not rsa-sha256")
    domain = a_label(tags[b"d"].decode("utf-8", "replace"))
    if domain is None:
        return fail("d= is not a domain name")
    selector = a_label(tags[b"s"].decode("utf-8", "replace"))
    if selector is None:
        return fail("s= is not a valid selector")
    for tag in (b"t", b"x"):
        if tag in tags and not _DIGITS.fullmatch(tags[tag].strip()):
            return fail(f"{tag.decode()}= is not a timestamp")
    compact = _WSP.sub(b"", tags[b"b"])
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        return fail("b= is not base64")
    return domain, selector, base64.b64decode(compact)


def _usable_key(
    dns: DnsResolver,
    selector: str,
    domain: str,
    keys: dict[tuple[str, str], DkimKey | Refusal],
) -> DkimKey | Refusal:
    key = fetch_key(dns, selector, domain, keys)
    if isinstance(key, Refusal):
        return key
    if key.kind != "rsa" or (key.hashes is not None and "sha256" not in key.hashes):
        return Refusal(result="fail", code="arc.key", reason="the key cannot check rsa-sha256")
    if key.bits < MIN_RSA_BITS:
        return Refusal(result="fail", code="arc.key", reason=f"{key.bits}-bit key is too weak")
    return key


def _check_ams(
    ams: _Field,
    headers: Sequence[tuple[bytes, bytes]],
    body_hashes: BodyHashes,
    dns: DnsResolver,
    keys: dict[tuple[str, str], DkimKey | Refusal],
    now: datetime,
) -> Refusal | None:
    tags = ams.tags
    for tag in (b"a", b"b", b"bh", b"d", b"s"):
        if not tags.get(tag, b"").strip():
            return Refusal(result="fail", code="arc.syntax", reason=f"no {tag.decode()}=")
    if b"h" not in tags:
        return Refusal(result="fail", code="arc.syntax", reason="no h=")
    common = _common_tags(tags, "AMS")
    if isinstance(common, Refusal):
        return common
    domain, selector, signature = common
    try:
        policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"relaxed/relaxed").strip())
    except InvalidCanonicalizationPolicyError:
        return Refusal(result="fail", code="arc.syntax", reason="c= is invalid")
    if tags[b"h"].count(b":") >= MAX_SIGNED_FIELDS:
        reason = f"h= lists more than {MAX_SIGNED_FIELDS} fields"
        return Refusal(result="fail", code="arc.syntax", reason=reason)
    include = [h.strip().lower() for h in tags[b"h"].strip().split(b":")]
    if _AS in include:
        return Refusal(result="fail", code="arc.syntax", reason="h= signs an ARC-Seal")
    if b"x" in tags and int(tags[b"x"].strip()) < (now - CLOCK_SKEW).timestamp():
        return Refusal(result="fail", code="arc.expired", reason="the signature has expired")
    compact_bh = _WSP.sub(b"", tags[b"bh"])
    if len(compact_bh) % 4 or not _BASE64.fullmatch(compact_bh):
        return Refusal(result="fail", code="arc.syntax", reason="bh= is not base64")
    body_hash = base64.b64decode(compact_bh)
    key = _usable_key(dns, selector, domain, keys)
    if isinstance(key, Refusal):
        return key
    key_for_body = BodyHashKey(
        canonicalization=policy.body_algorithm.name.decode(), algorithm="sha256"
    )
    if body_hashes.digest(key_for_body) != body_hash:
        return Refusal(result="fail", code="arc.body_hash", reason="the body hash does not match")
    if b"from" in include:
        include.append(b"from")
    hasher = hash_signed_headers(
        "sha256", policy.header_algorithm.name, body_hashes, include, ams.header
    )
    if not check_signature(key, hasher, signature):
        return Refusal(result="fail", code="arc.signature", reason="the signature does not verify")
    return None


def _check_seal(
    sets: dict[int, dict[bytes, list[_Field]]],
    instance: int,
    dns: DnsResolver,
    keys: dict[tuple[str, str], DkimKey | Refusal],
) -> Refusal | None:
    seal = sets[instance][_AS][0]
    common = _common_tags(seal.tags, "AS")
    if isinstance(common, Refusal):
        return common
    domain, selector, signature = common
    key = _usable_key(dns, selector, domain, keys)
    if isinstance(key, Refusal):
        return key
    fields: list[tuple[bytes, bytes]] = []
    for earlier in range(1, instance + 1):
        slot = sets[earlier]
        fields.extend(slot[kind][0].header for kind in _KINDS)
    fields[-1] = (fields[-1][0], without_signature(fields[-1][1]))
    canonical = Relaxed.canonicalize_headers(fields)
    hasher = hashlib.sha256()
    for name, value in canonical[:-1]:
        hasher.update(name + b":" + value)
    name, value = canonical[-1]
    hasher.update(name + b":" + value.rstrip())
    if not check_signature(key, hasher, signature):
        return Refusal(result="fail", code="arc.signature", reason="the seal does not verify")
    return None
