"""Reading delivery reports: bounces (RFC 3464 and the non-standard formats), success notices,
feedback reports.

A helpdesk channel receives bounces for the replies its agents sent: the customer's address was
mistyped, the mailbox is full, the customer's server refuses the helpdesk's domain. The team needs
to see *which* reply failed (the original Message-ID), *for whom* (the failed recipients) and *why*
(the enhanced status code of RFC 3463, and the server's own words). None of that may open a ticket.

Standard reports (``multipart/report; report-type=delivery-status``) are read field by field.
Most real bounces are not standard: qmail, Exim, Postfix without a report, Exchange and Office
365 NDRs, Yahoo, Gmail, Sendmail, Lotus Notes each write their own prose. For those the notice
text (everything before the returned copy of the original) is searched for the failed recipients
and for SMTP replies near each of them; when no enhanced status code is given, one is inferred from
the diagnostic text (``user unknown`` is 5.1.1, ``mailbox full`` 5.2.2, ...), with the class taken
from the SMTP reply code when there is one.

Everything here is pure and never raises for any input: a report too broken to read yields what
could be read, or None. The work is linear in the message and bounded besides (the caps below:
the first 100,000 characters of a notice, the first 100 recipients), so that a hostile "bounce"
cannot hold a delivery thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property

import attrs

from inboxcore.mail.parsing import MimePart, ParsedMessage, html_to_text, parse_message

__all__ = [
    "BounceReport",
    "BouncedRecipient",
    "DeliveryReport",
    "infer_status",
    "read_delivery_report",
    "reads_as_delivery_failure",
]

_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_REPLY = re.compile(r"(?<![\w.\-/:#])([45])([0-5])(\d)(?:[ \-]|$)")
# Used with fullmatch only; the repeats are possessive (a label never has to be given back when
# the whole must match), so a long dotted token keeps no backtracking state per dot.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]++(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]++)*+"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)++[A-Za-z]{2,63}"
)
_MSGID = re.compile(r"<([^<>\s@]++@[^<>\s]+)>")
# Runs of text between the characters that cannot be in an address: each run is tried once as a
# whole address, so finding addresses is linear (a search with _ADDRESS itself would restart at
# every character of a long run of letters).
_TOKEN = re.compile(r"[^\s<>()\[\]\"',;:]++")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*)\s*:\s*(.*)$")

_JMRP_DOMAINS = frozenset({"hotmail.com", "outlook.com", "microsoft.com", "msn.com"})
_FAILED_ACTIONS = frozenset({"failed", "delayed"})
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})

_DAEMON_LOCALS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "postmaster",
        "mail-daemon",
        "maildaemon",
        "mdaemon",
        "bounce-notification",
        "mail.delivery.system",
        "mailadmin",
        "mail-router",
        "smtp-gateway",
        "post_master",
        "microsoftexchange329e71ec88ae4615bbc36ab6ce41109e",
    }
)
# System accounts that send bounces on small hosts, but are also real people's or shops'
# addresses (mail@bakery.example): evidence only beside the null sender.
_MACHINE_LOCALS = frozenset({"mailer", "daemon", "root", "mail", "nobody", "bounce", "bounces"})
_DAEMON_NAMES = re.compile(
    r"mail delivery (?:system|subsystem|service)|mailer[- ]daemon|postmaster|"
    r"delivery status notification|mail administrator|microsoft outlook|"
    r"mail transport system|returned mail|mail system|mailer[- ]agent|post office",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non[- ]?deliver|not (?:be )?delivered|delivery (?:status )?notif|"
    r"delivery (?:has )?fail|delivery failure|failed delivery|failure notice|returned mail|"
    r"return(?:ed)? to sender|mail delivery failed|could not (?:be )?deliver|could not send|"
    r"delivery problem|mail system error|unzustellbar|nicht zustellbar|non remis|"
    r"no entregado|non recapitato|onbestelbaar|kan inte levereras|ikke levert|"
    r"error sending|message not delivered|delivery report|delivery status|"
    r"warning: could not|mail failure|rejected|unable to deliver|permanent error|"
    r"nondeliverable|bounce|failed mail|delivery error|message delivery|mail failed|"
    r"returning (?:message )?to sender|\berrors?\b|エラー|"
    r"不能投递|退信|配信できません",
    re.I,
)
# Where the returned copy of the original begins in a prose bounce.
_ORIGINAL_MARKERS = re.compile(
    r"^[ \t>]*+(?:"
    r"-+ ?Below this line is a copy of the message|"
    r"-+ ?This is a copy of the message|"
    r"-+ ?(?:The )?(?:original|returned) message|"
    r"-* ?Original message follows|"
    r"-+ ?Returned Message|"
    r"-+ ?Unsent Message below|"
    r"-+ ?Undelivered Message Headers|"
    r"-+ ?The header of the original message|"
    r"-+ ?Message header follows|"
    r"-+ ?Original message header|"
    r"-+ ?Forwarded message|"
    r"Original message headers:|"
    r"Content-Type: message/rfc822|"
    r"Content-Type: text/rfc822-headers|"
    r"The original message was received|"
    r"-+ ?Transcript of session follows|"
    r"Received: from |Return-Path: |Return-path: "
    r")",
    re.I | re.M,
)
_REPLY_PREFIX = re.compile(r"\s*(?:re|fwd?|aw|wg|tr|sv|vs|antw|r|i|rv|enc)\s*:", re.I)
_NO_REPLY = re.compile(r"^no[-_.]?reply|^do[-_.]?not[-_.]?reply", re.I)
_BOUNCE_BODY = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't able to deliver|"
    r"delivery (?:has )?failed|delivery to the following recipients? failed|"
    r"following address(?:\(es\)|es)? failed|permanent (?:error|failure)|undeliverable|"
    r"unable to deliver|could not deliver|delivery failure|returned mail|"
    r"message (?:was|could) not be (?:delivered|sent)|failed to deliver|"
    r"requested action not taken|delivery status notification|error message below|"
    r"the mail system|mail delivery system|non-?delivery",
    re.I,
)
# A line that names an address to write to for help, not a failed recipient.
_CONTACT_LINE = re.compile(
    r"contact|assistance|questions|for help|reply to|\bfrom\b:|message-?id|\bmsgid\b", re.I
)
_TEMPORARY_WORDS = re.compile(
    r"temporar|will (?:continue|keep) (?:to )?(?:try|trying|retry)|not yet been delivered|"
    r"delayed|still trying|warning: message .{0,200}? delayed|will be retried|deferred",
    re.I,
)

# Diagnostic phrases and the enhanced status (RFC 3463) each implies when none is given. Order
# matters: the first match wins, so the specific comes before the general. The patterns are
# lowercase and run on lowercased text: seven times faster than re.IGNORECASE on alternations.
_INFERENCES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), status)
    for pattern, status in (
        (r"mail ?loop|loops back to myself|too many hops|hop count exceeded", "5.4.6"),
        (r"null mx|indicated no smtp service|does not accept mail", "5.1.10"),
        (
            r"mailbox (?:is )?full|"
            r"mailbox.{0,20}(?:over|exceeded|exceeds).{0,10}(?:quota|limit|size)|"
            r"quota (?:exceeded|full)|over ?quota|exceeded (?:storage|the quota|his/her quota)|"
            r"insufficient (?:disk|storage)|disk quota|mail ?box ?full|user is over|"
            r"out of (?:disk )?space|storage (?:space|limit)|is full|mailfolder is full|"
            r"size of the mailbox|too many messages in",
            "5.2.2",
        ),
        (
            r"message (?:is )?too (?:large|big)|message size exceeds|size limit|"
            r"exceeds? (?:the )?(?:maximum|max)(?:imum)? (?:message )?size|message length exceeds|"
            r"too large",
            "5.3.4",
        ),
        (
            r"account (?:has been |is )?(?:disabled|suspended|deactivated|locked|inactive|expired)|"
            r"mailbox (?:has been |is )?"
            r"(?:disabled|suspended|deactivated|inactive|locked)|"
            r"user (?:account )?(?:is )?(?:suspended|disabled|inactive)|"
            r"recipient (?:is )?(?:suspended|inactive|disabled)|"
            r"deactivated|inactive (?:user|account|mailbox)|not active",
            "5.2.1",
        ),
        (r"has moved|moved to|new address|no longer (?:with|employed)", "5.1.6"),
        (
            r"user (?:is )?unknown|unknown (?:user|recipient|local.?part|mailbox|address)|"
            r"no such (?:user|recipient|mailbox|address|account|person|local user)|"
            r"(?:user|recipient|mailbox|address|account) (?:does not|doesn't|did not) exist|"
            r"does not exist|doesn'?t exist|"
            r"(?:user|recipient|mailbox|address|account) (?:was |is )?not found|"
            r"not (?:a )?(?:valid|known) (?:user|recipient|mailbox|address)|"
            r"invalid (?:recipient|mailbox|address|user)|recipient (?:address )?rejected|"
            r"unrouteable address|no mailbox|mailbox unavailable|mailbox not available|"
            r"user not (?:found|listed|exist)|unknown or illegal alias|not listed in|"
            r"address (?:is )?(?:unknown|invalid|rejected)|bad destination (?:mailbox|address)|"
            r"no (?:such|valid) recipients?|recipient not|"
            r"couldn'?t be found|could not be found|is not a valid|"
            r"undeliverable address|non-?existent (?:user|address|mailbox)|"
            r"no account|not our customer|no longer (?:valid|available|active|exists)|"
            r"invalid address|address lookup failed|user doesn't|unknown alias|"
            r"wasn't found at|was not found at|unknown to address|not exist|"
            r"name is not recognized|not recognized|invalid (?:final )?(?:delivery )?userid|"
            r"unknown recipient|bad recipient",
            "5.1.1",
        ),
        (
            r"host (?:or domain name )?not found|host unknown|unknown host|domain not found|"
            r"domain (?:does not|doesn't) exist|unrouteable (?:mail )?domain|"
            r"name or service not known|no (?:mx|dns|a) record|nxdomain|"
            r"mx (?:lookup|record)|non-existent host|domain name system|"
            r"unknown domain|no such domain|domain (?:is )?(?:invalid|unknown)|"
            r"host name lookup failure|hostname lookup|dns lookup|"
            r"illegal host/domain|unresolvable|not a valid domain|bad domain|"
            r"all relevant mx records point",
            "5.1.2",
        ),
        (
            r"relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|"
            r"not permitted to relay|we do not relay|relay not|unable to relay|no relaying",
            "5.7.1",
        ),
        (
            r"(?:retry|delivery) (?:timeout|time) (?:exceeded|expired)|"
            r"(?:not|n't) (?:be )?delivered (?:for|within)|message expired|expired|"
            r"giving up|gave up|too long|timed? ?out|maximum time|retry time|"
            r"has not been delivered|delivery (?:is )?delayed|not yet been delivered|"
            r"will (?:continue|keep) (?:to )?(?:try|trying|retry)|unable to deliver for",
            "4.4.7",
        ),
        (
            r"connection (?:refused|reset|closed|timed out|dropped|lost)|no route to host|"
            r"not responding|"
            r"network (?:is )?unreachable|host (?:is )?unreachable|could not connect|"
            r"unable to connect|connect to .{0,200}? failed|lost connection|socket error|"
            r"did not accept our requests to connect",
            "4.4.1",
        ),
        (r"reverse dns|ptr record|rdns|reverse (?:lookup|dns|hostname)|no ptr", "5.7.25"),
        (r"\bdmarc\b|\bspf\b|\bdkim\b|authenticat", "5.7.26"),
        (
            r"sender (?:address )?(?:rejected|denied|verify failed|unknown)|"
            r"domain of sender|sender domain|"
            r"envelope sender|sender verify|bad sender",
            "5.1.8",
        ),
        (
            r"spam|junk|blacklist|black list|blocklist|block list|\brbl\b|dnsbl|"
            r"listed (?:at|in|on)|"
            r"blocked|block(?:ed)? (?:by|due)|poor reputation|bad reputation|policy|"
            r"not (?:accepted|authorized|allowed)|refused|content (?:rejected|filter)|"
            r"virus|malware|denied|prohibited|rejected",
            "5.7.1",
        ),
        (r"system (?:error|full|not accepting)|out of memory|local error|internal error", "4.3.0"),
        (r"syntax error|command unrecognized|bad command|not compliant|rfc ?5322", "5.5.2"),
    )
)

# Lines of a prose notice that name a failed recipient, in the styles of the common MTAs.
#
# Every pattern runs in time linear in the notice: an address's local part never holds "@" (nor
# ":" where the pattern may start at any colon), so the engine has one way to split a run of
# characters into local part and domain instead of one per "@" in it; runs of white space are
# horizontal and possessive, so no line start rescans the blank lines after it; and a phrase
# looks at most a bounded distance ahead for its address. A candidate with two "@" was never an
# address (:data:`_ADDRESS` refuses it), so the narrower classes find the same recipients.
_RECIPIENT_LINES = (
    re.compile(r"^[ \t]*+<([^<>\s@]++@[^<>\s]+)>", re.M),  # qmail: <addr>:
    re.compile(
        r"^[ \t]*+([^<>\s\"()@]++@[^<>\s\"():@]+?)[ \t]*+(?:\(.*\)[ \t]*+)?$", re.M
    ),  # exim, notes: addr
    re.compile(r"^[ \t]*+([^<>\s\"()@]++@[^<>\s\"():@]+?)[ \t]*+<mailto:", re.M),  # exchange
    re.compile(r"^[ \t]*+([^<>\s\"()@]++@[^<>\s\"():@]+?)[ \t]*+[:;]", re.M),  # addr: reason
    re.compile(
        r"^[ \t]*+(?:Original |Final )?Recipient[^:\n]*+:[ \t]*+(?:rfc822;[ \t]*+)?"
        r"<?([^<>\s;@]++@[^<>\s;]+)",
        re.I | re.M,
    ),
    re.compile(r"RCPT TO:?\s*+<?([^<>\s@]++@[^<>\s@]+?)>?(?=[\s:;,]|$)", re.I | re.M),
    re.compile(r"<([^<>\s@]++@[^<>\s]+)>", re.M),  # sendmail, postfix, most prose: <addr>
    re.compile(
        r"^[ \t]*+([^<>\s\"()@]++@[^<>\s\"():@]+?)[ \t]++on\s", re.M
    ),  # exchange 2003: addr on
    re.compile(
        r":[ \t]*+<?([^<>\s\"():@]++@[^<>\s\"():@]++)>?[ \t.]*+$", re.M
    ),  # Unknown user: addr
    re.compile(
        r"(?:(?:delivery|deliver(?:ed|ing)?(?: it| your (?:message|mail))?) to\s++|"
        r"to the following (?:address(?:es)?|recipients?)[^\n@]{0,200}?\n?\s*+)"
        r"<?(?<![^\s<:;,(])([^<>\s\"(),:;@]++@[^<>\s\"(),:;]+)>?(?=[\s.,:;)]|$)",
        re.I,
    ),
)

# What the prose reader looks at, at most: a notice is a few kilobytes of text, and the report
# names the first recipients; the caps keep a hostile "notice" of megabytes from stalling intake.
_MAX_NOTICE = 100_000
"""Characters of the human-readable notice that are searched for recipients and causes."""
_MAX_RECIPIENTS = 100
"""Failed recipients a report lists (prose lines or DSN blocks), in report order."""
_MAX_WINDOW = 10_000
"""Characters after a recipient searched for its status code and diagnostic."""
_MAX_INFERENCE = 4_000
"""Characters of a diagnostic text :func:`infer_status` reads (its cause is stated early)."""
_MAX_DIAGNOSTIC = 1_000
"""Characters of a server's words kept as a recipient's diagnostic (a line is at most 998)."""


@attrs.frozen(kw_only=True)
class BouncedRecipient:
    """One recipient a report is about, with what the reporting server said of it."""

    address: str
    status: str | None = None
    """The RFC 3463 enhanced status code, given or inferred."""
    action: str | None = None
    """The DSN action (``failed``, ``delayed``, ``delivered``...), None in prose notices."""
    diagnostic: str | None = None
    """The server's words (the Diagnostic-Code, or the line of the notice), as given."""
    status_inferred: bool = False
    """True when no status code was given and :attr:`status` was inferred from the text."""


