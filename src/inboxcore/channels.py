"""Channel policy: how a team sets up a hosted email channel, as pure rules.

Values in, values out; no ports. The use cases that store and send live in
:mod:`inboxcore.app.channel_setup`; this module decides:

* where the account's mail is hosted (:class:`HostedDomainConfig`, with per-plan overrides) and what
  an agent's default from-address is;
* the forwarding address: generated as a readable slug of the channel's name plus an unguessable
  suffix (:func:`generate_forwarding_local_part`), and the rules a customized one must follow
  (:func:`check_forwarding_local_part`);
* the lifecycle, as the data table :data:`CHANNEL_TRANSITIONS`, applied by :func:`apply_step`;
* the from-name (:class:`FromNameFormats`, :func:`render_from_name`) and the from-address
  (:func:`resolve_from_address`), and the From header both make (:func:`from_header`).

Every ``check_*`` function returns *every* :class:`~inboxcore.domain.errors.Problem` at once, so
that a
settings form can show them all; the commands in :mod:`inboxcore.app.channel_setup` raise one
:class:`~inboxcore.domain.errors.ConfigurationError` carrying them.

**Reserved forwarding names.** :data:`RESERVED_LOCAL_PARTS` holds the role mailboxes of RFC 2142
(postmaster, abuse, hostmaster, webmaster, noc, security, ...), the mailboxes certificate
authorities mail to prove control of a domain (admin, administrator, hostmaster, postmaster,
webmaster: whoever holds them could get a TLS certificate for the account's subdomain), the names
of mail software (mailer-daemon, root, nobody) and no-reply addresses. ``support``, ``sales``,
``info`` and ``help`` are *not* reserved: the forwarding address lives on the account's own
subdomain, and these are exactly the names a team wants. Names are compared with their dots,
hyphens and underscores removed, so ``no_reply`` and ``post.master`` are reserved too.
"""

from __future__ import annotations

import base64
import enum
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

import attrs

from inboxcore.domain.addresses import MAX_LOCAL_OCTETS, EmailAddress, normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
    InvalidEmailAddress,
    InvalidTransition,
    InvalidValueError,
    Problem,
)
from inboxcore.domain.model import Account, Channel, ChannelState, User

# The limits stay importable from here, where they were defined before the from-name moved.
from inboxcore.policies._from_name import MAX_CHANNEL_NAME_LENGTH as MAX_CHANNEL_NAME_LENGTH
from inboxcore.policies._from_name import MAX_COMPANY_LENGTH as MAX_COMPANY_LENGTH
from inboxcore.policies._from_name import (
    FromNameFormats,
    check_channel_name,
    check_company_name,
    check_from_name_available,
    check_from_name_format,
    render_from_name,
    template_fields,
)

__all__ = [
    "CHANNEL_TRANSITIONS",
    "ChannelStep",
    "FromAddressKind",
    "FromNameFormats",
    "HostedDomainConfig",
    "PlanHosting",
    "RESERVED_LOCAL_PARTS",
    "ResolvedFrom",
    "SUFFIX_BYTES",
    "allowed_steps",
    "apply_step",
    "check_channel",
    "check_channel_name",
    "check_company_name",
    "check_custom_from_address",
    "check_forwarding_local_part",
    "check_from_name_available",
    "check_from_name_format",
    "check_hosted_domain_config",
    "check_subdomain",
    "default_from_address",
    "forwarding_address",
    "from_header",
    "generate_forwarding_local_part",
    "is_on_sending_domain",
    "normalize_forwarding_local_part",
    "render_from_name",
    "resolve_from_address",
    "slugify",
    "transition_diagram",
    "transliterate",
]

# --- hosted domain -------------------------------------------------------------------------

DEFAULT_FROM_TEMPLATE: Final = "{username}@{subdomain}.{hosted_domain}"
_FROM_TEMPLATE_FIELDS: Final = frozenset({"username", "subdomain", "hosted_domain"})


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidEmailAddress as exc:
        raise InvalidValueError(f"not a usable hosted domain: {value!r} ({exc.reason})") from exc


def _optional_domain(value: str | None) -> str | None:
    return None if value is None else _domain(value)


@attrs.frozen(kw_only=True)
class PlanHosting:
    """What an account plan changes about hosting: another hosted domain, another template."""

    hosted_domain: str | None = attrs.field(default=None, converter=_optional_domain)
    default_from_template: str | None = None


