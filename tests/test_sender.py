"""Original-sender resolution: forwarding rules, Google Groups, Mailman, agents' forwards."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.mail.evidence import Evidence, EvidenceMethod
from inboxcore.mail.parsing import parse_message
from inboxcore.mail.sender import SenderResolution, SenderSource, SenderTrust, resolve_sender

CHANNEL = EmailAddress.parse("inbox-7f3a@mail.helpdesk.example")
TEAM = {"priya@acme.com", "support@acme.com", "tom@acme.com"}
PROVEN = SenderTrust(
    evidence=(
        Evidence(domain="acme.com", method=EvidenceMethod.DKIM),
        Evidence(domain="lists.example.org", method=EvidenceMethod.DKIM),
    )
)
"""The team's domain and the lists' domain signed: the legitimate mail of the scenarios below."""
NOTHING = SenderTrust()
"""Nothing proven, as offline or for a forgery."""


def _resolve(raw: str, team: set[str] = TEAM, trust: SenderTrust = PROVEN) -> SenderResolution:
    parsed = parse_message(raw.replace("\n", "\r\n").encode("utf-8"))
    return resolve_sender(parsed, team_addresses=team, channel_address=CHANNEL, trust=trust)


def _sender(resolution: SenderResolution) -> str | None:
    return resolution.sender.address if resolution.sender else None


GMAIL_AUTO_FORWARD = """\
Delivered-To: inbox-7f3a@mail.helpdesk.example
Received: by 2002:a05:6a10:a4c8 with SMTP id n8csp1234;
X-Forwarded-To: inbox-7f3a@mail.helpdesk.example
X-Forwarded-For: support@acme.com inbox-7f3a@mail.helpdesk.example
From: Marta Kowalski <marta.kowalski@example.org>
To: support@acme.com
Subject: Cannot log in
Date: Wed, 27 Oct 2021 09:31:00 +0200
Message-ID: <CAF3x9@mail.gmail.com>
Content-Type: text/plain; charset=utf-8

Hello, since yesterday the login page says "invalid token".
"""


def test_automatic_forwarding_keeps_the_original_from() -> None:
    """A Gmail forwarding rule keeps the customer's From, which is the sender."""
    resolution = _resolve(GMAIL_AUTO_FORWARD)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "marta.kowalski@example.org"
    assert resolution.sender is not None
    assert resolution.sender.display_name == "Marta Kowalski"
    assert resolution.forwarder is None
    assert resolution.header_from == resolution.sender
    assert "marta.kowalski@example.org" in resolution.explanation


GOOGLE_GROUP = """\
From: 'Maria Garcia' via Support <support@acme.com>
Sender: support@acme.com
To: Support <support@acme.com>
Reply-To: Maria Garcia <maria@cliente.es>
Subject: Pedido 88 roto
Message-ID: <AM0PR04MB@eurprd04.prod.outlook.com>
List-Id: <support.acme.com>
List-Post: <https://groups.google.com/a/acme.com/group/support/post>, <mailto:support@acme.com>
Mailing-list: list support@acme.com; contact support+owners@acme.com
X-Original-Sender: maria@cliente.es
X-Original-Authentication-Results: mx.google.com; dmarc=pass (p=REJECT) header.from=cliente.es
X-Original-From: Maria Garcia <maria@cliente.es>
Content-Type: text/plain; charset=utf-8

Hola, el pedido 88 llegó roto.
"""


def test_google_groups_rewrite_gives_the_original_poster() -> None:
    """A group's "'Name' via Group" From yields X-Original-Sender, named from X-Original-From."""
    resolution = _resolve(GOOGLE_GROUP)
    assert resolution.source is SenderSource.GOOGLE_GROUPS
    assert _sender(resolution) == "maria@cliente.es"
    assert resolution.sender is not None
    assert resolution.sender.display_name == "Maria Garcia"
    assert resolution.forwarder is not None
    assert resolution.forwarder.address == "support@acme.com"
    assert resolution.header_from is not None
    assert resolution.header_from.address == "support@acme.com"


def test_google_groups_without_x_original_from_uses_the_via_name() -> None:
    """With only X-Original-Sender, the poster's name comes from the "via" display name."""
    raw = GOOGLE_GROUP.replace("X-Original-From: Maria Garcia <maria@cliente.es>\n", "")
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.GOOGLE_GROUPS
    assert resolution.sender is not None
    assert resolution.sender.display_name == "Maria Garcia"