@attrs.frozen(kw_only=True)
class BounceReport:
    """What a bounce says: which reply failed, for whom and why."""

    status: str | None
    """The enhanced status code of the first failed recipient (``5.1.1``)."""
    recipients: tuple[str, ...]
    """The failed recipients, lowercased, in report order."""
    original_message_id: str | None
    """The Message-ID of the bounced message (ours, when an agent's reply bounced)."""
    diagnostic: str | None
    """The reporting server's words for the first failed recipient."""
    permanent: bool | None
    """True for a permanent failure (5.x.x), False for a delay or temporary failure (4.x.x)."""
    format: str
    """How the report was read: ``rfc3464``, ``qmail``, ``exim``, ``exchange``, ``prose``..."""
    details: tuple[BouncedRecipient, ...] = ()


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """A machine-written report about earlier mail, as :func:`read_delivery_report` found it.

    ``kind`` is ``bounce`` (failed or delayed delivery), ``delivery_success`` (a DSN whose every
    recipient was delivered, relayed or expanded) or ``feedback_report`` (RFC 5965 ARF: a spam
    complaint, an unsubscribe, an authentication failure report).
    """

    kind: str
    bounce: BounceReport | None = None
    feedback_type: str | None = None
    original_message_id: str | None = None
    recipients: tuple[str, ...] = ()


