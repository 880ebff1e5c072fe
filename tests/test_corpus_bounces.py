"""Classification against the sisimai corpus of real bounces, auto-replies and reports.

The corpus (``../shared/corpus``, rows with ``source == "sisimai"``) carries sisimai's own
expectations: whether a file is a bounce, and per failed recipient the enhanced status code.
sisimai writes pseudo codes of its own (``5.0.9xx``) when a bounce names no status; those are
compared with the standard code that means the same (``5.0.911``, user unknown, is ``5.1.1``).
Where sisimai and inboxcore disagree on purpose, the file is in an allow-list with the reason.
Scores are printed (``pytest -s``) and held to thresholds reached at the time of writing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.model import MessageKind
from inboxcore.mail.classify import Classification, ClassificationContext, classify
from inboxcore.mail.parsing import parse_message

CONTEXT = ClassificationContext(
    channel_address=EmailAddress.parse("acme-support@inbox.helpdesk.example"),
    channel_id="ch_corpus",
    own_message_id_domains=frozenset({"mail.helpdesk.example"}),
    loop_header_value="ch_corpus.1",
)

# Files whose kind sisimai and inboxcore knowingly judge differently, with the reason.
NOT_BOUNCES_FOR_US = {
    "sisimai/maildir/bsd/lhost-amazonses-09.eml": (
        "an Amazon SNS notification whose body is SES's JSON bounce event, sent to an SNS "
        "e-mail subscriber; a mailbox forwarding to a helpdesk does not receive these"
    ),
    "sisimai/maildir/bsd/lhost-fml-02.eml": (
        "a mailing-list manager (fml) telling a non-member their post was refused; "
        "no delivery failed, no status or failed recipient is given"
    ),
    "sisimai/maildir/bsd/lhost-fml-03.eml": (
        "a mailing-list manager's 'Loop Alert: Duplicated Message-ID' notice, not a DSN"
    ),
    "sisimai/maildir/bsd/lhost-sendmail-14.eml": (
        "a person forwarding ('Fwd: Returned mail') a bounce they received: for a helpdesk "
        "that is a customer asking for help, so it stays a message"
    ),
}

# sisimai's pseudo status codes (no code in the bounce; inferred from its reason) and the
# standard codes (RFC 3463) that mean the same. None: any code of the same class.
PSEUDO_STATUS: dict[str, frozenset[str] | None] = {
    "900": None,  # undefined
    "901": None,  # onhold: sisimai could not decide
    "910": frozenset({"5.7.1", "5.2.0", "5.7.0"}),  # filtered
    "911": frozenset({"5.1.1"}),  # userunknown
    "912": frozenset({"5.1.2", "5.4.4"}),  # hostunknown
    "918": frozenset({"5.7.1", "5.1.8", "5.7.0"}),  # rejected (the sender)
    "921": frozenset({"5.2.1"}),  # suspend
    "922": frozenset({"5.2.2"}),  # mailboxfull
    "930": frozenset({"5.3.0"}),  # systemerror
    "932": frozenset({"5.3.2", "5.7.1", "5.1.10"}),  # notaccept (sisimai: 5.1.10 null MX)
    "944": frozenset({"5.4.1", "5.4.6"}),  # networkerror
    "947": frozenset({"5.4.7"}),  # expired
    "971": frozenset({"5.7.1"}),  # blocked
    "973": frozenset({"5.7.25", "5.7.1"}),  # requireptr
    "980": frozenset({"5.7.1"}),  # spamdetected
}

THRESHOLDS = {
    "is_bounce accuracy": 0.98,
    "status match rate": 0.82,
    "recipient match rate": 0.95,
    "auto-reply accuracy": 1.0,
    "feedback report accuracy": 1.0,
    "delivery success accuracy": 1.0,
    "unlabelled bounce collection": 0.90,
}


def status_matches(expected: str, got: str | None) -> bool:
    """sisimai's code against ours: equal, or the same meaning for a pseudo code."""
    if got is None:
        return False
    if expected == got:
        return True
    pseudo = re.fullmatch(r"([45])\.0\.(9\d\d)", expected)
    if pseudo is None:
        return False
    accepted = PSEUDO_STATUS.get(pseudo.group(2))
    if accepted is None:
        return got[0] == pseudo.group(1)
    return "5" + got[1:] in accepted and got[0] == pseudo.group(1)