def test_x_original_headers_are_ignored_when_the_from_is_not_the_list() -> None:
    """Anyone can write X-Original-From; it is believed only from the list's own address."""
    raw = """\
From: 'The CEO' via Support <mallory@attacker.example>
To: support@acme.com
Subject: Urgent wire transfer
X-Original-Sender: ceo@acme.com
X-Original-From: The CEO <ceo@acme.com>
Content-Type: text/plain

Please wire 50,000 EUR today.
"""
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "mallory@attacker.example"


def test_x_original_headers_need_list_headers_even_with_a_matching_sender() -> None:
    """A Sender equal to the From proves nothing without the list's headers."""
    raw = GOOGLE_GROUP
    for header in ("List-Id", "List-Post", "Mailing-list"):
        raw = "\n".join(line for line in raw.split("\n") if not line.startswith(header + ":"))
    resolution = _resolve(raw, team=set())
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "support@acme.com"


def test_google_groups_list_id_alone_proves_the_from_is_the_group() -> None:
    """Without List-Post, a From matching the List-Id is still the group itself."""
    raw = "\n".join(line for line in GOOGLE_GROUP.split("\n") if not line.startswith("List-Post:"))
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.GOOGLE_GROUPS
    assert _sender(resolution) == "maria@cliente.es"


MAILMAN_MUNGED = """\
From: Peter Novak via Users <users@lists.example.org>
Reply-To: Peter Novak <peter@novak.example>
To: users@lists.example.org
Sender: "Users" <users-bounces@lists.example.org>
Subject: [Users] Export to CSV drops the last row
List-Id: Users of Example <users.lists.example.org>
List-Post: <mailto:users@lists.example.org>
List-Unsubscribe: <https://lists.example.org/mailman/options/users>
Message-ID: <5f2c9a@novak.example>
Content-Type: text/plain; charset=us-ascii

When I export to CSV, the last row is missing.
"""


def test_mailman_dmarc_munging_with_reply_to() -> None:
    """Mailman's "Name via List" From puts the poster in Reply-To."""
    resolution = _resolve(MAILMAN_MUNGED)
    assert resolution.source is SenderSource.LIST_MUNGED
    assert _sender(resolution) == "peter@novak.example"
    assert resolution.forwarder is not None
    assert resolution.forwarder.address == "users@lists.example.org"
    assert "Reply-To" in resolution.explanation


def test_mailman_dmarc_munging_with_cc_picks_the_poster_by_name() -> None:
    """When replies go to the list, the poster is in Cc beside others; the "via" name picks."""
    raw = MAILMAN_MUNGED.replace(
        "Reply-To: Peter Novak <peter@novak.example>\n",
        "Reply-To: users@lists.example.org\n"
        "Cc: Jana Horak <jana@horak.example>, Peter Novak <peter@novak.example>\n",
    )
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.LIST_MUNGED
    assert _sender(resolution) == "peter@novak.example"
    assert "Cc" in resolution.explanation


def test_mailman_munged_post_by_an_agent_is_the_agents() -> None:
    """An agent posting through a munging list stays the sender (team members are not excluded)."""
    raw = MAILMAN_MUNGED.replace("Peter Novak", "Tom Becker").replace(
        "peter@novak.example", "tom@acme.com"
    )
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.LIST_MUNGED
    assert _sender(resolution) == "tom@acme.com"


def test_mailman_munged_with_ambiguous_cc_falls_back_to_the_list() -> None:
    """Two unnamed Cc addresses cannot be told apart: the From stays rather than a guess."""
    raw = MAILMAN_MUNGED.replace(
        "Reply-To: Peter Novak <peter@novak.example>\n",
        "Cc: jana@horak.example, pn@novak.example\n",
    )
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "users@lists.example.org"


MAILMAN_WRAPPED = """\
From: Peter Novak via Users <users@lists.example.org>
To: users@lists.example.org
Subject: [Users] Export to CSV drops the last row
List-Id: <users.lists.example.org>
List-Post: <mailto:users@lists.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="===wrap=="

--===wrap==
Content-Type: text/plain; charset=us-ascii

The original message follows; it was wrapped because of its sender's DMARC policy.

--===wrap==
Content-Type: message/rfc822

From: Peter Novak <peter@novak.example>
To: users@lists.example.org
Subject: Export to CSV drops the last row
Message-ID: <5f2c9a@novak.example>
Content-Type: text/plain; charset=us-ascii

When I export to CSV, the last row is missing.

--===wrap==--
"""