def infer_status(text: str, *, temporary: bool | None = None) -> str | None:
    """The enhanced status code a diagnostic text implies, or None when it implies nothing.

    ``temporary`` forces the class (4.x.x for True, 5.x.x for False); by default the inferred
    code keeps its natural class (delays are 4.4.7, everything else permanent). Reads the first
    4,000 characters (white space collapsed): a server states the cause of a failure early.
    """
    text = " ".join(text[: _MAX_INFERENCE * 2].split())[:_MAX_INFERENCE].lower()
    for pattern, status in _INFERENCES:
        if pattern.search(text):
            if temporary is None:
                return status
            return ("4" if temporary else "5") + status[1:]
    return None


def _field_blocks(text: str) -> list[dict[str, str]]:
    """Split DSN-style ``Name: value`` text into blocks of fields (continuation lines joined)."""
    blocks: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
            continue
        if line[0] in " \t" and last is not None:
            # gathered in a list: adding to a growing string would copy it for every line
            current[last].append(line.strip())
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1).lower()
            if last not in current:
                current[last] = [match.group(2).strip()]
        else:
            last = None
    if current:
        blocks.append(current)
    return [{name: " ".join(parts) for name, parts in block.items()} for block in blocks]


def _addresses_in(text: str) -> Iterator[str]:
    """The addresses in ``text``, lowercased, in order (``<a@b.example>``, ``rfc822;a@b``...)."""
    for token in _TOKEN.finditer(text):
        candidate = token.group(0).strip(".")
        if "@" in candidate and _ADDRESS.fullmatch(candidate):
            yield candidate.lower()


