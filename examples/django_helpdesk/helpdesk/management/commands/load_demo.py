"""``manage.py load_demo``: Acme's support channel, two agents, an admin, and inboxcore's demo
messages delivered through the site's inbox (the same samples as ``inboxcore demo``)."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inboxcore import Account, AccountId, Channel, ChannelId, ChannelState, EmailAddress, Envelope
from inboxcore.cli._demo import DEMO_PATH, sample_sources
from inboxcore.contrib.django.conf import get_inbox
from inboxcore.domain.errors import ConflictError
from inboxcore.domain.ids import UserId
from inboxcore.domain.model import RoutingMode, RoutingSettings

ADDRESS = "support-7f3k@acme.inbox.example.net"
AGENTS = (("anna", "Anna", "Berg"), ("jonas", "Jonas", "Weber"))
# Held mail for the admin's held-messages page: a message whose sender cannot be told (a group
# syntax From, as some bulk senders write), which intake keeps for a person to look at.
HELD = (
    b"From: undisclosed-recipients:;\r\nTo: support@acme.example\r\n"
    b"Subject: Your invoice is ready\r\nMessage-ID: <held-1@bulk.example>\r\n"
    b"Date: Mon, 04 May 2026 09:30:00 +0000\r\n\r\nDownload it from our portal.\r\n"
)


class Command(BaseCommand):
    help = "Load the demo: Acme's channel, agents, an admin (admin/admin) and the sample mail."

    def handle(self, *args: object, **options: object) -> None:
        if not getattr(settings, "HELPDESK_DEMO", False):
            raise CommandError("load_demo is for the example site (HELPDESK_DEMO) only")
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            users.objects.create_superuser("admin", "admin@acme.example", "admin")
        agents = []
        for username, first, last in AGENTS:
            email = f"{first.lower()}.{last.lower()}@acme.example"
            user, _ = users.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last, "email": email}
            )
            agents.append(UserId(str(user.pk)))  # UserDirectory's ids
        inbox = get_inbox()
        self._channel(inbox, tuple(agents))
        mail = [(source.label, source.load()) for source in sample_sources()]
        for label, raw in [*mail, ("held: no usable sender", HELD)]:
            envelope = Envelope(received_at=datetime.now(UTC), rcpt_to=(ADDRESS,))
            delivery = inbox.receive(raw, envelope, forwarding_path=DEMO_PATH)
            codes = ", ".join(delivery.reason_codes[:2]) or "-"
            self.stdout.write(f"{label:<42} {delivery.disposition.value:<12} {codes}")
        self.stdout.write("Log in at /admin/ as admin / admin.")

    def _channel(self, inbox: object, agents: tuple[UserId, ...]) -> None:
        """Acme's support channel, new conversations to the agents in turn."""
        routing = RoutingSettings(mode=RoutingMode.USERS_AND_TEAMS, user_ids=agents)
        with inbox.storage.unit_of_work() as uow:  # type: ignore[attr-defined]
            try:
                uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
                uow.channels.add(
                    Channel(
                        id=ChannelId("support"),
                        account_id=AccountId("acme"),
                        name="Support",
                        forwarding_address=EmailAddress.parse(ADDRESS),
                        created_at=datetime.now(UTC),
                        state=ChannelState.CONNECTED,
                        company_name="Acme Support",
                        mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
                        routing=routing,
                    )
                )
                uow.commit()
            except ConflictError:
                uow.rollback()  # loaded before