def test_mailman_wrapped_original_gives_its_from() -> None:
    """Mailman's wrap_message mode: the original's own From is the sender."""
    resolution = _resolve(MAILMAN_WRAPPED)
    assert resolution.source is SenderSource.LIST_WRAPPED
    assert _sender(resolution) == "peter@novak.example"
    assert resolution.sender is not None
    assert resolution.sender.display_name == "Peter Novak"


AGENT_GMAIL_FORWARD = """\
From: Priya Raman <priya@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: Fwd: Faktura 2021-104
Date: Thu, 28 Oct 2021 10:02:00 +0200
Message-ID: <CAK9priya@mail.gmail.com>
Content-Type: text/plain; charset=utf-8

Can someone from billing take this?

---------- Forwarded message ---------
Från: Sven Lindqvist <sven@foretaget.se>
Date: ons 27 okt. 2021 kl 09:31
Subject: Faktura 2021-104
To: <priya@acme.com>

Hej! Fakturan har fel belopp.
"""


def test_agent_forward_uses_the_forwarded_block() -> None:
    """An agent's manual forward belongs to the customer named in the block."""
    resolution = _resolve(AGENT_GMAIL_FORWARD)
    assert resolution.source is SenderSource.MANUAL_FORWARD_BODY
    assert _sender(resolution) == "sven@foretaget.se"
    assert resolution.sender is not None
    assert resolution.sender.display_name == "Sven Lindqvist"
    assert resolution.forwarder is not None
    assert resolution.forwarder.address == "priya@acme.com"
    assert resolution.forwarded is not None
    assert resolution.forwarded.forwarder_message == "Can someone from billing take this?"


def test_team_addresses_match_ignoring_case_and_plus_tags() -> None:
    """The team's keys match a From written in other case or with a plus-tag."""
    raw = AGENT_GMAIL_FORWARD.replace(
        "<priya@acme.com>\nTo: inbox", "<Priya+fwd@ACME.com>\nTo: inbox"
    )
    resolution = _resolve(raw, team={"PRIYA@acme.com"})
    assert resolution.source is SenderSource.MANUAL_FORWARD_BODY
    assert _sender(resolution) == "sven@foretaget.se"


def test_customer_forward_stays_the_customers() -> None:
    """A customer who forwards someone else's mail to the team stays the sender."""
    raw = AGENT_GMAIL_FORWARD.replace(
        "From: Priya Raman <priya@acme.com>", "From: Lena Berg <lena@kund.se>"
    )
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "lena@kund.se"
    assert resolution.forwarder is None
    # The body is not even read for an outside sender: nothing in it could change the answer.
    assert resolution.forwarded is None


FORWARDING_MAILBOX_OUTLOOK = """\
From: Acme Support <support@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: WG: Rechnung 4711 doppelt abgebucht
Message-ID: <AM6PR0@EURPRD.prod.outlook.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Bitte &uuml;bernehmen.</p>
<div><hr><p><b>Von:</b> Max Mustermann &lt;max.mustermann@kunde.de&gt;<br>
<b>Gesendet:</b> Mittwoch, 27. Oktober 2021 15:14<br>
<b>An:</b> Support &lt;support@acme.com&gt;<br>
<b>Betreff:</b> Rechnung 4711 doppelt abgebucht</p></div>
<p>Sehr geehrte Damen und Herren, die Rechnung 4711 wurde zweimal abgebucht.</p>
</body></html>
"""


def test_forwarding_mailbox_html_forward_in_german() -> None:
    """A Microsoft 365 forward from the team mailbox, HTML only, names the customer."""
    resolution = _resolve(FORWARDING_MAILBOX_OUTLOOK)
    assert resolution.source is SenderSource.MANUAL_FORWARD_BODY
    assert _sender(resolution) == "max.mustermann@kunde.de"
    assert resolution.forwarded is not None
    assert resolution.forwarded.subject == "Rechnung 4711 doppelt abgebucht"


FORWARD_AS_ATTACHMENT = """\
From: Tom Becker <tom@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: Fw: Refund request
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

See attached.
--
Tom Becker | Acme
--b1
Content-Type: message/rfc822
Content-Disposition: attachment; filename="Refund request.eml"

From: "Olga Nowak" <olga@example.pl>
To: tom@acme.com
Subject: Refund request
Message-ID: <a1@example.pl>
Content-Type: text/plain; charset=utf-8

Please refund order 5521.
--b1--
"""