def _strip_type(value: str) -> str:
    """``rfc822; <a@b>`` -> ``a@b``; ``smtp; 550 ...`` -> ``550 ...``."""
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip()


def _status_in(text: str, *, failures_only: bool = False) -> str | None:
    """The first enhanced status code in ``text`` (only 4.x.x and 5.x.x if ``failures_only``:
    a transcript's ``250 2.1.5 Ok`` says nothing about why delivery failed)."""
    for found in _STATUS.finditer(text):
        if failures_only and found.group(1) == "2":
            continue
        return f"{found.group(1)}.{int(found.group(2))}.{int(found.group(3))}"
    return None


def _reply_class(text: str) -> str | None:
    found = _REPLY.search(text)
    return found.group(1) if found else None


def _normal_status(value: str | None) -> str | None:
    if not value:
        return None
    return _status_in(value)


def _best_status(status: str | None, diagnostic: str | None) -> tuple[str | None, bool]:
    """Pick the enhanced status: the given one, else the diagnostic's, else inferred."""
    diag = diagnostic or ""
    given = _normal_status(status)
    in_diag = _status_in(diag)
    if (
        given
        and given.endswith(".0.0")
        and in_diag
        and in_diag[0] == given[0]
        and not in_diag.endswith(".0.0")
    ):
        return in_diag, False
    if given:
        return given, False
    if in_diag:
        return in_diag, False
    reply = _reply_class(diag)
    temporary = None if reply is None else reply == "4"
    inferred = infer_status(diag, temporary=temporary)
    if inferred is None and reply is not None:
        return f"{reply}.0.0", True
    return inferred, inferred is not None


@attrs.frozen(kw_only=True)
class _Tree:
    report_type: str | None
    delivery_status: tuple[str, ...]
    feedback: tuple[str, ...]
    original_headers: tuple[str, ...]
    texts: tuple[str, ...]


_DELIVERY_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_CARRIED_TYPES = frozenset({"message/rfc822", "message/global"})
_HEADER_BLOCK_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})


