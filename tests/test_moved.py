"""The module paths of 0.1 still import for one release, each warning once."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import subprocess
import sys

import pytest

from inboxcore._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_gives_the_new_module_with_a_warning(old: str, new: str) -> None:
    """``import inboxcore.parsing`` is ``inboxcore.mail.parsing``, and says where it went."""
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_the_warning_comes_once_per_process() -> None:
    """A second import of the same old path is the cached module: no second warning."""
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import inboxcore.service\n"
        "    import inboxcore.service\n"
        "    from inboxcore.service import InboxService\n"
        "print(len([w for w in seen if issubclass(w.category, DeprecationWarning)]))\n"
        "print(InboxService.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "inboxcore.app.service"]


def test_every_new_path_exists_and_no_old_file_is_left() -> None:
    """The table points at real modules, and no module remains at an old path."""
    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None
        parent, _, leaf = old.rpartition(".")
        assert not (importlib.resources.files(parent) / f"{leaf}.py").is_file(), old
