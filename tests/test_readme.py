"""The tutorial's curl flows are the ones docs/flows.sh runs (and CI runs it: `make demo-flows`)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _calls(text: str) -> set[tuple[str, str]]:
    """(method, path) of every curl call to $B, ids and query strings left out."""
    calls = set()
    for line in text.replace("\\\n", " ").splitlines():
        if not re.search(r"\b(curl|expect)\b", line) or "$B/" not in line:
            continue
        method = re.search(r"-X (\w+)", line)
        path = re.search(r"\$B/([\w/$-]+)", line).group(1)
        path = re.sub(r"\$\w+", "{id}", path)
        has_body = " -d " in line
        calls.add((method.group(1) if method else ("POST" if has_body else "GET"), path))
    return calls


def test_every_tutorial_flow_is_run_by_docs_flows_sh():
    tutorial = (ROOT / "docs" / "tutorial" / "index.md").read_text()
    section = tutorial[tutorial.index("## The main flows") :]
    block = section[section.index("```sh") : section.rindex("```")]
    script = (ROOT / "docs" / "flows.sh").read_text()
    documented = _calls(block)
    assert len(documented) > 15
    assert documented <= _calls(script), documented - _calls(script)
