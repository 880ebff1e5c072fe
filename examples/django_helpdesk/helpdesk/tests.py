"""The example's pages as an agent's admin sees them, through Django's test client."""

import io

from django.core.management import call_command
from django.test import TransactionTestCase


class AdminPagesTest(TransactionTestCase):
    """Not TestCase: its open transaction would hold SQLite's write lock while the inbox's own
    units of work (a connection of their own) write."""

    def setUp(self) -> None:
        call_command("load_demo", stdout=io.StringIO())
        self.client.login(username="admin", password="admin")

    def test_the_admin_index_lists_the_inbox(self) -> None:
        page = self.client.get("/admin/")
        self.assertContains(page, "Held messages")
        self.assertContains(page, "Conversations")

    def test_the_conversation_list_shows_the_demo_mail(self) -> None:
        page = self.client.get("/admin/inboxcore/conversation/")
        self.assertContains(page, "Invoice")
        self.assertContains(page, "Maria Lopez")

    def test_the_held_mail_page_shows_the_held_message_and_why(self) -> None:
        page = self.client.get("/admin/inboxcore/heldmessage/")
        self.assertContains(page, "no_sender")
        self.assertContains(page, "Release")

    def test_channels_and_tickets_render(self) -> None:
        self.assertContains(self.client.get("/admin/inboxcore/channel/"), "support-7f3k@")
        self.assertContains(self.client.get("/admin/inboxcore/ticket/"), "Ticket")

    def test_the_demo_login_is_there_in_debug(self) -> None:
        self.client.logout()
        answer = self.client.get("/demo-login/?next=/admin/inboxcore/heldmessage/")
        self.assertRedirects(answer, "/admin/inboxcore/heldmessage/")