def test_forward_as_attachment_uses_the_attached_messages_from() -> None:
    """An agent's forward as attachment belongs to the attached message's author."""
    resolution = _resolve(FORWARD_AS_ATTACHMENT)
    assert resolution.source is SenderSource.FORWARD_ATTACHMENT
    assert _sender(resolution) == "olga@example.pl"
    assert resolution.forwarder is not None
    assert resolution.forwarder.address == "tom@acme.com"


def test_customer_forward_as_attachment_stays_the_customers() -> None:
    """A customer's attachment never replaces the customer as the sender."""
    raw = FORWARD_AS_ATTACHMENT.replace("Tom Becker <tom@acme.com>", "Ivan <ivan@client.example>")
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "ivan@client.example"


def test_forward_of_a_forward_by_two_agents_reaches_the_customer() -> None:
    """An agent forwarding another agent's forward: the customer inside both is the sender."""
    raw = """\
From: Tom Becker <tom@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: Fwd: Fwd: Broken export
Content-Type: text/plain; charset=utf-8

---------- Forwarded message ---------
From: Priya Raman <priya@acme.com>
Date: Thu, 6 Apr 2023 at 16:17
Subject: Fwd: Broken export
To: <tom@acme.com>

Tom, yours.

---------- Forwarded message ---------
From: Carl Jensen <carl@customer.example>
Date: Thu, 6 Apr 2023 at 15:00
Subject: Broken export
To: <priya@acme.com>

The export is broken.
"""
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.MANUAL_FORWARD_BODY
    assert _sender(resolution) == "carl@customer.example"
    assert resolution.forwarder is not None
    assert resolution.forwarder.address == "tom@acme.com"


def test_agent_forwarding_the_teams_own_mail_names_its_recipient() -> None:
    """A forwarded mail the team wrote belongs to the customer it was written to."""
    raw = """\
From: Tom Becker <tom@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: Fwd: Your quote
Content-Type: text/plain; charset=utf-8

---------- Forwarded message ---------
From: Priya Raman <priya@acme.com>
Date: Thu, 6 Apr 2023 at 16:17
Subject: Your quote
To: Dana White <dana@prospect.example>

Hi Dana, here is your quote.
"""
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.MANUAL_FORWARD_BODY
    assert _sender(resolution) == "dana@prospect.example"


def test_agent_forward_whose_block_has_no_address_keeps_the_agent() -> None:
    """A block naming only "John Doe" cannot make a contact: the agent stays the sender."""
    raw = """\
From: Priya Raman <priya@acme.com>
To: inbox-7f3a@mail.helpdesk.example
Subject: FW: Integer consequat
Content-Type: text/plain; charset=utf-8

-----Original Message-----
From: John Doe
Sent: 23 July 2022 07:53
To: Bessie Berry
Subject: Integer consequat

Aenean quis diam urna.
"""
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "priya@acme.com"
    assert resolution.forwarded is not None
    assert resolution.forwarded.from_name == "John Doe"
    assert "names no address" in resolution.explanation


def test_agent_message_without_a_forward_is_the_agents() -> None:
    """An agent writing to the channel directly is the sender."""
    raw = "From: tom@acme.com\nTo: inbox-7f3a@mail.helpdesk.example\nSubject: Note\n\nHi.\n"
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "tom@acme.com"
    assert resolution.forwarded is None


def test_no_from_falls_back_to_sender_then_reply_to_then_none() -> None:
    """Without a usable From: Sender, then Reply-To, else no sender at all."""
    with_sender = _resolve("From: undisclosed\nSender: Bot <bot@x.example>\nSubject: a\n\nb\n")
    assert with_sender.source is SenderSource.SENDER_HEADER
    assert _sender(with_sender) == "bot@x.example"
    assert with_sender.header_from is None
    with_reply_to = _resolve("From: ???\nReply-To: Ann <ann@x.example>\nSubject: a\n\nb\n")
    assert with_reply_to.source is SenderSource.REPLY_TO_HEADER
    assert _sender(with_reply_to) == "ann@x.example"
    nothing = _resolve("Subject: a\n\nb\n")
    assert nothing.source is SenderSource.NONE
    assert nothing.sender is None
    assert nothing.explanation


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_always_resolve(raw: bytes) -> None:
    """Any bytes give a resolution whose header_from is the message's first From."""
    parsed = parse_message(raw)
    resolution = resolve_sender(parsed, team_addresses=TEAM, channel_address=CHANNEL, trust=PROVEN)
    assert resolution.header_from == (parsed.from_[0] if parsed.from_ else None)
    assert resolution.explanation
    assert (resolution.sender is None) is (resolution.source is SenderSource.NONE)