def _walk(parsed: ParsedMessage) -> _Tree:
    """Sort the parts of the report the parser already found: the machine-readable status
    blocks, the returned original (or its headers) and the human-readable notice.

    Reads :class:`ParsedMessage`'s own MIME tree, in document order, without parsing the
    message a second time; carried messages are not descended into (their texts are the
    original's, not the notice).
    """
    root = parsed.root
    report_type = None
    if root.content_type == "multipart/report":
        report_type = root.params.get("report-type", "").strip().lower() or None
    delivery: list[str] = []
    feedback: list[str] = []
    originals: list[str] = []
    texts: list[str] = []
    for part in root.walk():
        if part.children:
            continue
        ctype = part.content_type
        if ctype in _DELIVERY_STATUS_TYPES:
            delivery.append(part.text())
        elif ctype == "message/feedback-report":
            feedback.append(part.text())
        elif ctype in _CARRIED_TYPES:
            originals.append(_carried_text(part))
        elif ctype in _HEADER_BLOCK_TYPES:
            originals.append(part.text())
        elif ctype == "text/plain" or ctype.startswith("multipart/"):
            # a multipart whose boundary could not be found is read as text
            texts.append(part.text())
        elif ctype == "text/html":
            texts.append(html_to_text(part.text()))
    return _Tree(
        report_type=report_type,
        delivery_status=tuple(delivery),
        feedback=tuple(feedback),
        original_headers=tuple(originals),
        texts=tuple(texts),
    )


def _carried_text(part: MimePart) -> str:
    """The returned original as text (headers and body): where its Message-ID and addressees
    are looked up. A carried message sent in base64 is read decoded."""
    inner = part.message
    data = inner.raw if inner is not None else part.payload
    return data.decode("utf-8", "replace")


def _message_id_in(text: str) -> str | None:
    """The Message-ID of the header block in ``text`` (a returned original or its headers)."""
    for match in re.finditer(r"^Message-I[Dd]\s*:\s*(.*(?:\n[ \t]+.*)*)", text, re.M | re.I):
        found = _MSGID.search(match.group(1))
        if found:
            return found.group(1)
        bare = match.group(1).strip().strip("<>").strip()
        if bare and " " not in bare:
            return bare
    return None


def _feedback_report(tree: _Tree) -> DeliveryReport:
    fields: dict[str, str] = {}
    for block in _field_blocks("\n\n".join(tree.feedback)):
        for name, value in block.items():
            fields.setdefault(name, value)
    original = None
    for text in tree.original_headers:
        original = _message_id_in(text[:_MAX_NOTICE])
        if original:
            break
    recipients: tuple[str, ...] = ()
    if fields.get("original-rcpt-to"):
        recipients = (_strip_type(fields["original-rcpt-to"]).lower(),)
    return DeliveryReport(
        kind="feedback_report",
        feedback_type=(fields.get("feedback-type") or "").strip().lower() or None,
        original_message_id=original,
        recipients=recipients,
    )


def _dsn_recipients(text: str) -> list[BouncedRecipient]:
    found: list[BouncedRecipient] = []
    for block in _field_blocks(text):
        rcpt = block.get("final-recipient") or block.get("original-recipient")
        if not rcpt and not block.get("action") and not block.get("status"):
            continue
        address = _strip_type(rcpt).lower() if rcpt else ""
        address = next(_addresses_in(address), address)
        action = (block.get("action") or "").strip().lower().split()[0:1]
        diag = block.get("diagnostic-code")
        diag_text = _strip_type(diag)[:_MAX_DIAGNOSTIC] if diag else None
        status, inferred = _best_status(block.get("status"), diag_text)
        found.append(
            BouncedRecipient(
                address=address,
                status=status,
                action=action[0] if action else None,
                diagnostic=diag_text,
                status_inferred=inferred,
            )
        )
    return [r for r in found if r.address or r.status]


def _notice_text(tree: _Tree) -> str:
    """The human-readable notice: the first text part, cut where the returned original begins
    (and at :data:`_MAX_NOTICE` characters)."""
    text = ""
    for candidate in tree.texts:
        if candidate.strip():
            text = candidate
            break
    text = text[: _MAX_NOTICE + 1].replace("\r\n", "\n").replace("\r", "\n")[:_MAX_NOTICE]
    match = _ORIGINAL_MARKERS.search(text)
    if match and match.start() > 0:
        return text[: match.start()]
    return text


