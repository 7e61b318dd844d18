"""The wheel is the whole server: build it, install it into a fresh virtualenv outside this tree,
and run the server from that copy only. CI runs this (.ci/run); so can you:

    python3 scripts/check_installed_wheel.py [--work-dir DIR]   # DIR is kept; by default a temporary
                                                                # folder, removed when the check passes

1. The wheel is built (pip wheel --no-deps) from a copy of the files git would commit (tracked and
   untracked-but-not-ignored), so nothing left over in this tree (build/, *.egg-info) gets in.
2. It is installed with constraints.txt into a fresh virtualenv. Every command below runs from an
   empty folder with a minimal, production-like environment (DEBUG off, fresh secrets, SQLite in the
   work folder), where this source tree is not importable: each app must come from site-packages.
3. Commands run the way an installed copy runs them (README, Production notes):
   `DJANGO_SETTINGS_MODULE=config.settings django-admin ...`: check, migrate, makemigrations --check
   (the migrations in the wheel match its models), every management command of this tree is listed,
   seed_demo runs, and every e-mail template renders.
4. gunicorn from the installed copy serves config.wsgi (sync workers, as the Dockerfile) and
   config.asgi (config.workers.UvicornWorker, as the stream service) on free loopback ports: /readyz,
   the dashboard page and its static files, Swagger UI's (drf-spectacular-sidecar), the OpenAPI
   schema and a login all answer 200.
5. As the image: the Dockerfile's collectstatic (its RUN line) from the installed copy, then the
   Dockerfile's CMD (on a loopback port) with STATIC_ROOT: the dashboard's files are served under
   hashed names, gzipped and cached for good, and the containers' health probe
   (`python -m infra.probe`) passes.

Standard library only: it runs with any Python 3.11+, the project's virtualenv or not.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
IMMUTABLE = "max-age=315360000, public, immutable"  # WhiteNoise's, for a file with a hashed name
START_TIMEOUT = 60.0


def project_packages() -> list[str]:
    """The top-level packages a wheel holds: the folders with an __init__.py that pyproject's
    `[tool.setuptools.packages.find]` includes match (tests/test_package.py walks the same)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in includes)
    )


def step(message: str) -> None:
    print(f"--- {message}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(
            f"FAILED ({result.returncode}): {' '.join(command)}\n--- stdout\n{result.stdout[-3000:]}"
            f"\n--- stderr\n{result.stderr[-3000:]}"
        )
    return result


def copy_sources(target: Path) -> None:
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not part of it
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def production_env(work: Path, venv: Path) -> dict[str, str]:
    """A minimal environment: nothing of the caller's (PYTHONPATH, DATABASE_URL, ...) leaks in."""
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "API_KEY_PEPPER": secrets.token_urlsafe(50),
        "SECRETS_ENCRYPTION_KEYS": fernet_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_URL": "consolemail://",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image_build_collectstatic() -> str:
    """The Dockerfile's collectstatic command line (a RUN line)."""
    return re.search(r"^RUN (.*collectstatic.*)$", DOCKERFILE, re.M).group(1)


def image_command(gunicorn: str, port: int) -> list[str]:
    """The Dockerfile's CMD with this venv's gunicorn, on a loopback port instead of 0.0.0.0:8000."""
    command = json.loads(re.search(r"^CMD (\[.*?\])$", DOCKERFILE, re.S | re.M).group(1))
    if command[0] != "gunicorn" or "0.0.0.0:8000" not in command:
        raise SystemExit(f"FAILED: the Dockerfile's CMD is not gunicorn on 0.0.0.0:8000: {command}")
    return [gunicorn, *(f"127.0.0.1:{port}" if part == "0.0.0.0:8000" else part for part in command[1:])]


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def request(url: str, data: dict | None = None) -> tuple[int, bytes]:
    body = None if data is None else json.dumps(data).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def bound(command: list[str]) -> Callable[[int], list[str]]:
    """A gunicorn command line, on a port: bound to it on the loopback, without a control socket."""
    return lambda port: [*command, "--bind", f"127.0.0.1:{port}", "--no-control-socket"]


