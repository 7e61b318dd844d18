#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise SystemExit(
            "Django is not importable from this Python. Use the project's virtualenv: "
            "`make install`, then `.venv/bin/python manage.py ...` (or `make manage CMD=...` for the "
            "development settings `make run` uses)."
        ) from exc

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