class _Notice:
    """A notice with what every recipient in it falls back on, each found once: a recipient
    whose own lines say nothing takes the notice's reply class and cause."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._inferred: dict[bool | None, str | None] = {}

    @cached_property
    def reply_class(self) -> str | None:
        return _reply_class(self.text)

    @cached_property
    def speaks_of_retrying(self) -> bool:
        return _TEMPORARY_WORDS.search(self.text) is not None

    @cached_property
    def lowered(self) -> str:
        return self.text.lower()

    @cached_property
    def whole(self) -> BouncedRecipient:
        """What the whole notice says, for a recipient it does not name apart."""
        return _recipient_from_window("", self.text, self)

    def inferred(self, temporary: bool | None) -> str | None:
        if temporary not in self._inferred:
            self._inferred[temporary] = infer_status(self.text, temporary=temporary)
        return self._inferred[temporary]


def _returned_text(tree: _Tree) -> str:
    """Where a prose bounce keeps the returned original (headers at least): its first
    :data:`_MAX_NOTICE` characters, found in the first :data:`_MAX_NOTICE` of the texts."""
    if tree.original_headers:
        return tree.original_headers[0][:_MAX_NOTICE]
    pieces: list[str] = []
    length = 0
    for piece in tree.texts:
        if length > _MAX_NOTICE * 2:
            break
        pieces.append(piece[: _MAX_NOTICE * 2])
        length += len(pieces[-1]) + 1
    text = "\n".join(pieces).replace("\r\n", "\n").replace("\r", "\n")
    match = _ORIGINAL_MARKERS.search(text, 0, _MAX_NOTICE)
    return text[match.start() : match.start() + _MAX_NOTICE] if match else ""


_QMAIL_LINE = re.compile(r"^<[^>@\n]++@[^>\n]++>:[^\S\n]*+$", re.M)
_EXCHANGE_WORDS = re.compile(
    r"Delivery has failed to these recipients|could(?:n't| not) be delivered|"
    r"Diagnostic information for administrators"
)


def _format_of(parsed: ParsedMessage, notice: str) -> str:
    if "qmail-send" in notice or _QMAIL_LINE.search(notice):
        return "qmail"
    if (
        "could not be delivered to one or more of its" in notice
        or "SMTP error from remote" in notice
    ):
        return "exim"
    if parsed.header("X-MS-Exchange-Message-Is-Ndr") is not None or _EXCHANGE_WORDS.search(notice):
        return "exchange"
    if "This is the mail system at host" in notice or "Postfix program" in notice:
        return "postfix"
    if "Transcript of session follows" in notice or "----- The following addresses had" in notice:
        return "sendmail"
    return "prose"


def _candidate(found: str, excluded: frozenset[str]) -> str | None:
    """A failed recipient's address from what a recipient pattern caught, or None."""
    candidate = found.strip().strip(".,;:<>\"'()[]").lower()
    if candidate.startswith("mailto:"):
        candidate = candidate[len("mailto:") :]
    if not _ADDRESS.fullmatch(candidate) or candidate in excluded:
        return None
    if candidate.split("@", 1)[0] in _DAEMON_LOCALS:
        return None
    return candidate


def _recipient_lines(notice: str, excluded: frozenset[str]) -> list[tuple[str, int]]:
    """Each failed recipient with the start of the first line naming it, in notice order.

    Linear in the notice: each pattern's matches come in order, so the line starts are found by
    one scan per pattern, and a line is checked for contact words once.
    """
    positions: dict[str, int] = {}
    contact_lines: dict[int, bool] = {}
    for pattern in _RECIPIENT_LINES:
        line_start = scanned = 0
        for match in pattern.finditer(notice):
            candidate = _candidate(match.group(1), excluded)
            if candidate is None:
                continue
            at = match.start(1)
            newline = notice.rfind("\n", scanned, at)
            if newline >= 0:
                line_start = newline + 1
            scanned = at
            if line_start not in contact_lines:
                line_end = notice.find("\n", at)
                end = line_end if line_end >= 0 else len(notice)
                contact_lines[line_start] = bool(_CONTACT_LINE.search(notice, line_start, end))
            if contact_lines[line_start]:
                continue
            if candidate not in positions or line_start < positions[candidate]:
                positions[candidate] = line_start
    return sorted(positions.items(), key=lambda item: item[1])


def _prose_recipients(notice: _Notice, excluded: frozenset[str]) -> list[BouncedRecipient]:
    """Failed recipients and their diagnostics from a prose notice (the first
    :data:`_MAX_RECIPIENTS`).

    A recipient's window is the notice from its line to the next recipient's. A bare address (a
    window holding nothing else) shares the window of the next recipient that has words of its
    own, or the last one: a list of addresses followed by one explanation.
    """
    text = notice.text
    ordered = _recipient_lines(text, excluded)[: _MAX_RECIPIENTS + 1]
    spans = [
        (start, ordered[i + 1][1] if i + 1 < len(ordered) else len(text))
        for i, (_address, start) in enumerate(ordered)
    ]
    shared = spans[-1] if spans else (0, 0)
    windows: list[tuple[int, int]] = []
    for (address, _start), span in zip(reversed(ordered), reversed(spans), strict=True):
        bare = len(text[span[0] : min(span[1], span[0] + 1_000)].strip()) <= len(address) + 4
        if not bare:
            shared = span
        windows.append(shared if bare else span)
    windows.reverse()
    found: dict[tuple[int, int], BouncedRecipient] = {}
    recipients: list[BouncedRecipient] = []
    for (address, _start), span in zip(ordered[:_MAX_RECIPIENTS], windows, strict=False):
        if span not in found:
            found[span] = _recipient_from_window(address, text[span[0] : span[1]], notice)
        recipients.append(attrs.evolve(found[span], address=address))
    return recipients


def _diagnostic_line(window: str) -> str | None:
    lines = window.split("\n")
    for line in lines:
        stripped = line.strip()
        if _STATUS.search(stripped) or _REPLY.search(stripped):
            return stripped[:_MAX_DIAGNOSTIC]
    for line in lines[1:]:
        if line.strip():
            return line.strip()[:_MAX_DIAGNOSTIC]
    return None


