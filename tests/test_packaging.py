"""What a user downloads: the sdist and the wheel carry the licence, the type marker and the
metadata an index shows."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel, built by the project's build backend (hatchling, in the test extra)."""
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "hatchling", "build", "-d", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return out


def test_the_wheel_has_the_licence_the_type_marker_and_urls(built: Path) -> None:
    """LICENSE in dist-info, py.typed beside the code, project URLs and classifiers in METADATA."""
    (wheel,) = built.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "inboxcore/py.typed" in names
    assert metadata["License-Expression"] == "MIT"
    assert any(v.startswith("Source, ") for v in metadata.get_all("Project-URL", []))
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])


def test_the_sdist_has_the_licence_and_the_tests(built: Path) -> None:
    """The source archive can be tested by a packager: LICENSE, tests and docs are in it."""
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "README.md", "CHANGELOG.md"} <= names
    assert any(n.startswith("tests/") for n in names)
    assert any(n.startswith("docs/") for n in names)
