"""The development server (`make run`, `make demo-flows`): the app server it is given (uvicorn on
config.asgi) and the background worker that sends its mail (`manage.py run_worker`), started
together and stopped together.

    python scripts/dev_server.py [--reload] -- SERVER COMMAND...

Both run in the environment this is started in. With --reload the worker restarts when a Python
file changes (give the server its own --reload). Ctrl-C or SIGTERM stops both; if either exits,
the other is stopped too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to each process group (a reloader and the process it restarts: the group outlives a
    reloader that exited), SIGKILL after STOP_TIMEOUT."""
    for process in processes.values():
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--reload", action="store_true", help="restart the worker when a Python file changes")
    parser.add_argument("server", nargs=argparse.REMAINDER, help="the app server's command, after --")
    args = parser.parse_args(argv)
    server = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not server:
        parser.error("give the app server's command after --")
    worker = [sys.executable, "manage.py", "run_worker", "--reload" if args.reload else "--no-reload"]
    # Ctrl-C and SIGTERM alike (SIGINT too when started where it was ignored, as by `make ... &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in {"server": server, "worker": worker}.items():
            # A session of its own: the signals are this script's to pass on, to the whole group.
            processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        exited = next(name for name, process in processes.items() if process.poll() is not None)
        print(f"dev server: the {exited} exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
