"""The dashboard's vendored chart library is the registry's own build: uPlot as package.json pins
it, copied by `make vendor` (the image and the wheel ship it without npm)."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "dashboard/static/dashboard/vendor/uplot"
FILES = {"uPlot.iife.min.js": "dist", "uPlot.min.css": "dist", "LICENSE": "."}


def test_the_vendored_uplot_is_the_version_package_json_pins():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["uplot"]
    header = (VENDORED / "uPlot.iife.min.js").read_text().splitlines()[0]
    assert header == f"/*! https://github.com/leeoniya/uPlot (v{pinned}) */"
    assert "MIT" in (VENDORED / "LICENSE").read_text()


def test_the_vendored_files_are_byte_for_byte_the_installed_package():
    installed = ROOT / "node_modules/uplot"
    if not installed.exists():
        if os.environ.get("REQUIRE_NPM_CLIENTS") == "1":  # CI installs it: there a skip is a failure
            pytest.fail("node_modules/uplot is not installed (npm ci) but REQUIRE_NPM_CLIENTS=1")
        pytest.skip("node_modules/uplot is not installed (npm ci)")
    assert (
        json.loads((installed / "package.json").read_text())["version"]
        == json.loads((ROOT / "package.json").read_text())["dependencies"]["uplot"]
    )
    for name, folder in FILES.items():
        assert (VENDORED / name).read_bytes() == (installed / folder / name).read_bytes(), name
