"""The split deployment on this machine, as docker-compose.yml runs it in production: nginx in front
(deploy/nginx/ghostflow.conf.template), gunicorn sync workers on config.wsgi for the API,
gunicorn with the ASGI worker on config.asgi for /api/v1/audit-log/stream only, and the background
worker (`manage.py run_worker`: mail, deferred account work). CI runs schemathesis and the live
stream through it; tests/test_split_deployment.py starts it on free ports.

    python scripts/split_stack.py start WORK [--port 8765]   # returns once nginx answers /healthz
    python scripts/split_stack.py stop WORK
    python scripts/split_stack.py serve WORK [--port 8000]   # in the foreground until Ctrl-C (make run-split)

The app servers get the environment this is started in (a production-like one: the secrets,
DATABASE_URL, ...) plus what the split deployment sets on them: TRUSTED_PROXY_COUNT=1 (both sit
behind nginx) and, on the stream server, DATABASE_CONN_MAX_AGE=0 (Django's ASGI handler runs each
request's synchronous code on a thread of its own, where a persistent connection is never reused).
nginx is Debian's (`apt-get install nginx`), run as the current user with its pid, logs and
temporary files in WORK. Logs in WORK: nginx-access.log, nginx-error.log (its start and stop),
nginx.out (its requests' critical errors only: see the template), api-access.log, stream-access.log,
the servers' *-error.log and the worker's log, worker.out.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "ghostflow.conf.template"
# The only names substituted in the template, as the nginx image's envsubst does with these three
# in its environment; nginx's own $variables stay.
TEMPLATE_VARIABLES = ("NGINX_PORT", "API_UPSTREAM", "STREAM_UPSTREAM")
# gunicorn's access line with the path only (%(U)s), never the request line or query (%(r)s, %(q)s):
# the same format as the Dockerfile and docker-compose.yml.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s'
SERVICES = ("api", "stream", "worker", "nginx")
# Set on the worker, whose command line names no file in WORK: how `stop` knows it for this stack's.
STACK_VARIABLE = "SPLIT_STACK_WORK"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which is not on every user's PATH."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_template(values: Mapping[str, str]) -> str:
    text = TEMPLATE.read_text()
    for name in TEMPLATE_VARIABLES:
        text = text.replace("${" + name + "}", values[name])
    return text


def nginx_main_config(work: Path, site: Path) -> str:
    """A main configuration around the rendered template: everything nginx writes stays in WORK."""
    temp = work / "nginx"
    lines = [
        "daemon off;",
        "worker_processes 1;",
        f"pid {work / 'nginx.pid'};",
        f"error_log {work / 'nginx-error.log'} notice;",
    ]
    if os.geteuid() == 0:
        # A master started as root runs its workers as `nobody`, which could not reach WORK.
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        lines.append(f"user {user} {group};")
    lines += [
        "events { worker_connections 256; }",
        "http {",
        f"    client_body_temp_path {temp / 'client_body'};",
        f"    proxy_temp_path {temp / 'proxy'};",
        f"    fastcgi_temp_path {temp / 'fastcgi'};",
        f"    uwsgi_temp_path {temp / 'uwsgi'};",
        f"    scgi_temp_path {temp / 'scgi'};",
        f"    include {site};",
        "}",
    ]
    return "\n".join(lines) + "\n"


def api_command(port: int, work: Path) -> list[str]:
    """As the Dockerfile's CMD: sync workers on config.wsgi, the access log without query strings.
    No control socket: gunicorn would put it in $HOME/.gunicorn, shared by every gunicorn there."""
    return [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "2",
        "--no-control-socket",
        "--access-logfile", str(work / "api-access.log"),
        "--access-logformat", ACCESS_LOG_FORMAT,
        "--error-logfile", str(work / "api-error.log"),
    ]  # fmt: skip


def stream_command(port: int, work: Path) -> list[str]:
    """As docker-compose.yml's `stream`: Django's ASGI handler under the worker that leaves the
    client's address to TRUSTED_PROXY_COUNT (config/workers.py). Its access lines carry the path
    only (config/asgi.py filters uvicorn's)."""
    return [
        sys.executable, "-m", "gunicorn", "config.asgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", "config.workers.UvicornWorker",
        "--workers", "1",
        "--graceful-timeout", "5",
        "--no-control-socket",
        "--access-logfile", str(work / "stream-access.log"),
        "--error-logfile", str(work / "stream-error.log"),
    ]  # fmt: skip


def worker_command() -> list[str]:
    """As docker-compose.yml's `worker`."""
    return [sys.executable, "manage.py", "run_worker", "--no-reload"]


@dataclass
class Stack:
    work: Path
    url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def logs(self) -> dict[str, Path]:
        names = ("nginx-access", "nginx-error", "api-access", "api-error", "stream-access", "stream-error")
        return {name: self.work / f"{name}.log" for name in names}


def _wait_for(url: str, processes: Mapping[str, subprocess.Popen], deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {START_TIMEOUT:.0f} s")
        time.sleep(0.1)


def start(work: Path, env: Mapping[str, str], port: int | None = None) -> Stack:
    """nginx on 127.0.0.1:port (a free port when None) in front of the two app servers, each on a
    free loopback port. Returns once all three answer /healthz; on failure stops what it started
    and raises RuntimeError (the logs stay in WORK)."""
    nginx = nginx_binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
    work.mkdir(parents=True, exist_ok=True)
    (work / "nginx").mkdir(exist_ok=True)
    port = port or free_port()
    api_port, stream_port = free_port(), free_port()
    site = work / "nginx" / "ghostflow.conf"
    site.write_text(
        render_template(
            {
                "NGINX_PORT": f"127.0.0.1:{port}",
                "API_UPSTREAM": f"127.0.0.1:{api_port}",
                "STREAM_UPSTREAM": f"127.0.0.1:{stream_port}",
            }
        )
    )
    main_config = work / "nginx" / "nginx.conf"
    main_config.write_text(nginx_main_config(work, site))

    app_env = {**env, "TRUSTED_PROXY_COUNT": "1"}
    nginx_command = [nginx, "-p", str(work / "nginx"), "-c", str(main_config), "-e", str(work / "nginx-error.log")]
    # name: (command, environment, where its stdout goes; its stderr goes to WORK/<name>.out)
    commands = {
        "api": (api_command(api_port, work), app_env, work / "api.out"),
        "stream": (stream_command(stream_port, work), {**app_env, "DATABASE_CONN_MAX_AGE": "0"}, work / "stream.out"),
        "worker": (worker_command(), {**env, STACK_VARIABLE: str(work)}, work / "worker.log"),
        # nginx's access log is its stdout (`access_log /dev/stdout` in the template).
        "nginx": (nginx_command, dict(env), work / "nginx-access.log"),
    }
    stack = Stack(work=work, url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + START_TIMEOUT
    try:
        for name, (command, process_env, stdout_path) in commands.items():
            with open(stdout_path, "ab") as stdout, open(work / f"{name}.out", "ab") as stderr:
                process = subprocess.Popen(
                    command, cwd=ROOT, env=process_env, stdout=stdout, stderr=stderr, start_new_session=True
                )
            stack.processes[name] = process
            (work / f"{name}.pid").write_text(f"{process.pid}\n")
            if name == "api":
                _wait_for(f"http://127.0.0.1:{api_port}/healthz", stack.processes, deadline)
            elif name == "stream":
                _wait_for(f"http://127.0.0.1:{stream_port}/healthz", stack.processes, deadline)
        _wait_for(f"{stack.url}/healthz", stack.processes, deadline)
    except RuntimeError as error:
        stop(stack)
        raise RuntimeError(f"{error}\n{_log_tails(work)}") from None
    except BaseException:
        stop(stack)
        raise
    return stack


def _log_tails(work: Path, lines: int = 15) -> str:
    """The end of each server's own output and error log: why a start failed."""
    parts = []
    for path in sorted([*work.glob("*.out"), *work.glob("*-error.log")]):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        if text:
            parts.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(parts)


def _signal(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _started_here(pid: int, work: Path) -> bool:
    """The process still runs a command of this stack (a pid file outliving its process must not
    make `stop` signal whatever process has that number now): WORK is in its command line, or in
    its environment as STACK_VARIABLE."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if str(work).encode() in cmdline.read():
                return True
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return f"{STACK_VARIABLE}={work}".encode() in environ.read().split(b"\0")
    except (FileNotFoundError, PermissionError):
        return False


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie, dead but not yet collected by its parent, counts as
    gone: under the CLI these processes are not this one's children)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stop(stack: Stack) -> None:
    """SIGTERM to each process (gunicorn and nginx both stop on it), SIGKILL after STOP_TIMEOUT."""
    for process in stack.processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for name, process in stack.processes.items():
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        (stack.work / f"{name}.pid").unlink(missing_ok=True)


def stop_work(work: Path) -> None:
    """`stop` for a stack started by another process (the CLI): by the pid files in WORK."""
    pids = []
    for name in SERVICES:
        pid_file = work / f"{name}.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            if _started_here(pid, work) and _signal(pid, signal.SIGTERM):
                pids.append(pid)
            pid_file.unlink()
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("action", choices=("start", "stop", "serve"))
    parser.add_argument("work", type=Path, help="folder for the configuration, pid files and logs")
    parser.add_argument("--port", type=int, default=None, help="nginx's port (default: a free one)")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    if args.action == "stop":
        stop_work(work)
        return 0
    try:
        stack = start(work, os.environ, port=args.port)
    except RuntimeError as error:
        print(f"split stack: {error}\n(logs in {work})", file=sys.stderr)
        return 1
    print(stack.url)
    if args.action == "serve":
        print(f"nginx -> api (config.wsgi), stream (config.asgi); worker; logs in {work}; Ctrl-C stops", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            while all(process.poll() is None for process in stack.processes.values()):
                time.sleep(0.5)
            print("split stack: a server exited", file=sys.stderr)
        except KeyboardInterrupt:
            pass
        finally:
            stop(stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
