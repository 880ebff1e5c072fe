"""Channel setup use cases: what a helpdesk's settings screen calls, one unit of work each.

:class:`ChannelSetup` composes the ports (storage, mail transport, clock, ids, optionally an event
sink) with the host's :class:`SetupConfig`, and enforces every rule of :mod:`inboxcore.channels`
and :mod:`inboxcore.policies.signature`; the host's UI only shows what it is told. Every command
either
succeeds or raises one typed error: :class:`~inboxcore.domain.errors.ConfigurationError` with every
:class:`~inboxcore.domain.errors.Problem` for a form (a from-name or forwarding address taken by
another
channel is a problem, ``from_name.taken`` / ``forwarding_address.taken``, like any other),
:class:`~inboxcore.domain.errors.InvalidTransition` or
:class:`~inboxcore.domain.errors.ImmutableFieldError`
for a step the channel's state forbids, and the token errors for verification links.

**Verifying a custom from-address.** :meth:`ChannelSetup.set_from_address` with an address that
is not on one of the account's sending domains stores it as pending and emails a link to it. The
link carries a token signed with :class:`~inboxcore.domain.tokens.Signer` (salt
``inboxcore.from-address-verification``, the host's keys, newest first to sign) whose payload binds
the channel, the address and a token id; the channel keeps the id of the one token that may still
confirm the address. :meth:`ChannelSetup.confirm_from_address` refuses a tampered token
(:class:`~inboxcore.domain.errors.BadTokenSignature`), one older than ``max_age``
(:class:`~inboxcore.domain.errors.TokenExpired`), one used already
(:class:`~inboxcore.domain.errors.TokenAlreadyUsed`) and one for an address that has changed since
(:class:`~inboxcore.domain.errors.TokenSuperseded`). A resend mails the same token id again, so
that the
link in an earlier mail still works.

**The verification mail** is composed by :func:`inboxcore.policies.outbound.compose_verification`,
the
path of every other outbound mail (header checks, RFC 2047, a Message-ID on the hosted domain,
``Auto-Submitted``, our loop header), and DKIM-signed by
:func:`inboxcore.auth.dkim_sign.sign_message`
when the setup has a :class:`~inboxcore.ports.DkimKeyStore`: its From is on the hosted domain, so
the hosted domain's key signs it. It is composed and signed *before* the unit of work that records
the send commits: a key store that cannot be read raises its
:class:`~inboxcore.domain.errors.PortError` with nothing recorded, so the team can try again at once
instead of waiting out the resend interval for a mail that never left.

**Rate limits.** A resend for the same address waits ``resend_interval`` since the last mail; and
a channel sends at most ``max_sends`` verification mails per ``send_window``, whatever the
addresses, so that switching between two addresses cannot turn the helpdesk into a mail cannon
against either. :attr:`~inboxcore.domain.model.FromAddressSettings.verification_sent_at` keeps the
times
of the sends inside the window for that reason, across address changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote, urlsplit

import attrs

from inboxcore.app.publish import publish
from inboxcore.auth.dkim_sign import sign_message
from inboxcore.channels import (
    SUFFIX_BYTES,
    ChannelStep,
    FromNameFormats,
    HostedDomainConfig,
    ResolvedFrom,
    apply_step,
    check_channel,
    check_channel_name,
    check_company_name,
    check_custom_from_address,
    check_forwarding_local_part,
    check_from_name_available,
    check_subdomain,
    forwarding_address,
    generate_forwarding_local_part,
    is_on_sending_domain,
    normalize_forwarding_local_part,
    render_from_name,
    resolve_from_address,
)
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    BadTokenSignature,
    ConfigurationError,
    ForwardingAddressRetired,
    ForwardingAddressTaken,
    FromNameTaken,
    ImmutableFieldError,
    InvalidTransition,
    NotFoundError,
    Problem,
    RateLimited,
    TokenAlreadyUsed,
    TokenSuperseded,
)
from inboxcore.domain.events import ChannelStateChanged
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    FromAddressSettings,
    FromNameMode,
    OutboundMail,
    SendResult,
    SignatureSettings,
    User,
)
from inboxcore.domain.tokens import Signer
from inboxcore.policies.outbound import VerificationRequest, compose_verification
from inboxcore.policies.signature import (
    RenderedSignature,
    SignatureValues,
    check_signature,
    render_signature,
)
from inboxcore.ports import (
    Clock,
    DkimKeyStore,
    EventSink,
    IdSource,
    MailTransport,
    Storage,
    UnitOfWork,
)

__all__ = [
    "ChannelSetup",
    "FromAddressChange",
    "Preview",
    "SetupConfig",
    "VERIFICATION_SALT",
    "VerificationConfig",
    "build_preview",
]

VERIFICATION_SALT: Final = "inboxcore.from-address-verification"


def _keys(values: Iterable[bytes | str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values)


def _sender(value: EmailAddress | str) -> EmailAddress:
    return value if isinstance(value, EmailAddress) else EmailAddress.parse(value)


@attrs.frozen(kw_only=True)
class VerificationConfig:
    """How from-address verification mail is signed, linked, worded and rate-limited.

    ``url_template`` is an https URL of the host's app holding ``{token}``, e.g.
    ``https://app.example.com/settings/verify-sender?token={token}``; the token is URL-safe
    already and percent-encoded anyway.
    """

    secret_keys: tuple[bytes, ...] = attrs.field(converter=_keys, repr=False)
    """Oldest first; the last one signs, all verify (key rotation)."""
    url_template: str
    sender: EmailAddress = attrs.field(converter=_sender)
    """The From of verification mail, e.g. ``Acme Helpdesk <no-reply@inbox.example.net>``."""
    max_age: timedelta = timedelta(hours=24)
    resend_interval: timedelta = timedelta(minutes=1)
    max_sends: int = 5
    send_window: timedelta = timedelta(hours=1)
    product_name: str = "the helpdesk"

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        parts = urlsplit(self.url_template)
        if parts.scheme != "https" or not parts.hostname or "{token}" not in self.url_template:
            problems.append(
                Problem(
                    code="verification.url_template",
                    message="the link template must be an https URL holding {token}",
                    field="url_template",
                )
            )
        if self.max_age <= timedelta(0) or self.send_window <= timedelta(0):
            problems.append(
                Problem(
                    code="verification.durations",
                    message="max_age and send_window must be positive",
                    field="max_age",
                )
            )
        if self.max_sends < 1:
            problems.append(
                Problem(
                    code="verification.max_sends",
                    message="allow at least one send per window",
                    field="max_sends",
                )
            )
        if problems:
            raise ConfigurationError(problems)
        Signer(secret_keys=self.secret_keys, salt=VERIFICATION_SALT)  # validates the keys

    @property
    def signer(self) -> Signer:
        return Signer(secret_keys=self.secret_keys, salt=VERIFICATION_SALT)


@attrs.frozen(kw_only=True)
class SetupConfig:
    """Everything the host configures about channel setup."""

    hosting: HostedDomainConfig
    verification: VerificationConfig
    from_names: FromNameFormats = attrs.field(factory=FromNameFormats)
    address_attempts: int = 5
    """How many generated forwarding addresses to try before giving up (collisions are rare)."""


@attrs.frozen(kw_only=True)
class FromAddressChange:
    """What :meth:`ChannelSetup.set_from_address` and :meth:`~ChannelSetup.resend_verification`
    did."""

    channel: Channel
    verification_sent: bool
    """Whether a verification mail was handed to the transport."""
    send_result: SendResult | None = None
    """The transport's answer (a refusal is shown to the team: "we could not send to ...")."""
    signed_by: str | None = None
    """The DKIM ``d=`` domain of the verification mail, or None when it went out unsigned."""


