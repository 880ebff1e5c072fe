"""Reading stored mail: files, folders, mbox and Maildir, for ``inboxcore ingest`` and
``inboxcore inspect`` alike.

A file named on the command line is an mbox when it starts with ``From `` (or ends in
``.mbox``), else one message. A folder is a Maildir when it has ``cur`` and ``new`` (messages in
delivery order); any other folder is walked in name order for ``*.eml`` and ``*.mbox`` files and
Maildirs, so that notes or scripts lying beside the mail are not taken for messages.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

__all__ = ["MessageSource", "Sources", "collect_sources", "envelope_sender"]

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*<?([^>\r\n]*)>?", re.IGNORECASE | re.MULTILINE)


@attrs.frozen(kw_only=True)
class MessageSource:
    """One message to read: where it is (for people) and how to get its bytes."""

    label: str
    load: Callable[[], bytes] = attrs.field(eq=False, repr=False)
    from_line: str | None = None
    """The sender of the mbox ``From `` line, if the message came from an mbox."""


def _is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


class _Collector:
    """Walks the paths; keeps the opened mbox files so that they can be closed after the run."""

    def __init__(self) -> None:
        self.boxes: list[mailbox.mbox] = []

    def mbox(self, path: Path) -> list[MessageSource]:
        box = mailbox.mbox(path, create=False)
        self.boxes.append(box)
        sources = []
        for n, key in enumerate(box.keys(), start=1):
            from_line = box.get_message(key).get_from().split(" ", 1)[0] or None

            def load(key: str = key) -> bytes:
                return box.get_bytes(key)

            sources.append(MessageSource(label=f"{path}#{n}", load=load, from_line=from_line))
        return sources

    def maildir(self, path: Path) -> list[MessageSource]:
        box = mailbox.Maildir(path, factory=None, create=False)
        sources = []
        # Unique names start with the delivery time: name order is delivery order.
        for key in sorted(box.keys()):

            def load(key: str = key) -> bytes:
                return box.get_bytes(key)

            sources.append(MessageSource(label=f"{path}/{key}", load=load))
        return sources

    def file(self, path: Path) -> list[MessageSource]:
        if _is_mbox(path):
            return self.mbox(path)
        return [MessageSource(label=str(path), load=path.read_bytes)]

    def folder(self, path: Path) -> list[MessageSource]:
        if _is_maildir(path):
            return self.maildir(path)
        sources: list[MessageSource] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir():
                sources += self.folder(child)
            elif child.suffix.lower() in (".eml", ".mbox") and child.is_file():
                sources += self.file(child)
        return sources


@attrs.define
class Sources:
    """The messages found under some paths, in order, and the paths that could not be read.

    Close it (or use it as a context manager) to release the mbox files it holds open.
    """

    messages: list[MessageSource]
    problems: list[str]
    _boxes: list[mailbox.mbox] = attrs.field(factory=list, alias="boxes")

    def close(self) -> None:
        for box in self._boxes:
            box.close()
        self._boxes.clear()

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def collect_sources(paths: Iterable[Path]) -> Sources:
    """Every message under ``paths`` in order, and a line per path that could not be read."""
    collector = _Collector()
    sources: list[MessageSource] = []
    problems: list[str] = []
    for path in paths:
        try:
            if path.is_dir():
                sources += collector.folder(path)
            elif path.is_file():
                sources += collector.file(path)
            else:
                problems.append(f"{path}: no such file or folder")
        except (OSError, mailbox.Error) as exc:
            problems.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")
    return Sources(messages=sources, problems=problems, boxes=collector.boxes)


def envelope_sender(raw: bytes, from_line: str | None = None) -> str | None:
    """The SMTP sender a stored message came with: the topmost Return-Path (``""`` for ``<>``),
    else the address of the mbox ``From `` line, else unknown (None).

    The separator line is not evidence of a bounce: Python's ``mailbox`` and many tools write
    ``From MAILER-DAEMON`` on every message they store, so that name (or anything that is not an
    address) gives no sender; the headers decide whether a message is a bounce.
    """
    match = _HEADER_END.search(raw)
    head = raw[: match.start() + 1] if match else raw
    found = _RETURN_PATH.search(head)
    if found:
        return found.group(1).strip().decode("utf-8", "replace")
    if from_line and "@" in from_line:
        return from_line
    return None
