"""Each module, copied alone into an empty folder, imports and works under ``python -I -S``
(no site-packages) on every CPython from 3.8 to 3.13 installed with pyenv here; versions
that are not installed are skipped, and the summary says which ran."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def find_interpreter(version):
    """The newest pyenv CPython X.Y, or this interpreter if it is X.Y, else None."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    if shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip() or root
        except (OSError, subprocess.SubprocessError):
            pass
    versions = pathlib.Path(root, "versions")
    found = (
        sorted(
            (p for p in versions.glob(version + ".*") if p.name[len(version) + 1 :].isdigit()),
            key=lambda p: int(p.name.rsplit(".", 1)[1]),
        )
        if versions.is_dir()
        else []
    )
    for candidate in reversed(found):
        python = candidate / "bin" / "python"
        if python.exists():
            return str(python)
    if "%d.%d" % sys.version_info[:2] == version:
        return sys.executable
    return None


@pytest.mark.parametrize("module", ["altan", "pipedream"])
@pytest.mark.parametrize("version", VERSIONS)
def test_vendored_module_runs_alone(version, module, tmp_path):
    python = find_interpreter(version)
    if python is None:
        pytest.skip("CPython %s is not installed here" % version)
    shutil.copy(ROOT / (module + ".py"), tmp_path)
    shutil.copy(ROOT / "tests" / "vendored_smoke.py", tmp_path)
    result = subprocess.run(
        [python, "-I", "-S", "vendored_smoke.py", module],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("%s ok on Python %s." % (module, version)), result.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".py") == sorted(
        [module + ".py", "vendored_smoke.py"]
    )
