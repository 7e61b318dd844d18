"""The image (Dockerfile) and the stack (docker-compose.yml), checked without a Docker engine: the
compose file is read as compose reads it (YAML, `${VAR}` filled in from what a deployer writes in
.env), and the commands the image and compose run are run here, with the image's and compose's
environment, from an empty folder that is also HOME and that nobody can write, as an unprivileged
user when this runs as root (uid 65534, where that user can run this venv's Python).

`docker compose config` (or docker-compose's) also validates the file when a client is installed.
scripts/check_installed_wheel.py runs the image's collectstatic and gunicorn from a wheel
installed into a fresh virtualenv, as the Dockerfile installs it.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from infra.probe import probe_host

from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
HOST = "api.example.com"  # what the deployer allows; the probes must pass with it
NOBODY = 65534

pytestmark = pytest.mark.slow


def deployers_env() -> dict[str, str]:
    """.env as a deployer writes it: .env.example with the secrets filled in and their host name."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            values[name.strip()] = value.strip()
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {
        **values,
        **{name: secrets.token_urlsafe(50) for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "API_KEY_PEPPER")},
        "SECRETS_ENCRYPTION_KEYS": fernet_key,
        "POSTGRES_PASSWORD": secrets.token_urlsafe(20),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
    }


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR, $$."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3)
        current = env.get(name)
        unset = current is None or (current == "" and operator is not None and operator.startswith(":"))
        if operator is not None and operator.endswith("?") and unset:
            raise KeyError(f"{name}: {argument}")
        if operator is not None and operator.endswith("-") and unset:
            return argument
        return current or ""

    return _VARIABLE.sub(replace, value)


def image_env() -> dict[str, str]:
    """The final stage's ENV."""
    final_stage = DOCKERFILE[DOCKERFILE.rindex("\nFROM ") :]
    (line,) = re.findall(r"^ENV (.*)$", final_stage, re.M)
    return dict(pair.split("=", 1) for pair in line.split())


def image_cmd() -> list[str]:
    return json.loads(re.search(r"^CMD (\[.*?\])$", DOCKERFILE, re.S | re.M).group(1))


def image_build_collectstatic() -> str:
    (command,) = re.findall(r"^RUN (.*collectstatic.*)$", DOCKERFILE, re.M)
    return command


