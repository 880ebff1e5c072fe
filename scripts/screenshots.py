"""Render what a host's agent sees: the example helpdesk's conversation list and held-mail page,
in headless Chromium, saved as PNGs under ``build/screenshots/``.

Starts the example (examples/django_helpdesk) on a temporary data folder and a free loopback
port (migrate, load_demo, runserver), logs in through its demo-only login URL, takes the
screenshots, and stops the server whatever happens. Fails (exit 1) when Chromium is missing,
the server does not come up, or a PNG is missing, tiny or of one colour.

Run: ``python scripts/screenshots.py`` (``.ci/run`` runs it after the tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANAGE = ROOT / "examples" / "django_helpdesk" / "manage.py"
OUT = ROOT / "build" / "screenshots"
PAGES = {
    "conversations.png": "/admin/inboxcore/conversation/",
    "held-mail.png": "/admin/inboxcore/heldmessage/",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("screenshots: no chromium on PATH (Debian: apt-get install chromium)")


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("screenshots: the example server exited")
        try:
            with urllib.request.urlopen(base + "/admin/login/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("screenshots: the example server did not come up in 60 s")


def png_problem(path: Path) -> str | None:
    """Why ``path`` is no useful screenshot (None: it is one): missing, tiny, or one colour."""
    if not path.is_file() or path.stat().st_size < 5_000:
        return "missing or tiny"
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    idat, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    pixels = zlib.decompress(idat)
    return "one colour" if len(set(pixels[:2_000_000])) < 16 else None


def main() -> int:
    chromium = _chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="helpdesk-screens-"))
    env = {**os.environ, "HELPDESK_DATA": str(data)}
    manage = [sys.executable, str(MANAGE)]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
    subprocess.run([*manage, "load_demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(base, server)
        failed = [name for name, page in PAGES.items() if not _shoot(chromium, base, page, name)]
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    for name in PAGES:
        print(f"screenshots: {OUT / name}: {png_problem(OUT / name) or 'ok'}")
    return 1 if failed else 0


def _shoot(chromium: str, base: str, page: str, name: str) -> bool:
    target = OUT / name
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                "--window-size=1400,900",
                f"--screenshot={target}",
                f"{base}/demo-login/?next={page}",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
    return png_problem(target) is None


if __name__ == "__main__":
    sys.exit(main())
