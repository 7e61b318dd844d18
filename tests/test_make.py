"""`make run` installs what serving needs; the test, lint and benchmark tools come with the targets
that use them (scripts/bootstrap_venv.py: two installs, two stamps, one lock)."""

import re
from pathlib import Path

from scripts import bootstrap_venv

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = (ROOT / "Makefile").read_text()


def prerequisites(target: str) -> list[str]:
    return re.search(rf"^{re.escape(target)}:([^\n]*)$", MAKEFILE, re.M).group(1).split()


def test_serving_targets_install_only_the_runtime_and_the_others_everything():
    for target in ("run", "run-split", "key", "manage", "demo-flows", "migrations-check", "schema"):
        assert prerequisites(target) == ["install-run"], target
    for target in ("test", "test-postgres", "test-pgbouncer", "lint", "format", "sdk-sync", "screenshots", "bench"):
        assert prerequisites(target) == ["install"], target
    assert prerequisites("install-run") == ["$(STAMP_RUN)"] and prerequisites("install") == ["$(STAMP_DEV)"]
    assert "bootstrap_venv.py run" in MAKEFILE and "bootstrap_venv.py dev" in MAKEFILE


def test_the_runtime_install_is_the_project_without_extras_and_a_dev_install_covers_it():
    _, run_inputs, run_packages = bootstrap_venv.TARGETS["run"]
    _, dev_inputs, dev_packages = bootstrap_venv.TARGETS["dev"]
    assert run_packages == ["-e", "."]
    assert "-e" in dev_packages and ".[dev]" in dev_packages
    assert set(run_inputs) <= set(dev_inputs)
    assert bootstrap_venv.SATISFIES["run"] == ("run", "dev") and bootstrap_venv.SATISFIES["dev"] == ("dev",)
