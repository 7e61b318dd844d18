"""Create (or refresh) the project's virtual environment, safely from several terminals at once.

`make run` and `make test` both depend on the venv; started together on a fresh clone, both used
to create it at the same time and one failed (`.venv/bin/pip: No such file or directory`). Here
the work happens under an exclusive lock on `.venv.lock`: the second caller waits, then finds the
venv up to date (the stamp is newer than pyproject.toml and constraints.txt) and does nothing.
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
STAMP = VENV / ".installed"
INPUTS = (ROOT / "pyproject.toml", ROOT / "constraints.txt", ROOT / "clients" / "python" / "pyproject.toml")


def up_to_date() -> bool:
    return STAMP.exists() and all(STAMP.stat().st_mtime >= path.stat().st_mtime for path in INPUTS)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on whatever python3 the user has
        print("Python 3.11+ is required", file=sys.stderr)
        return 1
    with open(ROOT / ".venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if up_to_date():
            return 0
        if not (VENV / "bin" / "python").exists():
            print(f"Creating {VENV.name} ...", flush=True)
            venv.EnvBuilder(with_pip=True).create(VENV)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "--quiet"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        # The SDK and `gf` (clients/python) too: tests/sdk runs them against this project.
        subprocess.run(
            [*pip, "install", "-c", "constraints.txt", "-e", ".[dev]", "-e", "clients/python"], check=True, cwd=ROOT
        )
        STAMP.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