@settings(max_examples=60, deadline=None)
@given(
    template=st.sampled_from(
        [AGENT_GMAIL_FORWARD, GOOGLE_GROUP, MAILMAN_MUNGED, MAILMAN_WRAPPED, FORWARD_AS_ATTACHMENT]
    ),
    cut=st.integers(min_value=0, max_value=2000),
    junk=st.text(max_size=30),
)
def test_mutated_real_messages_always_resolve(template: str, cut: int, junk: str) -> None:
    """Real messages cut short and spliced with junk still resolve without an exception."""
    raw = template[:cut] + junk + template[cut:]
    resolution = _resolve(raw)
    assert isinstance(resolution.source, SenderSource)


# --- trust: a list's or the team's word counts only when proven -----------------------------

GOOGLEGROUPS_POST = GOOGLE_GROUP.replace("support@acme.com", "helpers@googlegroups.com").replace(
    "support.acme.com", "helpers.googlegroups.com"
)
"""A public Google Group's post, which names the poster in X-Original-Sender."""


def test_forged_group_post_keeps_the_group_as_the_sender() -> None:
    """A googlegroups.com "post" nobody signed (p=none lets it in): the poster is not believed."""
    resolution = _resolve(GOOGLEGROUPS_POST, trust=NOTHING)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "helpers@googlegroups.com"
    assert [r.code for r in resolution.reasons] == ["sender.list_not_trusted"]
    assert "maria@cliente.es" in resolution.explanation
    assert "no aligned DKIM signature or trusted ARC seal of googlegroups.com" in (
        resolution.reasons[0].message
    )


def test_signed_group_post_gives_the_poster() -> None:
    """The same post signed by googlegroups.com: the group's word for the poster is taken."""
    signed = SenderTrust(
        evidence=(Evidence(domain="googlegroups.com", method=EvidenceMethod.DKIM),)
    )
    resolution = _resolve(GOOGLEGROUPS_POST, trust=signed)
    assert resolution.source is SenderSource.GOOGLE_GROUPS
    assert _sender(resolution) == "maria@cliente.es"
    assert [r.code for r in resolution.reasons] == ["sender.list_trusted"]
    assert "DKIM of googlegroups.com" in resolution.reasons[0].message
    assert "DKIM of googlegroups.com" in resolution.explanation


def test_a_trusted_arc_seal_over_the_group_also_proves_it() -> None:
    """A trusted forwarder that saw the group's signature pass vouches for the group."""
    sealed = SenderTrust(
        evidence=(Evidence(domain="googlegroups.com", method=EvidenceMethod.ARC, via="google.com"),)
    )
    assert _sender(_resolve(GOOGLEGROUPS_POST, trust=sealed)) == "maria@cliente.es"


def test_spf_alone_does_not_prove_a_list_that_is_not_the_channels() -> None:
    """A list's envelope domain passing SPF is no signature: the list stays the sender."""
    spf = SenderTrust(evidence=(Evidence(domain="googlegroups.com", method=EvidenceMethod.SPF),))
    resolution = _resolve(GOOGLEGROUPS_POST, trust=spf)
    assert _sender(resolution) == "helpers@googlegroups.com"


def test_an_attackers_own_list_is_not_believed() -> None:
    """A munged "list" post from the attacker's own domain, unsigned: its Reply-To is ignored."""
    raw = MAILMAN_MUNGED.replace("lists.example.org", "lists.attacker.example").replace(
        "Peter Novak <peter@novak.example>", "The CEO <ceo@victim.example>"
    )
    resolution = _resolve(raw)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "users@lists.attacker.example"
    assert [r.code for r in resolution.reasons] == ["sender.list_not_trusted"]


def test_an_unsigned_wrapped_original_is_not_believed() -> None:
    """Mailman's wrapped original names its From only when the list is proven."""
    resolution = _resolve(MAILMAN_WRAPPED, trust=NOTHING)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "users@lists.example.org"
    assert _resolve(MAILMAN_WRAPPED).source is SenderSource.LIST_WRAPPED


