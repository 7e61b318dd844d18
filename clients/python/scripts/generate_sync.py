"""Generate the sync SDK from its async source, or check that what is committed is up to date.

    .venv/bin/python clients/python/scripts/generate_sync.py          # write them (make sdk-sync)
    .venv/bin/python clients/python/scripts/generate_sync.py --check  # exit 1 if one is stale

The async code is the one source: the sync client and the sync classes are generated from it and
never edited by hand. unasync (python-trio's, the tool urllib3 and elasticsearch-py use) rewrites
the code token by token: it drops ``async`` and ``await`` and renames ``__aenter__``,
``AsyncIterator``, ``asynccontextmanager``... and the names in REPLACEMENTS below. It leaves
strings and comments alone, so the same renames and the few phrases of PROSE are then applied to
the docstrings, strings and comments (and to nothing else). ruff then sorts the imports and
formats the result, as the project's lint wants it.

Two kinds of target:

- MODULES: a module generated whole from an async one (aio.py -> client.py), under a header;
- CLASSES: a class generated from its async twin in the same module, between two marker comments
  below it; the rest of that module (what both classes share) is written by hand.

Where the sync code must differ by more than a name, the async source uses a name of
ghostflow_client/_concurrency.py, which holds both twins (AsyncLock and Lock, ...).

Needs the root project's dev tools (unasync, ruff); the SDK itself never imports this.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import re
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "clients" / "python" / "src" / "ghostflow_client"
SCRIPT = "clients/python/scripts/generate_sync.py"

# The async module -> the sync module generated from it.
MODULES = {"aio.py": "client.py"}
# (module, async class, sync class): the sync class is generated below the async one.
CLASSES = [
    ("pagination.py", "AsyncPaginator", "Paginator"),
    ("stream.py", "AsyncAuditStream", "AuditStream"),
    ("content.py", "AsyncGhostFlowContent", "GhostFlowContent"),
]

# Async name -> sync name, beyond unasync's own table. Any other `AsyncX` becomes `SyncX` (unasync's
# default), which names nothing here: mypy and the tests would say so.
REPLACEMENTS = {
    # ours
    "AsyncGhostFlow": "GhostFlow",
    "AsyncGhostFlowContent": "GhostFlowContent",
    "AsyncPaginator": "Paginator",
    "AsyncFetch": "Fetch",
    "AsyncAuditStream": "AuditStream",
    "AsyncConnect": "Connect",
    # _concurrency.py
    "AsyncLock": "Lock",
    "async_sleep": "sleep",
    "async_store_locked": "store_locked",
    "ASYNC_GENERATOR_RUNNING": "GENERATOR_RUNNING",
    # httpx, httpx-sse and the builtins
    "AsyncClient": "Client",
    "aclose": "close",
    "aread": "read",
    "aiter_sse": "iter_sse",
    "anext": "next",
}

# What unasync does to the code, in the words of the docstrings and comments.
PROSE = [
    (r"\basync (with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\basynchronous\b", "synchronous"),
    (r"\bevent loop\b", "process"),
    (r"\btask\b", "thread"),
    (r"\btasks\b", "threads"),
    *((rf"\b{name}\b", sync_name) for name, sync_name in REPLACEMENTS.items()),
]


# The token types that hold prose (in Python 3.12+ an f-string's text is FSTRING_MIDDLE).
PROSE_TOKENS = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def header(source: str) -> str:
    lines = (
        f"Generated from {source} by {SCRIPT} (unasync): do not edit.",
        f"Edit {source}, then run `make sdk-sync`.",
    )
    return "".join(f"# {line}\n" for line in lines)


def markers(async_name: str, sync_name: str) -> tuple[str, str]:
    return (
        f"# --- generated from {async_name} by {SCRIPT}: do not edit ---",
        f"# --- end of the generated {sync_name} ---",
    )


def unasync_text(source: str) -> str:
    """The sync version of some async code: unasync on the code, then PROSE on its prose."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "_async", "code.py")
        path.parent.mkdir()
        path.write_text(source, encoding="utf-8")
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=REPLACEMENTS)
        unasync.unasync_files([str(path)], rules=[rule])
        return reworded(Path(directory, "_sync", "code.py").read_text(encoding="utf-8"))


def reworded(code: str) -> str:
    """`code` with PROSE applied to its strings and comments only."""
    starts = [0]  # where each line starts in `code`
    for line in io.StringIO(code).readlines():
        starts.append(starts[-1] + len(line))
    pieces, done = [], 0
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type in PROSE_TOKENS:
            start = starts[token.start[0] - 1] + token.start[1]
            end = starts[token.end[0] - 1] + token.end[1]
            prose = code[start:end]
            for pattern, replacement in PROSE:
                prose = re.sub(pattern, replacement, prose)
            pieces += [code[done:start], prose]
            done = end
    return "".join([*pieces, code[done:]])


def ruff(text: str, path: Path) -> str:
    """`text` as the lint wants `path`: its imports sorted (renames move them), `yield from` for
    the loops that yield each item (an async generator cannot `yield from`), then formatted; with
    the project's settings wherever `path` is."""
    fix = ["check", "--select", "I,UP028", "--fix", "--unsafe-fixes", "--quiet"]
    for command in (fix, ["format", "--quiet"]):
        text = subprocess.run(  # noqa: S603 - this interpreter's ruff, on our own code
            [
                sys.executable,
                "-m",
                "ruff",
                *command,
                "--config",
                str(ROOT / "pyproject.toml"),
                "--stdin-filename",
                str(path),
                "-",
            ],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def generated_module(package: Path, source: str) -> str:
    text = (package / source).read_text(encoding="utf-8")
    # The source's own leading comments (it says it is the source) give way to the header.
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return header(source) + unasync_text("".join(lines))


def class_code(text: str, name: str) -> str:
    """The source lines of the top-level class `name` (with its decorators)."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            return "".join(text.splitlines(keepends=True)[first - 1 : node.end_lineno])
    raise SystemExit(f"{SCRIPT}: no class {name} at the top level of its module")


def with_generated_class(text: str, module: str, async_name: str, sync_name: str) -> str:
    """The module's `text` with the code between its markers generated anew from `async_name`."""
    begin, end = markers(async_name, sync_name)
    lines = text.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line.rstrip("\n") == begin]
    ends = [index for index, line in enumerate(lines) if line.rstrip("\n") == end]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise SystemExit(f"{SCRIPT}: {module} needs these two lines once each, in this order:\n{begin}\n{end}")
    code = unasync_text(class_code(text, async_name))
    return "".join(lines[: starts[0] + 1]) + code + "\n\n" + "".join(lines[ends[0] :])


def expected(package: Path = PACKAGE) -> dict[Path, str]:
    """Each generated file of `package` (ghostflow_client's directory) as the generator makes it now."""
    files = {package / target: generated_module(package, source) for source, target in MODULES.items()}
    for module, async_name, sync_name in CLASSES:
        path = package / module
        text = files.get(path) or path.read_text(encoding="utf-8")
        files[path] = with_generated_class(text, module, async_name, sync_name)
    return {path: ruff(text, path) for path, text in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a generated file is stale")
    check = parser.parse_args().check
    stale = []
    for path, text in expected().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        name = str(path.relative_to(ROOT))
        stale.append(name)
        if check:
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True), name, f"{name} (generated)")
            sys.stdout.writelines(diff)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"generated {name}")
    if check and stale:
        print(f"\nStale: {', '.join(stale)}. Edit the async source, then run `make sdk-sync`.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
