"""The dependency direction of docs/architecture.md, checked on folders: a package imports only
the packages below it, and the core never imports a framework, a database driver or a network
library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inboxcore

ROOT = Path(inboxcore.__file__).parent

# Each unit is a package of src/inboxcore (or one of the design card's top-level modules) and its
# rank; a unit may import units of a lower rank, and itself. The policies share rank 5 and may
# import each other (outbound mail composes with the channel's rules).
RANKS = {
    "domain": 1,
    "ports": 2,
    "mail": 3,
    "auth": 4,
    "channels": 5,
    "routing": 5,
    "tickets": 5,
    "policies": 5,
    "ingest": 6,
    "app": 7,
    "adapters": 8,
    "testing": 9,
    "bootstrap": 10,
    "entrypoints": 11,
    "cli": 12,
    "contrib": 13,
    "__main__": 13,
    "_moved": 0,
}
POLICIES = {"channels", "routing", "tickets", "policies"}
CORE_RANK = RANKS["app"]
"""Units at or below this rank are the core: no I/O libraries, no frameworks."""
ROOT_IMPORTS = {"domain", "app", "_moved", "ingest", "bootstrap"}
"""What the root package may re-export from."""


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "inboxcore":
        return None
    return parts[1] if len(parts) > 1 else ""


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        found.append((".".join(rel.parts).removesuffix(".__init__"), path))
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "inboxcore":
            found.update(
                f"inboxcore.{alias.name}" if alias.name in RANKS else "inboxcore"
                for alias in node.names
            )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _allowed(own: str, imported: str) -> bool:
    if imported == "":
        return own == "" or RANKS[own] > CORE_RANK  # the root re-exports the core
    if own == imported:
        return True
    if own in POLICIES and imported in POLICIES:
        return True
    return RANKS[imported] < RANKS[own]


def test_every_package_and_top_level_module_has_a_rank() -> None:
    """A new package or top-level module gets its place in the layering before it lands."""
    units = {_unit(module) for module, _ in _modules()} - {""}
    assert units - set(RANKS) == set()


def test_no_package_imports_a_higher_one() -> None:
    """domain imports nothing; mail only domain; ...; the core never the adapters or the CLI."""
    offences = []
    for module, path in _modules():
        own = _unit(module)
        assert own is not None
        for imported in _imports(path):
            target = _unit(imported)
            if target is None:
                continue
            if own == "":
                if target not in ROOT_IMPORTS:
                    offences.append(f"the root package imports {imported}")
            elif not _allowed(own, target):
                offences.append(f"{module} ({own}) imports {imported} ({target})")
    assert offences == []


@pytest.mark.parametrize(
    ("own", "imported", "allowed"),
    [
        ("mail", "domain", True),
        ("domain", "mail", False),
        ("auth", "app", False),
        ("policies", "channels", True),
        ("app", "adapters", False),
        ("adapters", "testing", False),
        ("cli", "contrib", False),
        ("bootstrap", "adapters", True),
        ("adapters", "bootstrap", False),
        ("entrypoints", "bootstrap", True),
        ("contrib", "cli", True),
    ],
)
def test_the_rule_itself(own: str, imported: str, allowed: bool) -> None:
    """The check says no to a higher or sibling package and yes to a lower one."""
    assert _allowed(own, imported) is allowed


FORBIDDEN = {
    "socket",
    "smtplib",
    "sqlite3",
    "sqlalchemy",
    "psycopg",
    "aiosmtpd",
    "asyncio",
    "urllib.request",
    "http.client",
    "django",
    "celery",
    "kombu",
    "redis",
    "fastapi",
    "starlette",
    "httpx",
}


def test_core_does_no_io_imports() -> None:
    """The core (up to the use cases) imports no network, database or framework module."""
    offences = []
    for module, path in _modules():
        own = _unit(module)
        if own in ("", None) or RANKS[own] > CORE_RANK:
            continue
        bad = {m for m in _imports(path) if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN}
        if bad:
            offences.append(f"{module}: {sorted(bad)}")
    assert offences == []