def _plans(value: Mapping[str, PlanHosting]) -> Mapping[str, PlanHosting]:
    return MappingProxyType(dict(value))


def _reserved(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_reserved_key(v) for v in values)


def _reserved_key(local: str) -> str:
    return re.sub(r"[._-]", "", local.lower())


RESERVED_LOCAL_PARTS: Final = frozenset(
    {
        # RFC 2142 role and service mailboxes
        "postmaster",
        "abuse",
        "hostmaster",
        "webmaster",
        "noc",
        "security",
        "usenet",
        "news",
        "www",
        "uucp",
        "ftp",
        # CA/Browser Forum domain-validation mailboxes
        "admin",
        "administrator",
        # mail software and system accounts
        "mailer-daemon",
        "mail-daemon",
        "root",
        "nobody",
        "daemon",
        "system",
        "bounce",
        "bounces",
        "listserv",
        "majordomo",
        "dmarc",
        # addresses that promise no human reads them
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
    }
)
"""Local parts a forwarding address may never use (compared without ``.``, ``-``, ``_``)."""

_DEFAULT_RESERVED: Final = _reserved(RESERVED_LOCAL_PARTS)
DEFAULT_MIN_LENGTH: Final = 4
"""The shortest customized forwarding local part, unless the host configures another."""


@attrs.frozen(kw_only=True)
class HostedDomainConfig:
    """How the host hosts mail: ``<local>@<subdomain>.<hosted_domain>``.

    ``default_from_template`` makes an agent's default from-address from ``{username}``,
    ``{subdomain}`` and ``{hosted_domain}``; ``plans`` override the hosted domain or the template
    for accounts on a given :attr:`~inboxcore.domain.model.Account.plan` (some plans send from
    another
    domain). ``forwarding_min_length`` and ``reserved_local_parts`` are the rules a customized
    forwarding address follows.
    """

    hosted_domain: str = attrs.field(converter=_domain)
    default_from_template: str = DEFAULT_FROM_TEMPLATE
    plans: Mapping[str, PlanHosting] = attrs.field(factory=dict, converter=_plans)
    forwarding_min_length: int = DEFAULT_MIN_LENGTH
    reserved_local_parts: frozenset[str] = attrs.field(
        default=RESERVED_LOCAL_PARTS, converter=_reserved
    )

    def __attrs_post_init__(self) -> None:
        problems = check_hosted_domain_config(self)
        if problems:
            raise ConfigurationError(problems)

    def hosted_domain_for(self, account: Account) -> str:
        """The hosted domain of the account's plan."""
        plan = self.plans.get(account.plan)
        if plan is not None and plan.hosted_domain is not None:
            return plan.hosted_domain
        return self.hosted_domain

    def from_template_for(self, account: Account) -> str:
        """The default from-address template of the account's plan."""
        plan = self.plans.get(account.plan)
        if plan is not None and plan.default_from_template is not None:
            return plan.default_from_template
        return self.default_from_template

    def receiving_domain(self, account: Account) -> str:
        """``<subdomain>.<hosted domain>``: where the account's forwarding addresses live."""
        return normalize_domain(f"{account.subdomain}.{self.hosted_domain_for(account)}")


def check_hosted_domain_config(config: HostedDomainConfig) -> tuple[Problem, ...]:
    """Every problem with the host's hosting configuration (templates, limits)."""
    problems: list[Problem] = []
    templates = [("default_from_template", config.default_from_template)] + [
        (f"plans.{name}.default_from_template", plan.default_from_template)
        for name, plan in sorted(config.plans.items())
        if plan.default_from_template is not None
    ]
    for field, template in templates:
        fields, error = template_fields(template)
        if error is not None:
            problems.append(Problem(code="hosting.template_syntax", message=error, field=field))
            continue
        unknown = sorted(fields - _FROM_TEMPLATE_FIELDS)
        if unknown:
            problems.append(
                Problem(
                    code="hosting.template_unknown_field",
                    message=f"unknown fields {unknown}; use {sorted(_FROM_TEMPLATE_FIELDS)}",
                    field=field,
                )
            )
        if "username" not in fields or template.count("@") != 1:
            problems.append(
                Problem(
                    code="hosting.template_shape",
                    message="the template must be one address holding {username}",
                    field=field,
                )
            )
    if not 1 <= config.forwarding_min_length <= MAX_LOCAL_OCTETS:
        problems.append(
            Problem(
                code="hosting.min_length",
                message=f"the minimum length must be between 1 and {MAX_LOCAL_OCTETS}",
                field="forwarding_min_length",
            )
        )
    return tuple(problems)


