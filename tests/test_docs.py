"""The documentation site: runnable examples run, the inspect schema and API pages stay complete.

Code blocks marked ``<!-- test: run -->`` in the quickstart and the how-tos run, in order, as one
script per page (so a page can explain a step between two blocks); every other Python block of
those pages must at least compile. The inspect JSON page must name exactly the keys
:func:`inboxcore.cli.inspect.report` produces, and every public module must have an API page.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pkgutil
import re
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import inboxcore
from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.cli.inspect import inspect_files, report

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE_PAGES = ["quickstart.md", "how-to/django.md", "how-to/fastapi.md", "how-to/celery.md"]

_FENCE = re.compile(
    r"(?:<!-- test: (?P<marker>run|django) -->\n)?```(?P<lang>[a-z]*)[^\n]*\n(?P<code>.*?)^```",
    re.DOTALL | re.MULTILINE,
)


def marked_blocks(page: Path) -> list[tuple[str | None, str]]:
    """The page's Python code blocks, each with its marker: ``run``, ``django`` or None."""
    return [
        (m["marker"], m["code"])
        for m in _FENCE.finditer(page.read_text(encoding="utf-8"))
        if m["lang"] in {"python", "py"}
    ]


def python_blocks(page: Path) -> list[tuple[bool, str]]:
    """The page's Python code blocks, each with whether it is marked runnable."""
    return [(marker == "run", code) for marker, code in marked_blocks(page)]


# --- runnable examples ----------------------------------------------------------------------


@pytest.mark.parametrize("name", RUNNABLE_PAGES)
def test_marked_examples_run_as_one_script(name: str) -> None:
    """The page's runnable blocks exist and run in order without error (their asserts hold)."""
    blocks = [code for runnable, code in python_blocks(DOCS / name) if runnable]
    assert blocks, f"{name} has no runnable example"
    namespace: dict[str, Any] = {"__name__": f"docs_{Path(name).stem}"}
    with redirect_stdout(io.StringIO()):
        for number, code in enumerate(blocks, 1):
            exec(compile(code, f"{name} (runnable block {number})", "exec"), namespace)


def test_django_blocks_run_in_a_configured_project() -> None:
    """Blocks marked ``<!-- test: django -->`` run in order, in one namespace, inside the test
    suite's Django project (tests.django_support), as a host's code runs in theirs."""
    from tests.django_support import empty_tables, setup_django

    setup_django()
    empty_tables("default")
    blocks = [
        code for marker, code in marked_blocks(DOCS / "how-to/django.md") if marker == "django"
    ]
    assert blocks, "the Django how-to has no Django-run block"
    namespace: dict[str, Any] = {"__name__": "docs_django"}
    with redirect_stdout(io.StringIO()):
        for number, code in enumerate(blocks, 1):
            exec(compile(code, f"how-to/django.md (Django block {number})", "exec"), namespace)


@pytest.mark.parametrize("name", RUNNABLE_PAGES)
def test_every_python_block_compiles(name: str) -> None:
    """Blocks that need a framework (Django, FastAPI, Celery) are at least valid Python."""
    for number, (_, code) in enumerate(python_blocks(DOCS / name), 1):
        compile(code, f"{name} (block {number})", "exec")


def test_the_runner_sees_marked_blocks_and_skips_other_languages(tmp_path: Path) -> None:
    """The block reader tells runnable blocks from plain ones and ignores console blocks."""
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n<!-- test: run -->\n```python\nx = 1\n```\n\n```console\n$ ls\n```\n\n"
        '```python title="app.py"\nimport django\n```\n',
        encoding="utf-8",
    )
    assert python_blocks(page) == [(True, "x = 1\n"), (False, "import django\n")]
    page.write_text("<!-- test: django -->\n```python\ny = 2\n```\n", encoding="utf-8")
    assert marked_blocks(page) == [("django", "y = 2\n")]


