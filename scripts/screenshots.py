"""`make screenshots`: seed demo data on a fresh development server of its own, drive the dashboard
in Chromium, and write PNGs of the main pages to docs/screenshots/ (the README shows them).

Needs Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "ghostflow-demo-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="gf-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{work}/db.sqlite3", "SITE_URL": base}

    def run(*args: str) -> str:
        command = [PYTHON, "manage.py", *args]
        return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout

    run("migrate", "--noinput", "-v0")
    seed = run("seed_demo")
    team = re.search(r"team 1: .* ([0-9a-f-]{36})", seed).group(1)
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(base_url=base, viewport={"width": 1280, "height": 760})
            page.goto("/login")
            page.screenshot(path=OUT / "login.png")
            page.get_by_label("Username or e-mail").fill("demo")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/overview")
            page.goto(f"/app/{team}/overview")
            page.get_by_text("Campaigns by status").wait_for()
            page.screenshot(path=OUT / "overview.png")
            page.goto(f"/app/{team}/settings/api-keys")
            page.get_by_role("button", name="New API key").click()
            page.get_by_label("Name").fill("Production Key")
            for scope in ("read:campaigns", "write:campaigns", "read:stats"):
                page.locator(f"input[value='{scope}']").check()
            page.screenshot(path=OUT / "api-key-create.png")
            page.get_by_role("button", name="Create key").click()
            page.get_by_text("It will not be shown again").wait_for()
            page.screenshot(path=OUT / "api-key-once.png")
            page.get_by_role("button", name="I have stored it").click()
            page.get_by_role("row", name=re.compile("Production Key")).wait_for()
            page.screenshot(path=OUT / "api-keys.png")
            page.goto(f"/app/{team}/members")
            page.get_by_role("heading", name="Invitations").wait_for()
            page.screenshot(path=OUT / "members.png")
            page.goto(f"/app/{team}/audit-log")
            page.locator("tbody tr").first.wait_for()
            page.screenshot(path=OUT / "audit-log.png")
            phone = browser.new_page(base_url=base, viewport={"width": 390, "height": 844})
            phone.goto("/login")
            phone.get_by_label("Username or e-mail").fill("demo")
            phone.get_by_label("Password").fill(PASSWORD)
            phone.get_by_role("button", name="Log in").click()
            phone.wait_for_url("**/overview")
            phone.get_by_text("Campaigns by status").wait_for()
            phone.screenshot(path=OUT / "overview-phone.png")
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
