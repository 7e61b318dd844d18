"""The sync SDK is generated from its async source by clients/python/scripts/generate_sync.py
(`make sdk-sync`): the whole of client.py from aio.py, and the sync classes of pagination.py,
stream.py and content.py from their async twins. What is committed must be what the generator
makes from the source now."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "python" / "scripts" / "generate_sync.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_sync", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_sync_code_is_what_the_async_source_generates():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_edit_of_the_async_source_reaches_the_sync_code_and_nothing_else(tmp_path):
    generator = load_generator()
    package = tmp_path / "ghostflow_client"
    shutil.copytree(generator.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    aio, stream = package / "aio.py", package / "stream.py"
    aio.write_text(aio.read_text().replace('"""One key (masked)."""', '"""One key, masked."""'))
    stream.write_text(stream.read_text().replace("keep it to resume later", "keep it to resume another day"))

    files = generator.expected(package)

    assert set(files) == {package / name for name in ("client.py", "pagination.py", "stream.py", "content.py")}
    committed = {name: (generator.PACKAGE / name).read_text() for name in ("client.py", "stream.py")}
    # The module generated whole from aio.py, and the class generated below AsyncAuditStream.
    assert committed["client.py"].count('"""One key (masked)."""') == 1
    assert files[package / "client.py"] == committed["client.py"].replace(
        '"""One key (masked)."""', '"""One key, masked."""'
    )
    assert committed["stream.py"].count("keep it to resume later") == 2
    assert files[package / "stream.py"] == committed["stream.py"].replace(
        "keep it to resume later", "keep it to resume another day"
    )
    for name in ("pagination.py", "content.py"):
        assert files[package / name] == (generator.PACKAGE / name).read_text()