def _recipient_from_window(address: str, window: str, notice: _Notice) -> BouncedRecipient:
    """What the text from a recipient's line on says of it (its first :data:`_MAX_WINDOW`
    characters), falling back on the whole notice."""
    window = window[:_MAX_WINDOW]
    diagnostic = _diagnostic_line(window)
    status = _status_in(window, failures_only=True)
    inferred = False
    if status is None:
        reply = _reply_class(window) or notice.reply_class
        temporary = None
        if reply is not None:
            temporary = reply == "4"
        elif notice.speaks_of_retrying:
            temporary = True
        status = infer_status(window, temporary=temporary) or notice.inferred(temporary)
        if status is None:
            # a bounce that names no code and no known cause: RFC 3463's "other or undefined
            # status", temporary when the notice speaks of retrying, permanent otherwise
            status = f"{reply or ('4' if temporary else '5')}.0.0"
        inferred = True
    return BouncedRecipient(
        address=address,
        status=status,
        action=None,
        diagnostic=diagnostic,
        status_inferred=inferred,
    )


def _looks_like_bounce(parsed: ParsedMessage, envelope_mail_from: str | None) -> int:
    """Evidence that a message without a delivery-status part is a bounce (0: none).

    A machine sender (the null sender, a mailer-daemon or postmaster, a no-reply address) is
    required: the subject and body words alone are what a customer writes when asking about
    their own bounced mail, and that is a message for the team.
    """
    score = 0
    if envelope_mail_from == "":
        score += 1
    for sender in parsed.from_:
        local = sender.local.lower()
        name = sender.display_name or ""
        if local in _DAEMON_LOCALS or "mailer-daemon" in local or _DAEMON_NAMES.search(name):
            score += 2
        elif _NO_REPLY.search(local) or (local in _MACHINE_LOCALS and envelope_mail_from == ""):
            score += 1
    if not parsed.from_:
        raw_from = parsed.header("From") or ""
        if _DAEMON_NAMES.search(raw_from) or "mailer-daemon" in raw_from.lower():
            score += 2
    if score == 0:
        return 0
    return score + _failure_subject(parsed) + _failure_text(parsed)


def _failure_subject(parsed: ParsedMessage) -> bool:
    subject = parsed.subject
    return bool(_BOUNCE_SUBJECT.search(subject)) and not _REPLY_PREFIX.match(subject)


def _failure_text(parsed: ParsedMessage) -> bool:
    return bool(_BOUNCE_BODY.search((parsed.text or "")[:6000]))


def reads_as_delivery_failure(parsed: ParsedMessage) -> bool:
    """Whether ``parsed`` has what makes a delivery report, whoever sent it: a report structure
    (``multipart/report``, a delivery-status or feedback part) or delivery-failure wording in
    its subject (not a reply's) or the start of its text.

    Classification asks this of mail from the null sender: ``MAIL FROM:<>`` alone is no bounce.
    """
    if parsed.content_type == "multipart/report" or _has_report_part(parsed):
        return True
    return _failure_subject(parsed) or _failure_text(parsed)


def read_delivery_report(
    parsed: ParsedMessage, envelope_mail_from: str | None = None
) -> DeliveryReport | None:
    """Read ``parsed`` as a delivery report; None when it is not one.

    ``envelope_mail_from`` is the SMTP MAIL FROM ("" for the null sender, None when unknown).
    Never raises.
    """
    try:
        return _read(parsed, envelope_mail_from)
    except Exception:  # a last guard: a bad message is an outcome, never a crash
        return None


def _non_standard_feedback(parsed: ParsedMessage) -> DeliveryReport | None:
    """Complaints and unsubscribes sent without RFC 5965's structure."""
    if (parsed.header("X-Apple-Unsubscribe") or "").strip().lower() == "true":
        # Apple Mail's unsubscribe button mails the List-Unsubscribe address for the user
        return DeliveryReport(kind="feedback_report", feedback_type="opt-out")
    sender_domains = {a.domain for a in parsed.from_}
    if (
        sender_domains & _JMRP_DOMAINS
        and b"x-hmxmroriginalrecipient" in parsed.raw[:300_000].lower()
    ):
        # Microsoft's junk mail reporting programme: the complained-of message, attached
        original = parsed.attached_messages[0] if parsed.attached_messages else None
        recipient = original.header("X-HmXmrOriginalRecipient") if original else None
        return DeliveryReport(
            kind="feedback_report",
            feedback_type="abuse",
            original_message_id=original.message_id if original else None,
            recipients=(recipient.strip().lower(),) if recipient else (),
        )
    return None


