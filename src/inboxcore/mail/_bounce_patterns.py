"""The words and patterns delivery reports are read with, and the status a diagnostic implies.

The tables of :mod:`inboxcore.mail.bounces`: enhanced status codes and SMTP replies, the senders,
subjects and wording of bounces in the styles of the common MTAs, where the returned original
begins in a notice, the lines that name a failed recipient, and the diagnostic phrases each
implying an RFC 3463 status (:func:`infer_status`); and which MTA's style a notice is in. Pure
data and pure functions: no I/O.
"""

from __future__ import annotations

import re

from inboxcore.mail.parsing import ParsedMessage

__all__ = ["infer_status"]


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

_MAX_INFERENCE = 4_000
"""Characters of a diagnostic text :func:`infer_status` reads (its cause is stated early)."""


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
