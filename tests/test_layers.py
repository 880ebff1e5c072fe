"""The dependency direction of STYLE.md: lower layers never import higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import inboxcore

ROOT = Path(inboxcore.__file__).parent

# 1 values and errors, 2 ports, 3 pure policies, 4 intake and its helpers, 5 the service,
# 6 edges (serialization, adapters, fakes, CLI). A module not listed is an intake helper (4).
LAYERS = {
    "errors": 1,
    "addresses": 1,
    "ids": 1,
    "model": 1,
    "events": 1,
    "outcomes": 1,
    "suffixes": 1,
    "ports": 2,
    "channels": 3,
    "routing": 3,
    "tickets": 3,
    "threads": 3,
    "tokens": 3,
    "signature": 3,
    "service": 5,
    "channel_setup": 5,
    "outbound": 4,
    "outbox": 5,
    "serialization": 6,
    "adapters": 6,
    "testing": 6,
    "cli": 6,
    "cli_serve": 6,
    "cli_quarantine": 6,
    "inspect_cli": 6,
    "cli_inbox": 6,
    "cli_ingest": 6,
    "cli_views": 6,
    "cli_demo": 6,
    "__init__": 6,
    "__main__": 6,
}


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "inboxcore":
        return 0
    if len(parts) == 1:
        return 6
    return LAYERS.get(parts[1], 4)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_module_imports_a_higher_layer() -> None:
    """Values import only values; ports only values; policies never intake; the core never edges."""
    offences = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        own = _layer(module)
        for imported in _imports(path):
            if imported.startswith("inboxcore") and _layer(imported) > own:
                offences.append(
                    f"{module} (layer {own}) imports {imported} (layer {_layer(imported)})"
                )
    assert offences == []


def test_core_does_no_io_imports() -> None:
    """Layers 1-5 import no network or database modules: I/O belongs to adapters."""
    forbidden = {
        "socket",
        "smtplib",
        "sqlite3",
        "sqlalchemy",
        "aiosmtpd",
        "urllib.request",
        "http.client",
    }
    offences = []
    for path in ROOT.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        if _layer(module.removesuffix(".__init__")) >= 6:
            continue
        bad = {m for m in _imports(path) if m in forbidden or m.split(".")[0] in forbidden}
        if bad:
            offences.append(f"{module}: {sorted(bad)}")
    assert offences == []