def on_port(command, port: int):
    """A compose or image command with its port 8000 moved to a free one on the loopback."""
    if isinstance(command, list):
        return [on_port(part, port) for part in command]
    return command.replace("0.0.0.0:8000", f"127.0.0.1:{port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def get(port: int, path: str, host: str = HOST, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, **headers})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


def container_user(env: dict[str, str], cwd: Path) -> list[str]:
    """What the services run under, as root: uid 65534 when it can run this venv's Python whole
    (its standard library readable, not another Python's); else a user namespace of their own,
    with no capability (the permission bits hold, as for any user). As another user: as it is."""
    if os.geteuid() != 0:
        return []
    nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    version = [sys.executable, "-c", "import sys; print(sys.version)"]
    if shutil.which("setpriv"):
        answer = subprocess.run([*nobody, *version], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
        if answer.returncode == 0 and answer.stdout.strip() == sys.version:
            return nobody
    unprivileged = ["unshare", "--user", "--"]
    if shutil.which("unshare") and subprocess.run([*unprivileged, "true"], capture_output=True).returncode == 0:
        return unprivileged
    return []


class Containers:
    """api, stream and worker as compose runs them, from one image build (collectstatic)."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="ghostflow-container-"))
        self.work.chmod(0o755)
        self.home = self.work / "app"  # the image's WORKDIR and the user's HOME: empty, not writable
        self.data = self.work / "data"  # stands for the database service
        self.static = self.work / "static"
        self.home.mkdir()
        self.data.mkdir()
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports = {name: free_port() for name in ("api", "stream")}
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.image_env = {**image_env(), "STATIC_ROOT": str(self.static), "PATH": path, "HOME": str(self.home)}
        self.image_env["LANG"] = "C.UTF-8"
        environment = interpolate(SERVICES["api"]["environment"], deployers_env())
        # The two other services of the stack: the database in a file, the cache in the process.
        environment.update(DATABASE_URL=f"sqlite:///{self.data / 'db.sqlite3'}", REDIS_URL="")
        self.env = {**self.image_env, **environment}
        self.home.chmod(0o555)
        self.user = container_user(self.env, self.home)
        if self.user[:1] == ["setpriv"]:
            os.chown(self.data, NOBODY, NOBODY)

    def build(self) -> None:
        """The image's build step: as root, with the image's environment only."""
        command = ["sh", "-c", image_build_collectstatic()]
        result = subprocess.run(command, env=self.image_env, cwd=self.home, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]

    def start(self, name: str, command: list[str], **extra_env: str) -> None:
        log = (self.work / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [*self.user, *command],
            env={**self.env, **extra_env},
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for(self, name: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, self.log(name)[-3000:]
            try:
                if get(self.ports[name], "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} did not answer /healthz: {self.log(name)[-3000:]}")

    def run_as_container(self, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.user, *command], env=env, cwd=self.home, capture_output=True, text=True, timeout=30
        )

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.home.chmod(0o755)
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture(scope="module")
def containers():
    stack = Containers()
    try:
        stack.build()
        stack.start("api", on_port(SERVICES["api"]["command"], stack.ports["api"]))
        stack.wait_for("api")  # it migrated first
        stack.start("stream", on_port(SERVICES["stream"]["command"], stack.ports["stream"]), DATABASE_CONN_MAX_AGE="0")
        stack.start("worker", SERVICES["worker"]["command"])
        stack.wait_for("stream")
        yield stack
    finally:
        stack.stop()


# --- the compose file ------------------------------------------------------------------------


def compose_client() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return [path] if (path := shutil.which("docker-compose")) else None


def test_the_compose_file_is_valid_with_what_a_deployer_writes(tmp_path):
    rendered = interpolate(COMPOSE, deployers_env())  # every ${VAR:?...} is in .env.example
    services = rendered["services"]
    assert set(services) == {"db", "redis", "api", "stream", "worker", "proxy"}
    for name, service in services.items():
        assert ("image" in service) or ("build" in service), name
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services and (
                condition["condition"] != "service_healthy" or "healthcheck" in services[needed]
            )
    assert services["api"]["environment"]["ALLOWED_HOSTS"] == HOST
    command = compose_client()
    if command is None:  # neither `docker compose` nor docker-compose: the checks above are all
        return
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in deployers_env().items()))
    command += ["--project-directory", str(ROOT), "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml")]
    result = subprocess.run([*command, "config"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["services"]["api"]["environment"]["ALLOWED_HOSTS"] == HOST


def test_no_service_creates_demo_users():
    assert "seed_demo" not in COMPOSE_TEXT
    assert "seed_demo" not in DOCKERFILE
    for service in SERVICES.values():
        assert "createsuperuser" not in json.dumps(service.get("command", ""))


def test_the_stack_starts_the_api_the_stream_service_and_the_worker_from_one_image():
    assert SERVICES["api"]["build"] == "."
    for name in ("api", "stream", "worker"):
        assert SERVICES[name]["image"] == SERVICES["api"]["image"]
    assert "gunicorn config.wsgi:application" in " ".join(SERVICES["api"]["command"])
    assert SERVICES["stream"]["command"][:2] == ["gunicorn", "config.asgi:application"]
    assert SERVICES["worker"]["command"] == ["django-admin", "run_worker", "--no-reload"]


def test_the_apps_containers_write_nothing_to_their_file_system():
    """Read-only root file systems; gunicorn's heartbeat files in /dev/shm, no control socket."""
    for name in ("api", "stream", "worker"):
        assert SERVICES[name]["read_only"] is True and SERVICES[name]["tmpfs"] == ["/tmp"], name
    for command in (
        " ".join(SERVICES["api"]["command"]),
        " ".join(SERVICES["stream"]["command"]),
        " ".join(image_cmd()),
    ):
        assert "--no-control-socket" in command and "--worker-tmp-dir /dev/shm" in command, command
    assert re.search(r"^USER ghostflow$", DOCKERFILE, re.M)


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("api.example.com", "api.example.com"),
        ("api.example.com,www.example.com", "api.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("*,api.example.com", "api.example.com"),
        ("localhost,127.0.0.1", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_proxys_health_check_sends_the_host_the_apps_probe_sends(tmp_path, allowed, host):
    """The proxy's check is written in sh (no Python in the nginx image): the same host as
    infra/probe.py's, for any ALLOWED_HOSTS (a `curl` here that prints its arguments)."""
    assert probe_host([entry for entry in allowed.split(",") if entry]) == host
    (tmp_path / "curl").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / "curl").chmod(0o755)
    kind, line = interpolate(SERVICES["proxy"]["healthcheck"]["test"], {"ALLOWED_HOSTS": allowed})
    assert kind == "CMD-SHELL"
    result = subprocess.run(
        ["sh", "-c", line], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert f"Host: {host}" in result.stdout.splitlines(), result.stdout + result.stderr


# --- the image's commands, run as the containers run them ------------------------------------


def test_the_health_checks_pass_with_the_deployers_host_name(containers):
    """ALLOWED_HOSTS=api.example.com: each service's health check passes, while a request that
    names another host (as a probe to 127.0.0.1:8000 used to) is still refused."""
    for name in ("api", "stream"):
        port = containers.ports[name]
        kind, *command = on_port(SERVICES[name]["healthcheck"]["test"], port)
        assert kind == "CMD" and command[-1].endswith("/readyz")
        result = containers.run_as_container(command, containers.env)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        status, _, body = get(port, "/readyz", host=f"127.0.0.1:{port}")
        assert status == 400 and json.loads(body)["code"] == "bad_request"
    # The proxy's, against the API directly (nginx passes the Host on): its container has curl only.
    kind, line = on_port(
        interpolate(SERVICES["proxy"]["healthcheck"]["test"], deployers_env()), containers.ports["api"]
    )
    result = subprocess.run(["sh", "-c", line], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_containers_run_without_privileges_and_write_nothing(containers):
    assert containers.processes["worker"].poll() is None, containers.log("worker")[-3000:]
    if containers.user or os.geteuid() != 0:
        # No capability (so no writing where the permission bits say no), and HOME is such a place.
        for name, process in containers.processes.items():
            status = Path(f"/proc/{process.pid}/status").read_text()
            assert re.search(r"^CapEff:\s+0+$", status, re.M), name
        attempt = containers.run_as_container(["sh", "-c", f"touch {containers.home}/file"], containers.env)
        assert attempt.returncode != 0
    assert list(containers.home.iterdir()) == []
    for name in containers.processes:
        log = containers.log(name)
        for trouble in ("Permission denied", "Read-only file system", "Traceback", "control socket"):
            assert trouble not in log, f"{name}: {log[-3000:]}"


def test_static_files_are_fingerprinted_compressed_and_cached_for_good(containers):
    port = containers.ports["api"]
    status, _, page = get(port, "/")
    assert status == 200
    (script,) = re.findall(rb'src="(/static/dashboard/app\.[0-9a-f]{12}\.js)"', page)
    status, headers, body = get(port, script.decode(), **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert headers["Content-Encoding"] == "gzip"
    # The dashboard's modules import each other under their hashed names too.
    imports = re.findall(r'from "(\./[^"]+)"', gzip.decompress(body).decode())
    assert imports and all(re.search(r"\.[0-9a-f]{12}\.js$", name) for name in imports), imports
    status, headers, _ = get(port, "/static/dashboard/app.js")
    assert status == 200 and "immutable" not in headers["Cache-Control"]
    # The stream service's image serves the same files.
    assert get(containers.ports["stream"], script.decode())[0] == 200


def test_without_collectstatic_the_files_are_served_from_the_packages():
    """make run, the tests and a wheel installed without collectstatic: no STATIC_ROOT, no manifest."""
    code = (
        "from django.conf import settings as s; "
        "print(s.STORAGES['staticfiles']['BACKEND'], s.WHITENOISE_USE_FINDERS, s.STATIC_ROOT)"
    )
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    command = [sys.executable, "manage.py", "shell", "-v", "0", "-c", code]
    dev = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert dev.stdout.split() == ["whitenoise.storage.CompressedStaticFilesStorage", "True", "None"], dev.stderr
    image = subprocess.run(
        command, cwd=ROOT, env={**env, "STATIC_ROOT": "/opt/x"}, capture_output=True, text=True, timeout=60
    )
    assert image.stdout.split() == ["infra.staticfiles.ManifestStaticFilesStorage", "False", "/opt/x"], image.stderr
