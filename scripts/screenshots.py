"""`make screenshots`: seed demo data on a fresh development server of its own, drive the dashboard
in Chromium, and write PNGs of the main pages to docs/screenshots/ (the README shows them), at
1,280 x 800 (`<page>.png`) and on a 390 x 844 phone (`<page>-phone.png`).

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


# Desktop (the README's names) and phone ("-phone"), the sizes the browser tests check.
SIZES = [("", {"width": 1280, "height": 800}), ("-phone", {"width": 390, "height": 844})]


def tour(page, team: str, shoot) -> None:
    """The main pages, in the order a new user meets them; `shoot(name)` takes each picture."""
    phone = page.viewport_size["width"] < 700
    page.goto("/login")
    shoot("login")
    page.get_by_label("Username or e-mail").fill("demo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/overview")
    page.goto(f"/app/{team}/overview")
    page.get_by_text("Campaigns by status").wait_for()
    shoot("overview")
    if phone:
        page.get_by_role("button", name="Menu").click()
        shoot("menu")
        page.keyboard.press("Escape")
    page.goto(f"/app/{team}/campaigns")
    page.locator("tbody tr").first.wait_for()
    shoot("campaigns")
    page.goto(f"/app/{team}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("Phone key" if phone else "Production Key")
    for scope in ("read:campaigns", "write:campaigns", "read:stats"):
        page.locator(f"input[value='{scope}']").check()
    shoot("api-key-create")
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("It will not be shown again").wait_for()
    shoot("api-key-once")
    page.get_by_role("button", name="I have stored it").click()
    page.get_by_role("row", name=re.compile("Phone key" if phone else "Production Key")).wait_for()
    shoot("api-keys")
    page.goto(f"/app/{team}/settings/integrations")
    if not phone:
        page.get_by_role("button", name="New integration").click()
        page.get_by_label("Name", exact=True).fill("Shop widget")
        page.locator("input[value='read:campaigns']").check()
        page.get_by_label(re.compile("Allowed origins")).fill("https://shop.example.com")
        page.get_by_role("button", name="Create integration").click()
        page.get_by_role("button", name="I have stored it").click()
    page.get_by_role("row", name=re.compile("Shop widget")).wait_for()
    shoot("integrations")
    page.goto(f"/app/{team}/members")
    page.get_by_role("heading", name="Invitations").wait_for()
    shoot("members")
    page.get_by_label("Role of alice").select_option("viewer")
    page.get_by_role("dialog").wait_for()
    shoot("member-role-confirm")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    page.goto(f"/app/{team}/audit-log")
    page.locator("tbody tr").first.wait_for()
    shoot("audit-log")


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
            for suffix, viewport in SIZES:
                page = browser.new_page(base_url=base, viewport=viewport)

                def shoot(name: str, page=page, suffix=suffix) -> None:
                    page.screenshot(path=OUT / f"{name}{suffix}.png")

                tour(page, team, shoot)
                page.close()
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
