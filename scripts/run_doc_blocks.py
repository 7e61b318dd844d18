"""Run the code blocks of the docs as a reader would paste them, against a running server.

A fenced block runs when the line before it is `<!-- run: sh -->` or `<!-- run: python -->` (an HTML
comment: invisible on GitHub and in the docs site). Blocks run in order, each in a fresh `bash`
(with `set -euo pipefail`) or `python`, from the repository's root with `.venv/bin` first on PATH,
after the placeholders a reader fills in are replaced (`--sub TEXT=VALUE`, e.g. the team id that
`make run` printed, or the server's address). Shell variables set by one sh block of a file are
kept for the next, across the files of one run (one reader, one terminal). A block that fails fails the run, with
its output.

    python scripts/run_doc_blocks.py README.md --sub '<team 1 id printed by make run>=...' ...

`make demo-flows` (and so CI) runs the README's blocks this way against a fresh server.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- run: (sh|python) -->$")
ASSIGNMENT = re.compile(r"^(?:export )?([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every block marked to run, in order."""
    found, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        marked = MARKER.match(line.strip())
        if not marked or index + 1 >= len(lines) or not lines[index + 1].startswith("```"):
            continue
        end = next(i for i in range(index + 2, len(lines)) if lines[i].startswith("```"))
        found.append((marked.group(1), "\n".join(lines[index + 2 : end]) + "\n"))
    return found


def substitute(code: str, subs: list[tuple[str, str]], variables: dict[str, str]) -> str:
    """`--sub TEXT=VALUE`; a VALUE of `$NAME` is what an earlier sh block set NAME to (the key it
    made, say), as a reader would paste it."""
    for old, new in subs:
        if new.startswith("$"):
            new = variables.get(new[1:], new)
        code = code.replace(old, new)
    return code


def shell_variables(state: Path, names: set[str]) -> dict[str, str]:
    if not names:
        return {}
    script = f'source {state}; for n in "$@"; do printf "%s=%s\\n" "$n" "${{!n-}}"; done'
    done = subprocess.run(["bash", "-c", script, "_", *sorted(names)], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def run(paths: list[Path], subs: list[tuple[str, str]]) -> None:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as work:
        state = Path(work) / "state.sh"
        state.write_text("")
        names: set[str] = set()
        for path in paths:
            found = blocks(path.read_text())
            if not found:
                sys.exit(f"{path}: no block marked <!-- run: sh|python -->")
            for number, (language, code) in enumerate(found, 1):
                code = substitute(code, subs, shell_variables(state, names))
                if language == "sh":
                    # Each block sees the variables the previous ones set (their `declare -p`).
                    assigned = sorted(set(ASSIGNMENT.findall(code)))
                    names.update(assigned)
                    keep = f"declare -p {' '.join(assigned)} >> {state}\n" if assigned else ""
                    script = f"set -euo pipefail\nsource {state}\n{code}\n{keep}"
                    command = ["bash", "-c", script]
                else:
                    command = [str(ROOT / ".venv" / "bin" / "python"), "-c", code]
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
                print(f"--- {path} block {number} ({language}): exit {done.returncode}")
                print(done.stdout, end="")
                if done.returncode != 0:
                    print(done.stderr, end="", file=sys.stderr)
                    sys.exit(f"{path} block {number} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--sub", action="append", default=[], help="TEXT=VALUE: replace TEXT in the blocks")
    args = parser.parse_args()
    subs = [tuple(item.split("=", 1)) for item in args.sub]
    run(args.files, subs)


if __name__ == "__main__":
    main()