_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def check_subdomain(subdomain: str) -> tuple[Problem, ...]:
    """Problems with an account subdomain: one lowercase DNS label (LDH, at most 63 octets)."""
    if not _LABEL.fullmatch(subdomain):
        return (
            Problem(
                code="account.subdomain",
                message="the subdomain must be one DNS label of lowercase letters, digits and "
                "inner hyphens, at most 63 characters",
                field="subdomain",
            ),
        )
    return ()


# --- transliteration and slugs -----------------------------------------------------------------

_EXTRA_LATIN: Final = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "TH",
    "ł": "l",
    "Ł": "L",
    "ı": "i",
    "ħ": "h",
    "Ħ": "H",
    "ŋ": "ng",
    "Ŋ": "NG",
}


def _table(letters: str, spellings: str) -> dict[str, str]:
    return dict(zip(letters, spellings.split(), strict=True))


# "-" marks a letter spelled as nothing (hard and soft signs).
_CYRILLIC: Final = _table(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
    "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g",
)
_GREEK: Final = _table(
    "αβγδεζηθικλμνξοπρσςτυφχψω", "a v g d e z i th i k l m n x o p r s s t y f ch ps o"
)


def _table_lookup(char: str) -> str | None:
    if char in _EXTRA_LATIN:
        return _EXTRA_LATIN[char]
    lower = char.lower()
    for table in (_CYRILLIC, _GREEK):
        if lower in table:
            out = table[lower].replace("-", "")
            return out.capitalize() if char != lower else out
    return None


def _translit_char(char: str) -> str:
    found = _table_lookup(char)
    if found is not None:
        return found
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(c):
            continue
        if c.isascii():
            out.append(c)
        else:
            out.append(_table_lookup(c) or "")
    return "".join(out)


def transliterate(text: str) -> str:
    """``text`` in ASCII: accents dropped, common Latin ligatures, Cyrillic and Greek spelled out.

    Characters with no ASCII spelling (CJK, emoji) are dropped: the readable part of a forwarding
    address is a hint, the random suffix carries its uniqueness.
    """
    composed = unicodedata.normalize("NFKC", text)
    return "".join(c if c.isascii() else _translit_char(c) for c in composed)