@attrs.frozen(kw_only=True)
class Preview:
    """Exactly what a contact sees of a reply: the From header and the signature."""

    from_header: str
    """The header value: RFC 5322, the display name RFC 2047-encoded where needed."""
    display_name: str
    from_address: ResolvedFrom
    signature: RenderedSignature


def build_preview(
    channel: Channel, account: Account, agent: User | None, config: SetupConfig
) -> Preview:
    """The preview of a reply by ``agent`` (None: an automatic reply, no agent)."""
    resolver_agent = agent or _nobody(account)
    resolved = resolve_from_address(channel, account, resolver_agent, config.hosting)
    name = render_from_name(channel, agent, config.from_names)
    header = attrs.evolve(resolved.address, display_name=name or None).formatted()
    signature = render_signature(
        channel.signature, SignatureValues.for_agent(agent, channel.company_name)
    )
    return Preview(
        from_header=header, display_name=name, from_address=resolved, signature=signature
    )


def _nobody(account: Account) -> User:
    return User(
        id=UserId("-"),
        account_id=account.id,
        email=EmailAddress(local="team", domain="example.invalid"),
        username="team",
    )


def _taken(problem_code: str, message: str, field: str) -> ConfigurationError:
    return ConfigurationError([Problem(code=problem_code, message=message, field=field)])


