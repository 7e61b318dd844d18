"""Reference pages generated from the code when the docs are built (an MkDocs hook: mkdocs.yml,
`hooks`): every operation of the OpenAPI schema, and every declared error code. What the code
declares is written once, in the code; the docs cannot drift from it.

Also usable on its own: `python scripts/docs_reference.py` prints the pages' Markdown.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "patch", "delete")


def _django() -> None:
    """Django set up as `make run` has it (DEBUG, the embedded defaults), unless it already is."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.split("\n\n")[0].replace("\n", " ") if text else ""


def operations_page() -> str:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    by_tag: dict[str, list[str]] = {}
    for path, operations in schema["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            security = sorted({name for requirement in operation.get("security", []) for name in requirement})
            auth = ", ".join(f"`{name}`" for name in security if name) or "none"
            summary = _first_line(operation.get("summary") or operation.get("description", ""))
            summary = summary.replace("|", "\\|")
            by_tag.setdefault(tag, []).append(f"| `{method.upper()}` | `{path}` | {auth} | {summary} |")
    lines = [
        "# Every operation",
        "",
        "Generated from the OpenAPI schema (`/api/schema/`) when these docs are built: each operation, the",
        "credentials it takes (`teamId` is the `X-Team-Id` header) and the first paragraph of its description.",
        "Swagger UI at `/api/docs/` on a running server has every parameter, body and answer.",
        "",
    ]
    for tag in sorted(by_tag):
        lines += [f"## {tag}", "", "| Method | Path | Credentials | What it does |", "|---|---|---|---|"]
        lines += sorted(by_tag[tag], key=lambda row: (row.split("|")[2], row.split("|")[1]))
        lines.append("")
    return "\n".join(lines)


def error_codes_page() -> str:
    from infra.errors import ERROR_CODES

    lines = [
        "# Error codes",
        "",
        "Every `code` an answer may carry, with its one HTTP status: generated from",
        "`infra.errors.ERROR_CODES` when these docs are built (tests fail on a code used but not declared,",
        "or answered with another status). What the problem document looks like: [Errors](errors.md).",
        "",
        "| Code | Status |",
        "|---|---|",
    ]
    lines += [
        f"| `{code}` | {status} |" for code, status in sorted(ERROR_CODES.items(), key=lambda item: (item[1], item[0]))
    ]
    return "\n".join(lines) + "\n"


PAGES = {"reference/operations.md": operations_page, "reference/error-codes.md": error_codes_page}


def on_files(files, config):
    """MkDocs hook: add the generated pages to the site (MkDocs 1.6's File.generated)."""
    from mkdocs.structure.files import File

    _django()
    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files


if __name__ == "__main__":
    _django()
    for make in PAGES.values():
        print(make())