def test_quickstart_shows_the_promised_result() -> None:
    """The quickstart ends with Ada's conversation assigned to Jane, with a ticket."""
    namespace: dict[str, Any] = {}
    with redirect_stdout(io.StringIO()) as out:
        for runnable, code in python_blocks(DOCS / "quickstart.md"):
            if runnable:
                exec(code, namespace)
    printed = out.getvalue()
    assert "Jane from Acme Support <jane@acme.inbox.example.net>" in printed
    assert "ada@customer.example Ada Lovelace" in printed
    assert namespace["conversation"].assignee_id == "jane"
    assert namespace["ticket"].conversation_id == namespace["conversation"].id


# --- the inspect JSON schema ----------------------------------------------------------------

FORWARDED_WITH_ATTACHMENT = b"""\
Return-Path: <support+SRS=k3Jd=MX=customer.example=ada@acme.example>
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=customer.example; s=mail;
 h=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
 b=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==
From: Ada Lovelace <ada@customer.example>
To: Acme Support <support@acme.example>
Subject: Invoice 1042 lists 12 seats, we have 10
Date: Mon, 04 May 2026 09:58:12 +0200
Message-ID: <CAKx7a1042@mail.customer.example>
List-Id: Customer announcements <announce.customer.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hello, our invoice 1042 lists 12 seats, but we only have 10 users.

--b1
Content-Type: application/pdf; name="invoice-1042.pdf"
Content-Disposition: attachment; filename="invoice-1042.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJSVFT0YK
--b1--
"""

AGENT_FORWARD = b"""\
From: Jane Doe <jane@acme.example>
To: support@acme.example
Subject: Fwd: Cancel my subscription
Date: Tue, 05 May 2026 10:02:00 +0000
Message-ID: <fwd-1@acme.example>
Content-Type: text/plain; charset=utf-8

FYI

---------- Forwarded message ---------
From: Bob Smith <bob@client.example>
Date: Tue, 5 May 2026 at 09:40
Subject: Cancel my subscription
To: Jane Doe <jane@acme.example>

Please cancel my subscription at the end of the month.
"""

GMAIL_CONFIRMATION = b"""\
Return-Path: <forwarding-noreply@google.com>
X-Google-Address-Confirmation: 4lmN2cQyXf0aZ7uT3bJk9w
From: Gmail Team <forwarding-noreply@google.com>
To: support-7f3k@acme.inbox.example.net
Subject: (#578694102) Gmail Forwarding Confirmation - Receive Mail from support@acme.example
Date: Mon, 04 May 2026 16:02:11 +0000
Message-ID: <000000000000a1b2c3@google.com>
Content-Type: text/plain; charset="UTF-8"

support@acme.example has requested to automatically forward mail to your email
address support-7f3k@acme.inbox.example.net.
Confirmation code: 578694102

To allow support@acme.example to automatically forward mail to your address,
please click the link below to confirm the request:

https://mail.google.com/mail/vf-%5BANGjdJ_7xQ2k%5D-Rb4nWd0XkP3sYtQmLwZ9aH2cE

Thanks for using Gmail!
"""

POSTFIX_BOUNCE = b"""\
Return-Path: <>
From: MAILER-DAEMON@mx1.acme.example (Mail Delivery System)
To: support-7f3k@acme.inbox.example.net
Subject: Undelivered Mail Returned to Sender
Date: Mon, 04 May 2026 10:22:31 +0000
Message-ID: <20260504102231.7F2A1C0143@mx1.acme.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R1"

--R1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<jon.smiht@example.net>: host mx.example.net said: 550 5.1.1 User unknown

--R1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.acme.example

Final-Recipient: rfc822; jon.smiht@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <jon.smiht@example.net>: User unknown

--R1
Content-Type: text/rfc822-headers

From: Acme Support <support@acme.example>
To: jon.smiht@example.net
Subject: Re: Your refund
Message-ID: <reply.81c2d9@inbox.example.net>

--R1--
"""


