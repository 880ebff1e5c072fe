"""The parser over the real-world corpus in ../shared/corpus (skipped where it is absent).

Every whole message (``format == "rfc5322"``, all sources) must parse with every accessor
answering. For the apache/james-mime4j messages the corpus holds mime4j's own parse tree; we
compare ours entity by entity: depth, kind (``message`` for a message's header block,
``body-part`` for a part of a multipart) and the *declared* media type (None where the
Content-Type header is absent, as mime4j records it), plus the top-level type and the number of
leaf bodies. Each of those three is one expectation; docs/parsing.md records the score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inboxcore.mail.parsing import MimePart, ParsedMessage, parse_message
from tests.test_parsing import touch_everything

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _rows() -> list[dict[str, Any]]:
    index = CORPUS / "index.jsonl"
    if not index.is_file():
        return []
    rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r.get("format") == "rfc5322"]


ROWS = _rows()
MIME4J = [r for r in ROWS if r["source"] == "mime4j"]


def _declared(part: MimePart) -> str | None:
    value = part.header("Content-Type")
    return None if value is None else value.split(";")[0].strip().lower()


def _entities(message: ParsedMessage) -> list[tuple[int, str, str | None]]:
    """Our tree in mime4j's shape: a message entity, its body parts, carried messages below."""
    out: list[tuple[int, str, str | None]] = []

    def visit(part: MimePart, depth: int, kind: str) -> None:
        out.append((depth, kind, _declared(part)))
        for child in part.children:
            visit(child, depth + 1, "body-part")
        if part.content_type.startswith("message/") and part.message is not None:
            visit(part.message.root, depth + 1, "message")

    visit(message.root, 0, "message")
    return out


def _leaf_bodies(message: ParsedMessage) -> int:
    count = 0
    for part in message.root.walk():
        if part.children or part.content_type.startswith("multipart/"):
            continue
        if part.content_type.startswith("message/") and part.message is not None:
            count += _leaf_bodies(part.message)
        else:
            count += 1
    return count


def _score(row: dict[str, Any], message: ParsedMessage) -> dict[str, bool]:
    expected = row["expected"]
    wanted = [(e["depth"], e["kind"], e["content_type"]) for e in expected["mime_entities"]]
    return {
        "mime_entities": _entities(message) == wanted,
        "top_content_type": _declared(message.root) == expected["top_content_type"],
        "leaf_bodies": _leaf_bodies(message) == expected["leaf_bodies"],
    }


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_every_corpus_message_parses_completely(row: dict[str, Any], shared_dir: Path) -> None:
    """Parsing never raises and every accessor answers, on every real-world message."""
    raw = (shared_dir / "corpus" / row["path"]).read_bytes()
    message = parse_message(raw)
    touch_everything(message)
    assert message.size == len(raw)
    assert message.header_names(), "every corpus message has headers"


@pytest.mark.parametrize("row", MIME4J, ids=[r["path"] for r in MIME4J])
def test_mime_tree_matches_mime4j(row: dict[str, Any], shared_dir: Path) -> None:
    """Our MIME tree equals mime4j's: entities, top-level type and number of leaf bodies."""
    message = parse_message((shared_dir / "corpus" / row["path"]).read_bytes())
    assert _score(row, message) == dict.fromkeys(row["expected"], True)


def test_mime4j_score(shared_dir: Path) -> None:
    """Every mime4j expectation is met (the score docs/parsing.md reports)."""
    met = total = 0
    for row in MIME4J:
        message = parse_message((shared_dir / "corpus" / row["path"]).read_bytes())
        results = _score(row, message)
        met += sum(results.values())
        total += len(results)
    assert total == 3 * len(MIME4J) > 0
    assert met == total, f"{met}/{total} mime4j expectations met"