def _rows(shared: Path) -> Iterator[dict[str, Any]]:
    with (shared / "corpus" / "index.jsonl").open(encoding="utf-8") as index:
        for line in index:
            row = json.loads(line)
            if row["source"] == "sisimai":
                yield row


def _classify(shared: Path, row: dict[str, Any]) -> Classification:
    raw = (shared / "corpus" / row["path"]).read_bytes()
    parsed = parse_message(raw)
    # What a host knows as MAIL FROM is what final delivery wrote into Return-Path.
    return_path = parsed.header("Return-Path")
    mail_from = None if return_path is None else return_path.strip().strip("<>").strip()
    return classify(parsed, mail_from, CONTEXT)


class Score:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self.misses: dict[str, list[str]] = {}

    def add(self, name: str, ok: bool, note: str) -> None:
        self.totals[name] = self.totals.get(name, 0) + 1
        self.hits[name] = self.hits.get(name, 0) + int(ok)
        if not ok:
            self.misses.setdefault(name, []).append(note)

    def rate(self, name: str) -> float:
        return self.hits.get(name, 0) / self.totals[name]


def test_sisimai_corpus_scores(shared_dir: Path) -> None:
    """Bounces, their status codes and recipients, auto-replies and reports reach the scores."""
    score = Score()
    for row in _rows(shared_dir):
        expected = row["expected"]
        path = row["path"]
        result = _classify(shared_dir, row)
        if expected.get("is_feedback_report"):
            score.add(
                "feedback report accuracy",
                result.reason == "auto_reply.feedback_report",
                f"{path}: {result.reason}",
            )
        if expected.get("is_delivery_success_dsn"):
            score.add(
                "delivery success accuracy",
                result.reason == "auto_reply.delivery_success",
                f"{path}: {result.reason}",
            )
        if expected.get("is_auto_reply"):
            score.add(
                "auto-reply accuracy",
                result.kind is MessageKind.AUTO_REPLY,
                f"{path}: {result.reason}",
            )
        if "is_bounce" not in expected:
            if row["category"] == "bounce":
                score.add(
                    "unlabelled bounce collection",
                    result.kind is MessageKind.BOUNCE,
                    f"{path}: {result.reason}",
                )
            continue
        want_bounce = bool(expected["is_bounce"]) and path not in NOT_BOUNCES_FOR_US
        score.add(
            "is_bounce accuracy",
            (result.kind is MessageKind.BOUNCE) == want_bounce,
            f"{path}: {result.kind.value} {result.reason}",
        )
        if not expected["is_bounce"] or not expected.get("sisimai_status"):
            continue
        statuses: list[str] = expected["sisimai_status"]
        details = result.bounce.details if result.bounce else ()
        score.add(
            "recipient match rate",
            len(details) == len(statuses),
            f"{path}: {len(statuses)} expected, {len(details)} found",
        )
        ours = [d.status for d in details] or [result.bounce.status if result.bounce else None]
        for want in statuses:
            found = next((got for got in ours if status_matches(want, got)), None)
            score.add(
                "status match rate",
                found is not None,
                f"{path}: {want} expected, {ours} found",
            )
            if found is not None:
                ours.remove(found)

    print()
    for name in THRESHOLDS:
        print(
            f"{name:30} {score.hits.get(name, 0):4}/{score.totals[name]:<4} {score.rate(name):.3f}"
        )
    failures = {
        name: score.misses.get(name, [])[:10]
        for name, threshold in THRESHOLDS.items()
        if score.rate(name) < threshold
    }
    assert failures == {}


def test_allow_listed_files_are_still_classified_sensibly(shared_dir: Path) -> None:
    """Each allow-listed file exists and gets what the allow-list says: not a bounce."""
    rows = {row["path"]: row for row in _rows(shared_dir)}
    for path in NOT_BOUNCES_FOR_US:
        assert path in rows
        result = _classify(shared_dir, rows[path])
        assert result.kind is not MessageKind.BOUNCE


def test_no_corpus_file_makes_classify_raise(shared_dir: Path) -> None:
    """Every file of the whole corpus, whatever its source, gets a classification."""
    with (shared_dir / "corpus" / "index.jsonl").open(encoding="utf-8") as index:
        paths = [json.loads(line)["path"] for line in index]
    kinds = set()
    for path in paths:
        raw = (shared_dir / "corpus" / path).read_bytes()
        kinds.add(classify(parse_message(raw), None, CONTEXT).kind)
    assert MessageKind.MESSAGE in kinds
    assert MessageKind.BOUNCE in kinds