def slugify(text: str, max_length: int = 40) -> str:
    """A readable local-part fragment: lowercase ASCII words joined by ``-``, cut at a word end."""
    words = re.findall(r"[a-z0-9]+", transliterate(text).lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            if not slug:
                slug = word[:max_length]
            break
        slug = candidate
    return slug


# --- forwarding addresses ----------------------------------------------------------------------

SUFFIX_BYTES: Final = 8
"""Random bytes in a generated forwarding address: 64 bits, 13 base32 characters."""

_SLUG_MAX: Final = 40
_FALLBACK_SLUG: Final = "inbox"


def generate_forwarding_local_part(
    name: str, random_bytes: bytes, config: HostedDomainConfig | None = None
) -> str:
    """A forwarding local part: a slug of ``name`` plus a suffix from ``random_bytes``.

    ``random_bytes`` come from :meth:`~inboxcore.ports.IdSource.token_bytes` (at least
    :data:`SUFFIX_BYTES` of them), so that outsiders cannot guess the address and spam it. The slug
    falls back to ``inbox`` when the name has nothing readable or is reserved.
    """
    if len(random_bytes) < SUFFIX_BYTES:
        raise InvalidValueError(f"a forwarding address needs {SUFFIX_BYTES} random bytes")
    reserved = config.reserved_local_parts if config is not None else _DEFAULT_RESERVED
    slug = slugify(name, _SLUG_MAX)
    if not slug or _reserved_key(slug) in reserved:
        slug = _FALLBACK_SLUG
    # Exactly SUFFIX_BYTES of randomness: more would not make the address harder to guess in
    # practice, and could push the local part past its 64 octets.
    suffix = base64.b32encode(random_bytes[:SUFFIX_BYTES]).decode("ascii").rstrip("=").lower()
    slug = slug[: MAX_LOCAL_OCTETS - 1 - len(suffix)].rstrip(".-_") or _FALLBACK_SLUG
    return f"{slug}-{suffix}"


def normalize_forwarding_local_part(text: str) -> str:
    """What a team typed, as the local part it means: NFKC, trimmed, lowercase.

    Idempotent. A full address typed into the field keeps only what precedes its first ``@``
    (splitting at the last one would leave an ``@`` for a second pass to cut again).
    """
    value = unicodedata.normalize("NFKC", text).strip()
    if "@" in value:
        value = value.partition("@")[0].strip()
    return unicodedata.normalize("NFKC", value.lower())


_ALLOWED_LOCAL_CHARS: Final = frozenset(string.ascii_lowercase + string.digits + ".-_")


_FORWARDING_FIELD: Final = "forwarding_address"


def _forwarding_problem(code: str, message: str) -> Problem:
    return Problem(code=f"forwarding_address.{code}", message=message, field=_FORWARDING_FIELD)


def check_forwarding_local_part(
    local: str, config: HostedDomainConfig | None = None
) -> tuple[Problem, ...]:
    """Every rule a forwarding local part breaks (check the normalized form).

    The rules: not empty; lowercase; only ``a-z 0-9 . - _`` (a subset of the RFC 5321 dot-atom
    that every provider's forwarding form accepts; ``+`` is refused because it starts a plus-tag);
    dots neither first, last nor doubled; between the minimum length and 64 octets; not reserved.
    """
    min_length = config.forwarding_min_length if config is not None else DEFAULT_MIN_LENGTH
    reserved = config.reserved_local_parts if config is not None else _DEFAULT_RESERVED
    if not local:
        return (_forwarding_problem("empty", "enter an address"),)
    problems = _character_problems(local) + _length_problems(local, min_length)
    if _reserved_key(local) in reserved:
        problems.append(
            _forwarding_problem(
                "reserved", f"{local!r} is reserved for mail systems and cannot be used"
            )
        )
    return tuple(problems)


def _character_problems(local: str) -> list[Problem]:
    """The rules on which characters a forwarding local part uses, and where its dots go."""
    problems: list[Problem] = []
    if local != local.lower():
        problems.append(_forwarding_problem("uppercase", "use lowercase letters only"))
    if "+" in local:
        problems.append(
            _forwarding_problem("plus_sign", "'+' is not allowed: it starts a plus-tag")
        )
    bad = sorted({c for c in local.lower() if c not in _ALLOWED_LOCAL_CHARS and c != "+"})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        problems.append(
            _forwarding_problem(
                "invalid_characters",
                f"only letters a-z, digits, '.', '-' and '_' are allowed, not {shown}",
            )
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        problems.append(
            _forwarding_problem(
                "dot_placement", "a dot may not come first, last, or twice in a row"
            )
        )
    return problems


def _length_problems(local: str, min_length: int) -> list[Problem]:
    """The rules on a forwarding local part's length: 64 octets at most, ``min_length`` at least."""
    problems: list[Problem] = []
    octets = len(local.encode("utf-8"))
    if octets > MAX_LOCAL_OCTETS:
        problems.append(
            _forwarding_problem(
                "too_long", f"at most {MAX_LOCAL_OCTETS} characters (this is {octets})"
            )
        )
    if len(local) < min_length:
        problems.append(_forwarding_problem("too_short", f"at least {min_length} characters"))
    return problems


def forwarding_address(local: str, account: Account, config: HostedDomainConfig) -> EmailAddress:
    """The full forwarding address of ``local`` for the account."""
    return EmailAddress(local=local, domain=config.receiving_domain(account))


# --- lifecycle ---------------------------------------------------------------------------------


class ChannelStep(enum.Enum):
    """What can happen to a channel; :data:`CHANNEL_TRANSITIONS` says where each leads."""

    CUSTOMIZE_ADDRESS = "customize_address"
    OBSERVE_CONFIRMATION = "observe_confirmation"
    """The provider's forwarding-confirmation mail arrived (often before "connect and finish")."""
    CONNECT = "connect"
    OBSERVE_FIRST_MAIL = "observe_first_mail"
    """The first real forwarded message arrived."""
    DISCONNECT = "disconnect"


_D, _C, _X = ChannelState.DRAFT, ChannelState.CONNECTED, ChannelState.DISCONNECTED

CHANNEL_TRANSITIONS: Final[Mapping[tuple[ChannelState, ChannelStep], ChannelState]] = (
    MappingProxyType(
        {
            (_D, ChannelStep.CUSTOMIZE_ADDRESS): _D,
            # Providers send their confirmation mail the moment the team enters the address,
            # before it presses "connect and finish"; and they start forwarding right after.
            (_D, ChannelStep.OBSERVE_CONFIRMATION): _D,
            (_D, ChannelStep.OBSERVE_FIRST_MAIL): _D,
            (_D, ChannelStep.CONNECT): _C,
            (_D, ChannelStep.DISCONNECT): _X,
            (_C, ChannelStep.OBSERVE_CONFIRMATION): _C,
            (_C, ChannelStep.OBSERVE_FIRST_MAIL): _C,
            (_C, ChannelStep.DISCONNECT): _X,
        }
    )
)
"""(state, step) -> new state. A pair that is absent is not allowed; DISCONNECTED is final."""


def allowed_steps(state: ChannelState) -> tuple[ChannelStep, ...]:
    """The steps :data:`CHANNEL_TRANSITIONS` allows from ``state``, in table order."""
    return tuple(step for (s, step) in CHANNEL_TRANSITIONS if s is state)


def apply_step(channel: Channel, step: ChannelStep, at: datetime) -> Channel:
    """The channel after ``step`` at time ``at``.

    Raises :class:`~inboxcore.domain.errors.InvalidTransition` naming the state and the step when
    the
    table does not allow it. Connecting and disconnecting stamp their time; a confirmation mail
    stamps :attr:`~inboxcore.domain.model.Channel.confirmation_seen_at` each time (the latest one
    is the
    one the team acts on); the first mail stamps
    :attr:`~inboxcore.domain.model.Channel.receiving_since` once.
    """
    new_state = CHANNEL_TRANSITIONS.get((channel.state, step))
    if new_state is None:
        raise InvalidTransition("channel", channel.state.value, step.value)
    changed = attrs.evolve(channel, state=new_state)
    if step is ChannelStep.CONNECT:
        changed = attrs.evolve(changed, connected_at=at)
    elif step is ChannelStep.DISCONNECT:
        changed = attrs.evolve(changed, disconnected_at=at)
    elif step is ChannelStep.OBSERVE_CONFIRMATION:
        changed = attrs.evolve(changed, confirmation_seen_at=at)
    elif step is ChannelStep.OBSERVE_FIRST_MAIL and channel.receiving_since is None:
        changed = attrs.evolve(changed, receiving_since=at)
    return changed


def transition_diagram() -> str:
    """The lifecycle as a Mermaid state diagram, drawn from :data:`CHANNEL_TRANSITIONS`."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for (state, step), new in CHANNEL_TRANSITIONS.items():
        lines.append(f"    {state.value} --> {new.value}: {step.value}")
    lines.append("    disconnected --> [*]")
    return "\n".join(lines) + "\n"


# --- from-address ------------------------------------------------------------------------------


class FromAddressKind(enum.Enum):
    """Which address replies go out from, and why."""

    DEFAULT = "default"
    CUSTOM_VERIFIED = "custom_verified"
    CUSTOM_SENDING_DOMAIN = "custom_sending_domain"


@attrs.frozen(kw_only=True)
class ResolvedFrom:
    """The from-address replies use now, and whether a custom one is still waiting."""

    address: EmailAddress
    kind: FromAddressKind
    pending: EmailAddress | None = None
    """A custom address not yet verified (mail goes out from the default until it is)."""


def _username_local(agent: User) -> str:
    raw = agent.username if agent.username else agent.email.local
    candidate = raw.strip().lower()
    if _valid_local(candidate):
        return candidate
    words = re.findall(r"[a-z0-9]+", transliterate(raw).lower())
    slug = ".".join(words)[:MAX_LOCAL_OCTETS].strip(".")
    return slug or f"agent.{slugify(str(agent.id), 50) or 'unknown'}"


def _valid_local(local: str) -> bool:
    try:
        EmailAddress(local=local, domain="example.com")
    except InvalidEmailAddress:
        return False
    return "+" not in local and not local.startswith('"')


def default_from_address(account: Account, agent: User, config: HostedDomainConfig) -> EmailAddress:
    """The agent's default from-address on the hosted domain (plan template applied).

    The username (or, without one, the local part of the agent's email) is used as it is when it
    is a plain local part, and made into one otherwise (``Zoë Åberg`` becomes ``zoe.aberg``).
    """
    text = config.from_template_for(account).format_map(
        {
            "username": _username_local(agent),
            "subdomain": account.subdomain,
            "hosted_domain": config.hosted_domain_for(account),
        }
    )
    return EmailAddress.parse(text)


def is_on_sending_domain(address: EmailAddress, account: Account) -> bool:
    """Whether the address is on one of the account's connected sending domains."""
    domains = set()
    for domain in account.sending_domains:
        try:
            domains.add(normalize_domain(domain))
        except InvalidEmailAddress:
            continue
    return address.domain in domains


def resolve_from_address(
    channel: Channel, account: Account, agent: User, config: HostedDomainConfig
) -> ResolvedFrom:
    """The address replies by ``agent`` go out from.

    A custom address is used when it is verified or on a connected sending domain; otherwise (and
    without one) the agent's default, with the waiting custom address in ``pending``.
    """
    settings = channel.from_address
    custom = settings.custom
    if custom is not None:
        if is_on_sending_domain(custom, account):
            return ResolvedFrom(address=custom, kind=FromAddressKind.CUSTOM_SENDING_DOMAIN)
        if settings.verified_at is not None:
            return ResolvedFrom(address=custom, kind=FromAddressKind.CUSTOM_VERIFIED)
    return ResolvedFrom(
        address=default_from_address(account, agent, config),
        kind=FromAddressKind.DEFAULT,
        pending=custom,
    )


def check_custom_from_address(
    text: str, channel: Channel, account: Account, config: HostedDomainConfig
) -> tuple[Problem, ...]:
    """Problems with a custom from-address the team typed."""
    field = "from_address"
    try:
        address = EmailAddress.parse(text)
    except InvalidEmailAddress as exc:
        return (
            Problem(
                code="from_address.invalid",
                message=f"not an email address: {exc.reason}",
                field=field,
            ),
        )
    problems: list[Problem] = []
    if address.display_name:
        problems.append(
            Problem(
                code="from_address.display_name",
                message="enter the address only; the name comes from the from-name setting",
                field=field,
            )
        )
    hosted = {config.hosted_domain} | {
        p.hosted_domain for p in config.plans.values() if p.hosted_domain
    }
    if any(address.domain == h or address.domain.endswith("." + h) for h in hosted):
        problems.append(
            Problem(
                code="from_address.hosted_domain",
                message="addresses on the hosted domain cannot be chosen; use the default",
                field=field,
            )
        )
    if address.untagged.key == channel.forwarding_address.key:
        problems.append(
            Problem(
                code="from_address.is_forwarding_address",
                message="replies cannot come from the forwarding address: answers would loop",
                field=field,
            )
        )
    return tuple(problems)


# --- the From header and the whole channel ------------------------------------------------------


def from_header(
    channel: Channel,
    account: Account,
    agent: User,
    config: HostedDomainConfig,
    formats: FromNameFormats | None = None,
) -> str:
    """The From header value of a reply by ``agent``: RFC 5322, RFC 2047 for non-ASCII names."""
    resolved = resolve_from_address(channel, account, agent, config)
    name = render_from_name(channel, agent, formats)
    return attrs.evolve(resolved.address, display_name=name or None).formatted()


def check_channel(
    channel: Channel,
    account: Account,
    config: HostedDomainConfig,
    others: Iterable[Channel] = (),
) -> tuple[Problem, ...]:
    """Every problem that keeps the channel from being connected, at once."""
    problems: list[Problem] = list(check_subdomain(account.subdomain))
    problems += check_channel_name(channel.name)
    if channel.forwarding_address.domain != config.receiving_domain(account):
        problems.append(
            Problem(
                code="forwarding_address.wrong_domain",
                message=f"the forwarding address must be on {config.receiving_domain(account)}",
                field="forwarding_address",
            )
        )
    problems += check_forwarding_local_part(channel.forwarding_address.local, config)
    problems += check_company_name(channel.company_name)
    problems += check_from_name_available(channel, channel.company_name, others)
    custom = channel.from_address.custom
    if custom is not None:
        problems += check_custom_from_address(custom.address, channel, account, config)
    return tuple(problems)