def _read(parsed: ParsedMessage, envelope_mail_from: str | None) -> DeliveryReport | None:
    content_type = parsed.content_type
    feedback = _non_standard_feedback(parsed)
    if feedback is not None:
        return feedback
    evidence = _looks_like_bounce(parsed, envelope_mail_from)
    is_report = content_type == "multipart/report"
    if not is_report and evidence < 2 and not _has_report_part(parsed):
        return None
    tree = _walk(parsed)
    if tree.feedback or tree.report_type == "feedback-report":
        return _feedback_report(tree)
    original_id = None
    for text in tree.original_headers:
        original_id = _message_id_in(text[:_MAX_NOTICE])
        if original_id:
            break
    if tree.delivery_status:
        details = _dsn_recipients("\n\n".join(tree.delivery_status))
        if details:
            if all(_succeeded(r) for r in details):
                return DeliveryReport(
                    kind="delivery_success",
                    original_message_id=original_id,
                    recipients=tuple(r.address for r in details),
                )
            failed = [
                r
                for r in details
                if r.action in _FAILED_ACTIONS
                or (r.action not in _SUCCESS_ACTIONS and (r.status or "")[:1] in ("4", "5"))
            ] or [r for r in details if r.action not in _SUCCESS_ACTIONS]
            if failed:
                notice = _Notice(_notice_text(tree))
                failed = [_fill_from_notice(r, notice) for r in failed[:_MAX_RECIPIENTS]]
                if original_id is None:
                    original_id = _message_id_in(_returned_text(tree))
                return DeliveryReport(
                    kind="bounce",
                    bounce=_report(failed, original_id, "rfc3464"),
                    original_message_id=original_id,
                    recipients=tuple(r.address for r in failed),
                )
    if evidence < 3 and not (is_report and tree.report_type == "delivery-status"):
        return None
    notice = _Notice(_notice_text(tree))
    excluded = frozenset(a.address.lower() for a in (*parsed.from_, *parsed.to, *parsed.reply_to))
    details = _prose_recipients(notice, excluded)
    declared = _declared_failures(parsed)
    if declared:
        # Exim and Gmail name the failed recipients in a header: that list is authoritative
        found = {r.address: r for r in details}
        details = [found.get(a) or _from_whole_notice(a, notice) for a in declared]
    if original_id is None:
        original_id = _message_id_in(_returned_text(tree))
    if not details:
        # the notice names nobody: the returned original's addressees stand in
        details = [_from_whole_notice(a, notice) for a in _original_addressees(tree, excluded)]
    if not details:
        status = _status_in(notice.text, failures_only=True)
        if status is None:
            reply = notice.reply_class
            status = notice.inferred(None if reply is None else reply == "4")
        if evidence < 3 and status is None:
            return None
        if status is None:
            status = "4.0.0" if notice.speaks_of_retrying else "5.0.0"
        report = BounceReport(
            status=status,
            recipients=(),
            original_message_id=original_id,
            diagnostic=_diagnostic_line(notice.text[:_MAX_WINDOW]),
            permanent=status.startswith("5"),
            format=_format_of(parsed, notice.text),
        )
        return DeliveryReport(kind="bounce", bounce=report, original_message_id=original_id)
    return DeliveryReport(
        kind="bounce",
        bounce=_report(details, original_id, _format_of(parsed, notice.text)),
        original_message_id=original_id,
        recipients=tuple(r.address for r in details),
    )


def _from_whole_notice(address: str, notice: _Notice) -> BouncedRecipient:
    """A recipient the notice does not name on a line of its own: what the notice says."""
    return attrs.evolve(notice.whole, address=address)


def _declared_failures(parsed: ParsedMessage) -> list[str]:
    declared: list[str] = []
    for value in parsed.headers("X-Failed-Recipients"):
        for address in _addresses_in(value):
            if address not in declared:
                declared.append(address)
            if len(declared) == 50:
                return declared
    return declared


def _original_addressees(tree: _Tree, excluded: frozenset[str]) -> list[str]:
    returned = _returned_text(tree)
    if not returned:
        return []
    start = returned.find("\n", 0, 200) + 1 if returned.lstrip().startswith("-") else 0
    headers = parse_message(returned[start:].encode("utf-8", "replace"))
    found: list[str] = []
    for address in headers.to:
        lowered = address.address.lower()
        if lowered not in excluded and lowered not in found:
            found.append(lowered)
    return found[:20]


def _succeeded(recipient: BouncedRecipient) -> bool:
    if recipient.action in _SUCCESS_ACTIONS or recipient.action == "deliverable":
        return True
    return recipient.action is None and (recipient.status or "").startswith("2")


def _has_report_part(parsed: ParsedMessage) -> bool:
    raw = parsed.raw[:200_000].lower()
    return b"message/delivery-status" in raw or b"message/feedback-report" in raw


def _fill_from_notice(recipient: BouncedRecipient, notice: _Notice) -> BouncedRecipient:
    """A DSN block without Status or Diagnostic-Code: look the recipient up in the notice."""
    generic = recipient.status is None or recipient.status.endswith(".0.0")
    if recipient.status and not recipient.status_inferred and not generic:
        return recipient
    start = notice.lowered.find(recipient.address) if recipient.address else -1
    if start < 0:
        return recipient
    window = notice.text[start : start + 600]
    from_notice = _recipient_from_window(recipient.address, window, notice)
    status = recipient.status
    inferred = recipient.status_inferred
    better = (
        from_notice.status is not None
        and not from_notice.status_inferred
        and not from_notice.status.endswith(".0.0")
        and (status is None or from_notice.status[0] == status[0])
    )
    if status is None or better or (inferred and from_notice.status):
        status, inferred = from_notice.status, from_notice.status_inferred
    return attrs.evolve(
        recipient,
        status=status,
        status_inferred=inferred,
        diagnostic=recipient.diagnostic or from_notice.diagnostic,
    )


def _report(details: list[BouncedRecipient], original_id: str | None, fmt: str) -> BounceReport:
    first = details[0]
    permanent = None if first.status is None else first.status.startswith("5")
    if first.action == "delayed":
        permanent = False
    return BounceReport(
        status=first.status,
        recipients=tuple(r.address for r in details if r.address),
        original_message_id=original_id,
        diagnostic=first.diagnostic,
        permanent=permanent,
        format=fmt,
        details=tuple(details),
    )
