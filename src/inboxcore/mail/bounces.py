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

from inboxcore.mail._bounce_patterns import (
    _ADDRESS,
    _BOUNCE_BODY,
    _BOUNCE_SUBJECT,
    _CONTACT_LINE,
    _DAEMON_LOCALS,
    _DAEMON_NAMES,
    _FAILED_ACTIONS,
    _FIELD,
    _JMRP_DOMAINS,
    _MACHINE_LOCALS,
    _MSGID,
    _NO_REPLY,
    _ORIGINAL_MARKERS,
    _RECIPIENT_LINES,
    _REPLY,
    _REPLY_PREFIX,
    _STATUS,
    _SUCCESS_ACTIONS,
    _TEMPORARY_WORDS,
    _TOKEN,
    _format_of,
    infer_status,
)
from inboxcore.mail.parsing import MimePart, ParsedMessage, html_to_text, parse_message

__all__ = [
    "BounceReport",
    "BouncedRecipient",
    "DeliveryReport",
    "infer_status",
    "read_delivery_report",
    "reads_as_delivery_failure",
]


# What the prose reader looks at, at most: a notice is a few kilobytes of text, and the report
# names the first recipients; the caps keep a hostile "notice" of megabytes from stalling intake.
_MAX_NOTICE = 100_000
"""Characters of the human-readable notice that are searched for recipients and causes."""
_MAX_RECIPIENTS = 100
"""Failed recipients a report lists (prose lines or DSN blocks), in report order."""
_MAX_WINDOW = 10_000
"""Characters after a recipient searched for its status code and diagnostic."""
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
    original = _original_id_in_headers(tree)
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
    feedback = _non_standard_feedback(parsed)
    if feedback is not None:
        return feedback
    evidence = _looks_like_bounce(parsed, envelope_mail_from)
    is_report = parsed.content_type == "multipart/report"
    if not is_report and evidence < 2 and not _has_report_part(parsed):
        return None
    tree = _walk(parsed)
    if tree.feedback or tree.report_type == "feedback-report":
        return _feedback_report(tree)
    original_id = _original_id_in_headers(tree)
    if tree.delivery_status:
        standard = _standard_report(tree, original_id)
        if standard is not None:
            return standard
    if evidence < 3 and not (is_report and tree.report_type == "delivery-status"):
        return None
    return _prose_report(parsed, tree, original_id, evidence)


def _original_id_in_headers(tree: _Tree) -> str | None:
    """The Message-ID of the first returned original (or its headers) that has one."""
    for text in tree.original_headers:
        original_id = _message_id_in(text[:_MAX_NOTICE])
        if original_id:
            return original_id
    return None


def _standard_report(tree: _Tree, original_id: str | None) -> DeliveryReport | None:
    """The report the delivery-status blocks make: a success, a bounce, or None when they name
    no recipient that was delivered or failed (then the notice is read as prose)."""
    details = _dsn_recipients("\n\n".join(tree.delivery_status))
    if not details:
        return None
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
    if not failed:
        return None
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


def _prose_report(
    parsed: ParsedMessage, tree: _Tree, original_id: str | None, evidence: int
) -> DeliveryReport | None:
    """The bounce a human-readable notice makes, its failed recipients found in its prose."""
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
        return _unnamed_bounce(parsed, notice, original_id, evidence)
    return DeliveryReport(
        kind="bounce",
        bounce=_report(details, original_id, _format_of(parsed, notice.text)),
        original_message_id=original_id,
        recipients=tuple(r.address for r in details),
    )


def _unnamed_bounce(
    parsed: ParsedMessage, notice: _Notice, original_id: str | None, evidence: int
) -> DeliveryReport | None:
    """A bounce naming no recipient at all: its status from the whole notice, or None when the
    evidence is weak and the notice names no cause either."""
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