def test_the_channels_own_group_needs_a_proof_of_the_teams_domain() -> None:
    """The team's configured group: SPF of its domain or the forwarding path will do, a From
    that merely names it will not."""
    configured = SenderTrust(mailboxes={"support@acme.com"})
    unproven = _resolve(GOOGLE_GROUP, trust=configured)
    assert _sender(unproven) == "support@acme.com"
    assert [r.code for r in unproven.reasons] == ["sender.list_not_trusted"]
    assert "channel's own list" in unproven.explanation
    by_spf = attrs.evolve(
        configured, evidence=(Evidence(domain="acme.com", method=EvidenceMethod.SPF),)
    )
    assert _sender(_resolve(GOOGLE_GROUP, trust=by_spf)) == "maria@cliente.es"
    by_path = attrs.evolve(configured, forwarding_path="the operator's mailbox export")
    resolution = _resolve(GOOGLE_GROUP, trust=by_path)
    assert _sender(resolution) == "maria@cliente.es"
    assert "the operator's mailbox export" in resolution.reasons[0].message


def test_the_forwarding_path_does_not_prove_another_list() -> None:
    """The team's own forwarding path vouches for the team, not for a list it relayed."""
    trust = SenderTrust(forwarding_path="the operator's mailbox export")
    assert _sender(_resolve(GOOGLEGROUPS_POST, trust=trust)) == "helpers@googlegroups.com"


def test_forged_team_forward_keeps_the_forger_as_the_sender() -> None:
    """An unproven From of the team's (no DMARC at acme.com): its quoted block is not believed."""
    resolution = _resolve(AGENT_GMAIL_FORWARD, trust=NOTHING)
    assert resolution.source is SenderSource.HEADER_FROM
    assert _sender(resolution) == "priya@acme.com"
    assert resolution.team_member is None
    assert resolution.forwarder is None
    assert [r.code for r in resolution.reasons] == ["sender.team_unauthenticated"]
    assert "acme.com" in resolution.reasons[0].message


def test_signed_team_forward_is_unwrapped_and_names_its_proof() -> None:
    """The same forward proven for acme.com: the customer in the block is the sender."""
    resolution = _resolve(AGENT_GMAIL_FORWARD)
    assert _sender(resolution) == "sven@foretaget.se"
    assert resolution.team_member is not None
    assert resolution.team_member.address == "priya@acme.com"
    assert [r.code for r in resolution.reasons] == ["sender.team_authenticated"]
    assert "DKIM of acme.com" in resolution.reasons[0].message


def test_proof_of_another_domain_does_not_prove_the_team() -> None:
    """A passing signature of the forger's own domain proves nothing about acme.com."""
    trust = SenderTrust(evidence=(Evidence(domain="attacker.example", method=EvidenceMethod.DKIM),))
    assert _sender(_resolve(AGENT_GMAIL_FORWARD, trust=trust)) == "priya@acme.com"
    attached = _resolve(FORWARD_AS_ATTACHMENT, trust=trust)
    assert _sender(attached) == "tom@acme.com"
    assert attached.source is SenderSource.HEADER_FROM


def test_the_forwarding_path_stands_in_for_the_teams_proof() -> None:
    """Mail known to come through the channel's forwarding path counts as the team's."""
    trust = SenderTrust(forwarding_path="the envelope sender support@acme.com (SPF pass)")
    resolution = _resolve(AGENT_GMAIL_FORWARD, trust=trust)
    assert _sender(resolution) == "sven@foretaget.se"
    assert "the envelope sender support@acme.com" in resolution.reasons[0].message


def test_an_agents_own_mail_is_the_teams_only_when_proven() -> None:
    """An agent writing directly is a team member when proven, a mere From when not."""
    raw = "From: tom@acme.com\nTo: inbox-7f3a@mail.helpdesk.example\nSubject: Note\n\nHi.\n"
    proven = _resolve(raw)
    assert proven.team_member is not None
    assert proven.team_member.address == "tom@acme.com"
    forged = _resolve(raw, trust=NOTHING)
    assert _sender(forged) == "tom@acme.com"
    assert forged.team_member is None


def test_a_customers_mail_takes_no_trust_decision() -> None:
    """Ordinary mail from outside the team carries no reasons and no team member."""
    resolution = _resolve(GMAIL_AUTO_FORWARD, trust=NOTHING)
    assert resolution.reasons == ()
    assert resolution.team_member is None
