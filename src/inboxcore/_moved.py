"""The module paths of inboxcore 0.1, kept importable for one release.

0.2 gave each layer a package (:mod:`inboxcore.domain`, :mod:`inboxcore.mail`,
:mod:`inboxcore.auth`, ...). ``import inboxcore.parsing`` still works: a finder on
``sys.meta_path`` hands back the module at its new path, once with a :class:`DeprecationWarning`
that names it. Type checkers see only the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

MOVED: dict[str, str] = {
    "inboxcore.addresses": "inboxcore.domain.addresses",
    "inboxcore.errors": "inboxcore.domain.errors",
    "inboxcore.events": "inboxcore.domain.events",
    "inboxcore.ids": "inboxcore.domain.ids",
    "inboxcore.model": "inboxcore.domain.model",
    "inboxcore.outcomes": "inboxcore.domain.outcomes",
    "inboxcore.serialization": "inboxcore.domain.serialization",
    "inboxcore.tokens": "inboxcore.domain.tokens",
    "inboxcore.bounces": "inboxcore.mail.bounces",
    "inboxcore.classify": "inboxcore.mail.classify",
    "inboxcore.confirmations": "inboxcore.mail.confirmations",
    "inboxcore.forwards": "inboxcore.mail.forwards",
    "inboxcore.parsing": "inboxcore.mail.parsing",
    "inboxcore.sender": "inboxcore.mail.sender",
    "inboxcore.suffixes": "inboxcore.mail.suffixes",
    "inboxcore.arc": "inboxcore.auth.arc",
    "inboxcore.authentication": "inboxcore.auth.authentication",
    "inboxcore.bodyhash": "inboxcore.auth.bodyhash",
    "inboxcore.dkim_sign": "inboxcore.auth.dkim_sign",
    "inboxcore.dkim_verify": "inboxcore.auth.dkim_verify",
    "inboxcore.dmarc": "inboxcore.auth.dmarc",
    "inboxcore.domain_check": "inboxcore.auth.domain_check",
    "inboxcore.outbound": "inboxcore.policies.outbound",
    "inboxcore.signature": "inboxcore.policies.signature",
    "inboxcore.threads": "inboxcore.policies.threads",
    "inboxcore.channel_setup": "inboxcore.app.channel_setup",
    "inboxcore.outbox": "inboxcore.app.outbox",
    "inboxcore.service": "inboxcore.app.service",
    "inboxcore.adapters.receiver": "inboxcore.entrypoints.receiver",
    "inboxcore.cli_demo": "inboxcore.cli._demo",
    "inboxcore.cli_inbox": "inboxcore.cli._inbox",
    "inboxcore.cli_ingest": "inboxcore.cli._ingest",
    "inboxcore.cli_quarantine": "inboxcore.cli._quarantine",
    "inboxcore.cli_serve": "inboxcore.cli._serve",
    "inboxcore.cli_views": "inboxcore.cli._views",
    "inboxcore.inspect_cli": "inboxcore.cli.inspect",
}
"""Old module path to new, for every module that moved in 0.2."""


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; the old path goes away in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module at its new path is already executed."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
