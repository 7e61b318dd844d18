"""Create (or refresh) the project's virtual environment, safely from several terminals at once.

    python3 scripts/bootstrap_venv.py run   # what serving needs: the project and its dependencies
    python3 scripts/bootstrap_venv.py dev   # that, the test, lint and SDK tools (.[dev]) and the SDK

`make run` (and the commands that only serve: key, manage, demo-flows, schema) install `run`;
`make test`, `make lint` and `make bench` install `dev`, a superset. Each has its stamp in the venv,
newer than the files that decide what it holds; a fresh `dev` stamp satisfies `run` too.

`make run` and `make test` both depend on the venv; started together on a fresh clone, both used
to create it at the same time and one failed (`.venv/bin/pip: No such file or directory`). Here
the work happens under an exclusive lock on `.venv.lock`: the second caller waits, then finds the
venv up to date and does nothing.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
RUNTIME_INPUTS = (ROOT / "pyproject.toml", ROOT / "constraints.txt")
# name: (stamp, the files that decide what it holds, what pip installs)
TARGETS = {
    "run": (VENV / ".installed-run", RUNTIME_INPUTS, ["-e", "."]),
    # The SDK and `gf` (clients/python) too: tests/sdk runs them against this project.
    "dev": (
        VENV / ".installed",
        (*RUNTIME_INPUTS, ROOT / "clients" / "python" / "pyproject.toml"),
        ["-e", ".[dev]", "-e", "clients/python"],
    ),
}
# What each target's stamp stands for: a dev install holds everything a run install does.
SATISFIES = {"run": ("run", "dev"), "dev": ("dev",)}


def up_to_date(target: str) -> bool:
    stamp, inputs, _ = TARGETS[target]
    return stamp.exists() and all(stamp.stat().st_mtime >= path.stat().st_mtime for path in inputs)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on whatever python3 the user has
        print("Python 3.11+ is required", file=sys.stderr)
        return 1
    target = argv[0] if argv else "dev"
    if target not in TARGETS or len(argv) > 1:
        print(f"usage: bootstrap_venv.py [{' | '.join(TARGETS)}]", file=sys.stderr)
        return 2
    stamp, _, packages = TARGETS[target]
    with open(ROOT / ".venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if any(up_to_date(name) for name in SATISFIES[target]):
            stamp.touch()  # so that make finds its own stamp next time
            return 0
        if not (VENV / "bin" / "python").exists():
            print(f"Creating {VENV.name} ...", flush=True)
            venv.EnvBuilder(with_pip=True).create(VENV)
        print(f"Installing into {VENV.name}: {' '.join(packages)} ...", flush=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "--quiet"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-c", "constraints.txt", *packages], check=True, cwd=ROOT)
        for name, (other, _, _) in TARGETS.items():
            if target in SATISFIES[name]:
                other.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