def serve(
    command_on: Callable[[int], list[str]], *, env: dict[str, str], cwd: Path, log: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = command_on(port)
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"FAILED: {command[1]} exited with {process.returncode}\n{log.read_text()[-3000:]}")
        try:
            if request(f"{base}/healthz")[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"FAILED: {command[1]} did not answer /healthz within {START_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def expect(base: str, path: str, *, contains: bytes = b"", data: dict | None = None) -> bytes:
    status, body = request(base + path, data)
    if status != 200 or contains not in body:
        raise SystemExit(f"FAILED: {path} answered {status} (expected 200 with {contains!r}): {body[:500]!r}")
    print(f"    {path}: 200", flush=True)
    return body


def check(work: Path) -> None:
    venv, dist, source, cwd = work / "venv", work / "dist", work / "src", work / "run"
    for folder in (dist, source, cwd):
        folder.mkdir(parents=True)

    step(f"fresh virtualenv in {venv}")
    run([sys.executable, "-m", "venv", str(venv)])
    python, pip = str(venv / "bin" / "python"), [str(venv / "bin" / "python"), "-m", "pip", "--quiet"]

    step("wheel, from a copy of the tree's files")
    copy_sources(source)
    run([*pip, "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)], cwd=work)
    (wheel,) = dist.glob("*.whl")
    print(f"    {wheel.name}", flush=True)

    step("install it with constraints.txt")
    run([*pip, "install", "-c", str(ROOT / "constraints.txt"), str(wheel)], cwd=work)
    shutil.rmtree(source)

    env = production_env(work, venv)
    admin = [str(venv / "bin" / "django-admin")]

    step("every app is imported from the installed copy, not from this tree")
    names = project_packages()
    script = f"import importlib, json; print(json.dumps([importlib.import_module(n).__file__ for n in {names!r}]))"
    files = json.loads(run([python, "-c", script], cwd=cwd, env=env).stdout)
    outside = [path for path in files if not Path(path).is_relative_to(venv)]
    if outside:
        raise SystemExit(f"FAILED: not imported from the installed copy: {outside}")

    step("django-admin check, migrate, makemigrations --check")
    run([*admin, "check", "--fail-level", "WARNING"], cwd=cwd, env=env)
    run([*admin, "migrate", "--noinput"], cwd=cwd, env=env)
    run([*admin, "makemigrations", "--check", "--dry-run"], cwd=cwd, env=env)

    step("the management commands are installed; seed_demo runs")
    commands = {path.stem for path in ROOT.glob("*/management/commands/[!_]*.py")}
    listed = set(run([*admin, "help", "--commands"], cwd=cwd, env=env).stdout.split())
    if commands - listed:
        raise SystemExit(f"FAILED: management commands missing from the installed copy: {sorted(commands - listed)}")
    run([*admin, "seed_demo"], cwd=cwd, env=env)

    step("every e-mail template renders, queued and sent by the installed worker (to the console)")
    send_all = (
        "import json\nfrom infra import mail\nfor name in mail.SUBJECTS: mail.send(name, 'check@example.com')\n"
        "print('SUBJECTS', json.dumps(list(mail.SUBJECTS.values())))"
    )
    queued = run([*admin, "shell", "-c", send_all], cwd=cwd, env=env).stdout
    subjects = json.loads(queued.rpartition("SUBJECTS ")[2])
    # django-tasks-db's worker, once through the queue (run_worker is this plus housekeeping).
    mails = run([*admin, "db_worker", "--batch"], cwd=cwd, env=env).stdout
    missing = [subject for subject in subjects if f"Subject: {subject}" not in mails]
    if missing:
        raise SystemExit(f"FAILED: these mails were not sent: {missing}\n{mails[-3000:]}")

    gunicorn = str(venv / "bin" / "gunicorn")
    step("gunicorn sync workers on config.wsgi, from the installed copy")
    wsgi = [gunicorn, "config.wsgi:application", "--workers", "1"]
    process, base = serve(bound(wsgi), env=env, cwd=cwd, log=work / "wsgi.log")
    try:
        expect(base, "/readyz", contains=b'"status": "ok"')
        page = expect(base, "/", contains=b"dashboard/app.js")
        for asset in sorted(set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', page))):
            expect(base, asset.decode())
        expect(base, "/static/dashboard/pages/overview.js")
        expect(base, "/api/docs/", contains=b"swagger-ui")
        expect(base, "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
        expect(base, "/api/schema/", contains=b"openapi")
        login = {"username": "demo", "password": "ghostflow-demo-pass"}
        expect(base, "/api/v1/auth/login", data=login, contains=b"access_token")
    finally:
        stop(process)

    step("gunicorn with config.workers.UvicornWorker on config.asgi, from the installed copy")
    asgi = [gunicorn, "config.asgi:application", "--worker-class", "config.workers.UvicornWorker", "--workers", "1"]
    process, base = serve(bound(asgi), env=env, cwd=cwd, log=work / "asgi.log")
    try:
        expect(base, "/readyz", contains=b'"status": "ok"')
        expect(base, "/static/dashboard/app.js")
    finally:
        stop(process)

    step("as the image: its collectstatic, then its CMD serving the collected files")
    static = work / "static"
    image_env = {**env, "STATIC_ROOT": str(static)}
    run(["sh", "-c", image_build_collectstatic()], cwd=cwd, env=image_env)
    process, base = serve(lambda port: image_command(gunicorn, port), env=image_env, cwd=cwd, log=work / "image.log")
    try:
        page = expect(base, "/", contains=b"/static/dashboard/app.")
        assets = sorted(set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', page)))
        hashed = [asset.decode() for asset in assets if re.search(rb"\.[0-9a-f]{12}\.(js|css)$", asset)]
        if len(hashed) < 2:
            raise SystemExit(f"FAILED: the dashboard's files are not under hashed names: {assets}")
        for asset in hashed:
            status, headers, _ = fetch(base + asset, **{"Accept-Encoding": "gzip"})
            if (status, headers.get("Cache-Control"), headers.get("Content-Encoding")) != (200, IMMUTABLE, "gzip"):
                raise SystemExit(f"FAILED: {asset}: {status} {headers}")
            print(f"    {asset}: 200, gzip, {IMMUTABLE}", flush=True)
        docs = expect(base, "/api/docs/", contains=b"swagger-ui")
        for asset in sorted(set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', docs))):
            expect(base, asset.decode())
        run([python, "-m", "infra.probe", f"{base}/readyz"], cwd=cwd, env=image_env)
        print("    python -m infra.probe: ready", flush=True)
    finally:
        stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, help="an empty or new folder, kept afterwards")
    args = parser.parse_args(argv)
    work = args.work_dir.resolve() if args.work_dir else Path(tempfile.mkdtemp(prefix="ghostflow-wheel-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        parser.error(f"{work} is not empty")
    try:
        check(work)
    except SystemExit:
        print(f"(the work folder, with the servers' logs, is kept: {work})", file=sys.stderr)
        raise
    if not args.work_dir:
        shutil.rmtree(work)
    print("The installed wheel runs the server.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
