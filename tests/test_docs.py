"""The README stays short and points at pages that exist; the docs' runnable blocks are found.

The site itself is built with `mkdocs build --strict` by `make docs` and CI (broken links and
anchors fail it); `make demo-flows` runs the README's and the Python tutorial's blocks against a
fresh server (scripts/run_doc_blocks.py) and docs/flows.sh runs the tutorial's curl flows."""

import re
from pathlib import Path

from scripts import run_doc_blocks

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert targets, "the README links to the docs"
    assert [target for target in targets if not (ROOT / target).is_file()] == []


def test_the_blocks_a_reader_runs_are_the_ones_marked_and_are_filled_in():
    text = (
        "x\n<!-- run: sh -->\n```sh\nTEAM=<team>\necho $TEAM\n```\n```sh\nnot marked\n```\n"
        "<!-- run: python -->\n```python\nprint('gf_...')\n```\n"
    )
    found = run_doc_blocks.blocks(text)
    assert found == [("sh", "TEAM=<team>\necho $TEAM\n"), ("python", "print('gf_...')\n")]
    subs = [("<team>", "42"), ("gf_...", "$KEY")]
    assert run_doc_blocks.substitute(found[1][1], subs, {"KEY": "gf_abc"}) == "print('gf_abc')\n"
    assert run_doc_blocks.substitute(found[0][1], subs, {}) == "TEAM=42\necho $TEAM\n"


def test_the_readme_and_the_python_tutorial_have_blocks_to_run():
    for page in ("README.md", "docs/tutorial/python.md", "clients/python/README.md"):
        assert run_doc_blocks.blocks((ROOT / page).read_text()), page


def test_every_setting_read_from_the_environment_is_in_the_settings_reference():
    settings_py = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'(?:env(?:\.\w+)?|_secret)\(\s*"([A-Z0-9_]+)"', settings_py))
    assert len(read) > 40  # the pattern sees them
    reference = (ROOT / "docs" / "reference" / "settings.md").read_text()
    assert sorted(name for name in read if f"`{name}`" not in reference) == []