class ChannelSetup:
    """The channel setup use cases over the ports. Safe to share between threads."""

    def __init__(
        self,
        *,
        storage: Storage,
        transport: MailTransport,
        clock: Clock,
        ids: IdSource,
        config: SetupConfig,
        events: EventSink | None = None,
        dkim_keys: DkimKeyStore | None = None,
        dkim_expire_after: timedelta | None = None,
    ) -> None:
        self._storage = storage
        self._transport = transport
        self._clock = clock
        self._ids = ids
        self._config = config
        self._events = events
        self._dkim_keys = dkim_keys
        self._dkim_expire_after = dkim_expire_after

    # --- creating and the forwarding address ---------------------------------------------------

    def create_channel(
        self,
        account_id: AccountId,
        name: str,
        *,
        company_name: str = "",
        from_name_mode: FromNameMode = FromNameMode.AGENT_AND_COMPANY,
    ) -> Channel:
        """A new draft channel with a generated, unguessable forwarding address.

        Raises ConfigurationError for a bad name, company name or account subdomain (or a
        from-name another channel holds), NotFoundError for an unknown account, and
        ForwardingAddressTaken if every attempt collided (a broken IdSource).
        """
        hosting = self._config.hosting
        for _ in range(max(self._config.address_attempts, 1)):
            local = generate_forwarding_local_part(
                name, self._ids.token_bytes(SUFFIX_BYTES), hosting
            )
            now = self._clock.now()
            with self._storage.unit_of_work() as uow:
                account = uow.accounts.get(account_id)
                problems = [*check_subdomain(account.subdomain), *check_channel_name(name)]
                if company_name.strip():
                    problems += check_company_name(company_name)
                if problems:
                    raise ConfigurationError(problems)
                channel = Channel(
                    id=ChannelId(self._ids.new_id("channel")),
                    account_id=account_id,
                    name=" ".join(name.split()),
                    forwarding_address=forwarding_address(local, account, hosting),
                    created_at=now,
                    company_name=" ".join(company_name.split()),
                    from_name_mode=from_name_mode,
                )
                taken = check_from_name_available(
                    channel, company_name, uow.channels.for_account(account_id)
                )
                if taken:
                    raise ConfigurationError(taken)
                key = channel.forwarding_address.key
                if uow.channels.by_forwarding_address(key) or uow.channels.is_retired(key):
                    continue
                try:
                    uow.channels.add(channel)
                    uow.commit()
                except (ForwardingAddressTaken, ForwardingAddressRetired):
                    continue
                except FromNameTaken as exc:
                    raise _from_name_taken(company_name) from exc
                return channel
        raise ForwardingAddressTaken(
            f"no free forwarding address after {self._config.address_attempts} attempts"
        )

    def customize_forwarding_address(self, channel_id: ChannelId, local_part: str) -> Channel:
        """Give a draft channel the forwarding local part the team chose.

        The input is normalized (trimmed, lowercase, cut at ``@``). Raises ImmutableFieldError
        once the channel is connected, and ConfigurationError with every broken rule, including
        ``forwarding_address.taken`` and ``forwarding_address.retired``. A previous address that
        has already received mail (the provider's confirmation, or forwarded mail) is retired,
        because the provider may still forward to it.
        """
        local = normalize_forwarding_local_part(local_part)
        hosting = self._config.hosting

        def change(uow: UnitOfWork, channel: Channel) -> Channel:
            if channel.state is not ChannelState.DRAFT:
                raise ImmutableFieldError(
                    "forwarding_address",
                    f"the channel is {channel.state.value}; the address is fixed once connected",
                )
            apply_step(channel, ChannelStep.CUSTOMIZE_ADDRESS, self._clock.now())
            problems = list(check_forwarding_local_part(local, hosting))
            if problems:
                raise ConfigurationError(problems)
            account = uow.accounts.get(channel.account_id)
            address = forwarding_address(local, account, hosting)
            if address.key == channel.forwarding_address.key:
                return channel
            if uow.channels.is_retired(address.key):
                raise _address_retired(address)
            holder = uow.channels.by_forwarding_address(address.key)
            if holder is not None and holder.id != channel.id:
                raise _address_taken(address)
            if channel.confirmation_seen_at or channel.receiving_since:
                uow.channels.retire_address(
                    channel.forwarding_address.key, channel.id, self._clock.now()
                )
            return attrs.evolve(channel, forwarding_address=address)

        try:
            return self._update(channel_id, change)
        except ForwardingAddressTaken as exc:
            raise _address_taken(None) from exc
        except ForwardingAddressRetired as exc:
            raise _address_retired(None) from exc

    # --- from-name, from-address, signature ------------------------------------------------------

    def set_from_name(
        self, channel_id: ChannelId, mode: FromNameMode, company_name: str
    ) -> Channel:
        """Set how replies are signed; ConfigurationError lists every problem."""

        def change(uow: UnitOfWork, channel: Channel) -> Channel:
            _require_live(channel, "set_from_name")
            problems = list(check_company_name(company_name))
            problems += check_from_name_available(
                channel, company_name, uow.channels.for_account(channel.account_id)
            )
            if problems:
                raise ConfigurationError(problems)
            return attrs.evolve(
                channel, from_name_mode=mode, company_name=" ".join(company_name.split())
            )

        try:
            return self._update(channel_id, change)
        except FromNameTaken as exc:
            raise _from_name_taken(company_name) from exc

    def set_signature(self, channel_id: ChannelId, signature: SignatureSettings) -> Channel:
        """Store the team signature; ConfigurationError for unknown tokens or unsafe content."""

        def change(uow: UnitOfWork, channel: Channel) -> Channel:
            _require_live(channel, "set_signature")
            problems = check_signature(signature)
            if problems:
                raise ConfigurationError(problems)
            return attrs.evolve(channel, signature=signature)

        return self._update(channel_id, change)

    def set_from_address(self, channel_id: ChannelId, address: str | None) -> FromAddressChange:
        """Use the default from-address (None) or a custom one.

        An address on a connected sending domain is used at once. Any other is stored as
        pending, and a verification mail goes to it; until confirmed, replies use the default.
        Setting the pending address again is a resend. Raises ConfigurationError for a bad
        address, RateLimited (with ``retry_after``) when too many mails went out, and the
        key store's PortError (nothing changed) when the DKIM keys cannot be read.
        """
        now = self._clock.now()
        verification = self._config.verification
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            _require_live(channel, "set_from_address")
            account = uow.accounts.get(channel.account_id)
            current = channel.from_address
            recent = _recent(current.verification_sent_at, now, verification.send_window)
            if address is None or not address.strip():
                settings = FromAddressSettings(verification_sent_at=recent)
                return self._store_from_address(uow, channel, settings)
            problems = check_custom_from_address(
                address.strip(), channel, account, self._config.hosting
            )
            if problems:
                raise ConfigurationError(problems)
            custom = EmailAddress.parse(address.strip())
            if is_on_sending_domain(custom, account):
                settings = FromAddressSettings(custom=custom, verification_sent_at=recent)
                return self._store_from_address(uow, channel, settings)
            same = current.custom is not None and current.custom.key == custom.key
            if same and current.verified_at is not None:
                return FromAddressChange(channel=channel, verification_sent=False)
            resend = same and current.pending_token_id is not None
            if not resend:
                self._check_cap(recent, now)
                token_id = self._ids.new_id("verification")
                settings = FromAddressSettings(
                    custom=custom, pending_token_id=token_id, verification_sent_at=(*recent, now)
                )
                channel = attrs.evolve(channel, from_address=settings)
                mail, signed_by = self._verification_mail(channel, account, custom, token_id, now)
                uow.channels.update(channel)
                uow.commit()
        if resend:
            return self.resend_verification(channel_id)
        return self._send(channel, mail, signed_by)

    def resend_verification(self, channel_id: ChannelId) -> FromAddressChange:
        """Mail the pending address its link again (the same token id, a fresh issue time)."""
        now = self._clock.now()
        verification = self._config.verification
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            _require_live(channel, "resend_verification")
            current = channel.from_address
            if current.custom is None or current.pending_token_id is None:
                raise ConfigurationError(
                    [
                        Problem(
                            code="from_address.nothing_to_verify",
                            message="there is no custom from-address waiting for verification",
                            field="from_address",
                        )
                    ]
                )
            recent = _recent(current.verification_sent_at, now, verification.send_window)
            if recent and recent[-1] + verification.resend_interval > now:
                retry = recent[-1] + verification.resend_interval
                raise RateLimited(
                    f"a verification mail was sent moments ago; try again at {retry.isoformat()}",
                    retry_after=retry,
                )
            self._check_cap(recent, now)
            changed = attrs.evolve(
                channel,
                from_address=attrs.evolve(current, verification_sent_at=(*recent, now)),
            )
            account = uow.accounts.get(channel.account_id)
            mail, signed_by = self._verification_mail(
                changed, account, current.custom, current.pending_token_id, now
            )
            uow.channels.update(changed)
            uow.commit()
        return self._send(changed, mail, signed_by)

    def confirm_from_address(self, token: str) -> Channel:
        """Mark the custom address the token was sent to as verified.

        Raises BadTokenSignature (tampered, malformed, foreign), TokenExpired (older than
        ``max_age``), TokenAlreadyUsed (this address was verified with it), or TokenSuperseded
        (the address changed since, or the channel is gone or disconnected).
        """
        now = self._clock.now()
        verification = self._config.verification
        signed = verification.signer.unsign(token, now, verification.max_age)
        channel_id, address_key, token_id = _decode_payload(signed.payload)
        with self._storage.unit_of_work() as uow:
            try:
                channel = uow.channels.get(ChannelId(channel_id))
            except NotFoundError as exc:
                raise TokenSuperseded("the channel of this link no longer exists") from exc
            current = channel.from_address
            if channel.state is ChannelState.DISCONNECTED:
                raise TokenSuperseded("the channel of this link was disconnected")
            if current.custom is None or current.custom.key != address_key:
                raise TokenSuperseded("the from-address was changed after this link was sent")
            if current.pending_token_id != token_id:
                if current.verified_at is not None:
                    raise TokenAlreadyUsed("this address has been verified with this link")
                raise TokenSuperseded("a newer verification link was sent for this address")
            changed = attrs.evolve(
                channel,
                from_address=attrs.evolve(current, verified_at=now, pending_token_id=None),
            )
            uow.channels.update(changed)
            uow.commit()
        return changed

    # --- lifecycle ---------------------------------------------------------------------------

    def connect(self, channel_id: ChannelId) -> Channel:
        """ "Connect and finish": the draft becomes connected, its address fixed for good.

        Raises InvalidTransition unless the channel is a draft, and ConfigurationError with
        every problem that keeps it from working.
        """
        now = self._clock.now()
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            connected = apply_step(channel, ChannelStep.CONNECT, now)
            account = uow.accounts.get(channel.account_id)
            problems = list(
                check_channel(
                    channel,
                    account,
                    self._config.hosting,
                    uow.channels.for_account(channel.account_id),
                )
            )
            problems += check_signature(channel.signature)
            if problems:
                raise ConfigurationError(problems)
            uow.channels.update(connected)
            uow.commit()
        self._emit(channel, connected, ChannelStep.CONNECT, now)
        return connected

    def disconnect(self, channel_id: ChannelId) -> Channel:
        """Disconnect the channel and retire its forwarding address for good.

        Mail still forwarded to the address then finds no channel, and no channel of any account
        can ever take the address again. Its from-name becomes free.
        """
        now = self._clock.now()
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            gone = apply_step(channel, ChannelStep.DISCONNECT, now)
            uow.channels.retire_address(channel.forwarding_address.key, channel.id, now)
            uow.channels.update(gone)
            uow.commit()
        self._emit(channel, gone, ChannelStep.DISCONNECT, now)
        return gone

    # --- preview -----------------------------------------------------------------------------

    def preview(self, channel_id: ChannelId, agent: User | None) -> Preview:
        """The From header and signature a contact will see on a reply by ``agent``."""
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            account = uow.accounts.get(channel.account_id)
        return build_preview(channel, account, agent, self._config)

    # --- helpers -----------------------------------------------------------------------------

    def _update(
        self, channel_id: ChannelId, change: Callable[[UnitOfWork, Channel], Channel]
    ) -> Channel:
        with self._storage.unit_of_work() as uow:
            channel = uow.channels.get(channel_id)
            changed = change(uow, channel)
            if changed != channel:
                uow.channels.update(changed)
                uow.commit()
        return changed

    def _store_from_address(
        self, uow: UnitOfWork, channel: Channel, settings: FromAddressSettings
    ) -> FromAddressChange:
        changed = attrs.evolve(channel, from_address=settings)
        uow.channels.update(changed)
        uow.commit()
        return FromAddressChange(channel=changed, verification_sent=False)

    def _check_cap(self, recent: tuple[datetime, ...], now: datetime) -> None:
        verification = self._config.verification
        if len(recent) >= verification.max_sends:
            retry = recent[-verification.max_sends] + verification.send_window
            raise RateLimited(
                f"{verification.max_sends} verification mails were sent within "
                f"{verification.send_window}; try again at {retry.isoformat()}",
                retry_after=retry,
            )

    def _verification_mail(
        self,
        channel: Channel,
        account: Account,
        address: EmailAddress,
        token_id: str,
        now: datetime,
    ) -> tuple[OutboundMail, str | None]:
        """The verification mail for ``address``, composed and DKIM-signed, and the signing
        domain (None: unsigned). Raises the key store's PortError."""
        verification = self._config.verification
        hosting = self._config.hosting
        payload = json.dumps([channel.id, address.key, token_id]).encode("utf-8")
        token = verification.signer.sign(payload, now)
        link = verification.url_template.replace("{token}", quote(token, safe=""))
        composed = compose_verification(
            VerificationRequest(
                channel=channel,
                address=address,
                link=link,
                sender=verification.sender,
                expires_in=verification.max_age,
                message_id_domain=hosting.hosted_domain_for(account),
                product_name=verification.product_name,
            ),
            now=now,
            unique=self._ids.token_bytes(12).hex(),
        )
        mail = composed.mail
        if self._dkim_keys is None:
            return mail, None
        signed = sign_message(
            mail.data,
            self._dkim_keys,
            from_domain=composed.sender.domain,
            hosted_domains=(hosting.hosted_domain_for(account), hosting.hosted_domain),
            now=now,
            expire_after=self._dkim_expire_after,
        )
        return attrs.evolve(mail, data=signed.data), signed.domain

    def _send(
        self, channel: Channel, mail: OutboundMail, signed_by: str | None
    ) -> FromAddressChange:
        result = self._transport.send(mail)
        return FromAddressChange(
            channel=channel, verification_sent=True, send_result=result, signed_by=signed_by
        )

    def _emit(self, old: Channel, new: Channel, step: ChannelStep, at: datetime) -> None:
        """Announce a committed state change (a failing host sink is logged, never raised)."""
        changed = ChannelStateChanged(
            at=at,
            account_id=new.account_id,
            channel_id=new.id,
            old=old.state,
            new=new.state,
            step=step.value,
        )
        publish(self._events, [changed])


def _require_live(channel: Channel, step: str) -> None:
    if channel.state is ChannelState.DISCONNECTED:
        raise InvalidTransition("channel", channel.state.value, step)


def _recent(times: tuple[datetime, ...], now: datetime, window: timedelta) -> tuple[datetime, ...]:
    return tuple(sorted(t for t in times if now - t < window))


def _decode_payload(payload: bytes) -> tuple[str, str, str]:
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadTokenSignature("the token does not carry a verification request") from exc
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        raise BadTokenSignature("the token does not carry a verification request")
    return value[0], value[1], value[2]


def _from_name_taken(company: str) -> ConfigurationError:
    return _taken(
        "from_name.taken",
        f"the from-name {company.strip()!r} is already used by another channel",
        "company_name",
    )


def _address_taken(address: EmailAddress | None) -> ConfigurationError:
    shown = address.address if address else "this address"
    return _taken("forwarding_address.taken", f"{shown} is already in use", "forwarding_address")


def _address_retired(address: EmailAddress | None) -> ConfigurationError:
    shown = address.address if address else "this address"
    return _taken(
        "forwarding_address.retired",
        f"{shown} belonged to a disconnected channel and can never be used again",
        "forwarding_address",
    )
