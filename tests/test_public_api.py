"""Every module's __all__ is sorted, resolvable and complete."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import inboxcore

# Modules that need optional extras are checked only where the extra is installed.
OPTIONAL = {"inboxcore.adapters.sql", "inboxcore.adapters.lmtp", "inboxcore.testing.contracts"}


def _modules() -> list[str]:
    names = ["inboxcore"]
    for info in pkgutil.walk_packages(inboxcore.__path__, "inboxcore."):
        # Django migration modules are the framework's files, not API.
        if not info.name.rsplit(".", 1)[-1].startswith("_") and ".migrations" not in info.name:
            names.append(info.name)
    return names


def _import(name: str) -> ModuleType:
    if name.startswith("inboxcore.contrib.django."):
        from tests.django_support import setup_django

        setup_django()  # a models module imports only once Django is set up
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if name in OPTIONAL or name.startswith(("inboxcore.adapters.", "inboxcore.contrib.")):
            pytest.skip(f"{name} needs an optional extra: {exc}")
        raise


@pytest.mark.parametrize("name", _modules())
def test_all_is_sorted_and_resolvable(name: str) -> None:
    """__all__ exists, is sorted, has no duplicates, and every name resolves."""
    module = _import(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"


@pytest.mark.parametrize("name", _modules())
def test_all_is_complete(name: str) -> None:
    """Every public class and function defined in a module is in its __all__."""
    module = _import(name)
    exported = set(getattr(module, "__all__", ()))
    for attr, value in vars(module).items():
        if attr.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if getattr(value, "__module__", None) == name:
            assert attr in exported, f"{name}.{attr} is public but not in __all__"


def test_package_root_exports_the_everyday_names() -> None:
    """The root re-exports values hosts meet everywhere, and a version."""
    assert {"EmailAddress", "Channel", "Disposition", "InboxcoreError", "__version__"} <= set(
        inboxcore.__all__
    )
