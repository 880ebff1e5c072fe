"""The example Django helpdesk (examples/django_helpdesk) starts as its README says, loads the
demo, and its own tests of the admin pages pass: run in subprocesses, on a temporary data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django", reason="needs the django extra")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "django_helpdesk"


def _manage(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPDESK_DATA": str(data)}
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_example_migrates_loads_the_demo_and_passes_its_admin_tests(tmp_path: Path) -> None:
    migrate = _manage(tmp_path, "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    demo = _manage(tmp_path, "load_demo")
    assert demo.returncode == 0, demo.stderr
    assert "quarantined" in demo.stdout  # the held message the held-mail page shows
    assert "accepted" in demo.stdout
    again = _manage(tmp_path, "load_demo")  # loading twice changes nothing
    assert again.returncode == 0, again.stderr
    assert "accepted" not in again.stdout
    tests = _manage(tmp_path, "test", "helpdesk", "--noinput")
    assert tests.returncode == 0, tests.stderr
    assert "Ran 5 tests" in tests.stderr