def key_paths(value: object, prefix: str = "") -> set[str]:
    """Every key of a JSON value as a dotted path, list items as ``[]``."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[]")
    return paths


def documented_keys() -> list[str]:
    """The first column of the key table in docs/inspect-json.md."""
    text = (DOCS / "inspect-json.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE)


def reports(tmp_path: Path) -> list[dict[str, Any]]:
    samples = {
        "ada.eml": (
            FORWARDED_WITH_ATTACHMENT,
            "support+SRS=k3Jd=MX=customer.example=ada@acme.example",
        ),
        "agent-forward.eml": (AGENT_FORWARD, "jane@acme.example"),
        "confirmation.eml": (GMAIL_CONFIRMATION, "forwarding-noreply@google.com"),
        "bounce.eml": (POSTFIX_BOUNCE, ""),
    }
    dns = StaticResolver(
        {
            "_dmarc.customer.example": {"TXT": ["v=DMARC1; p=none"]},
            # Jane's forward comes from acme.example's own server: SPF proves it the team's.
            "acme.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
        }
    )
    out = []
    for name, (raw, mail_from) in samples.items():
        path = tmp_path / name
        path.write_bytes(raw.replace(b"\n", b"\r\n"))
        ((_, result),) = inspect_files(
            [path],
            recipient="support-7f3k@acme.inbox.example.net",
            team_addresses=["jane@acme.example", "support@acme.example"],
            mail_from=mail_from,
            client_ip="192.0.2.10",
            dns=dns,
            now=datetime(2026, 5, 5, 12, tzinfo=UTC),
        )
        out.append(report(str(path), result))
    return out


def test_inspect_table_names_exactly_the_keys_report_produces(tmp_path: Path) -> None:
    """Every key report() gives for real messages is documented, and nothing else is."""
    produced: set[str] = set()
    for data in reports(tmp_path):
        produced |= key_paths(data)
    documented = documented_keys()
    assert len(documented) == len(set(documented)), "a key is documented twice"
    assert set(documented) == produced


def test_inspect_samples_fill_every_optional_part(tmp_path: Path) -> None:
    """The samples reach every optional object, so the key check above sees all keys."""
    ada, agent, confirmation, bounce = reports(tmp_path)
    assert ada["attachments"]
    assert ada["authentication"]["dkim"]
    assert ada["list_id"]
    assert agent["forwarder"]["email"] == "jane@acme.example"
    assert agent["sender"]["email"] == "bob@client.example"
    assert agent["sender"]["reasons"][0]["code"] == "sender.team_authenticated"
    assert confirmation["forwarding_confirmation"]["code"] == "578694102"
    assert bounce["bounce"]["recipients"] == ["jon.smiht@example.net"]


def test_inspect_example_has_the_documented_top_level_keys() -> None:
    """The example object on the page carries every top-level key, in report() order."""
    text = (DOCS / "inspect-json.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)\n```", text, re.DOTALL)[1])  # type: ignore[index]
    top = [key for key in documented_keys() if "." not in key and "[" not in key]
    assert list(example) == top


# --- the API reference ------------------------------------------------------------------------


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(inboxcore.__path__, "inboxcore."):
        parts = info.name.split(".")
        # Django migration modules are the framework's files, not API.
        if not any(part.startswith("_") for part in parts) and "migrations" not in parts[2:]:
            names.append(info.name)
    return names


def api_directives() -> set[str]:
    found: set[str] = set()
    for page in (DOCS / "api").glob("*.md"):
        found |= set(re.findall(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.MULTILINE))
    return found


def test_every_public_module_has_an_api_page() -> None:
    """A new module gets a page under docs/api (its package's page covers a re-exported one)."""
    documented = api_directives()
    missing = []
    for name in public_modules():
        parent = name.rsplit(".", 1)[0]
        covered_by_parent = parent in documented and parent not in {
            "inboxcore",
            "inboxcore.adapters",
        }
        if name not in documented and not covered_by_parent:
            missing.append(name)
    assert not missing, f"add docs/api/<module>.md (and a nav entry in mkdocs.yml) for {missing}"


def test_every_api_page_is_in_the_nav_and_names_a_real_module() -> None:
    """mkdocs.yml lists each API page, and each page documents a module that exists."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (DOCS / "api").glob("*.md"):
        assert f"api/{page.name}" in nav, f"{page.name} is not in the nav"
    for name in api_directives():
        assert importlib.util.find_spec(name) is not None, f"no module {name}"
