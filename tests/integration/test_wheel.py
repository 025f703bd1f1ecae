"""A plain (non-editable) install works: the wheel carries the templates and static files.

The wheel is built from a clean copy of the checkout (a build in the checkout itself would reuse
whatever a previous build left in build/), installed without -e into a fresh venv, and
`courier web` is run from there, outside the repository, against the test Redis. The fresh venv
sees the dev venv's third-party packages through a plain path line in a .pth file: that adds the
directory to sys.path without running the .pth files inside it, so the dev venv's editable finder
(which maps `backend` and `frontend` onto the checkout) stays off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from backend.procs.child import Child
from backend.procs.redis_server import free_port
from tests.processes import courier_env, http_status

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".courier",
    "test-results", "node_modules", ".env",
)  # fmt: skip
HTMX = "/static/vendor/htmx.min.js"  # as templates/base.html links it


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    """Without build isolation: the dev extra holds the setuptools [build-system] asks for, so
    the build needs no package index."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", dist, source, cwd=tmp_path)
    (wheel,) = dist.glob("courier-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    """A new venv with the wheel installed (no -e, no network) and the dev venv's dependencies
    on its path; its python and its site-packages."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    run(*pip, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).strip())  # fmt: skip
    (site / "dev-venv-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python, site


def test_installed_wheel_serves_pages_and_static_files(tmp_path: Path, redis_url: str) -> None:
    wheel = build_wheel(tmp_path)
    python, site = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()

    # The code, templates and static files all come from the fresh venv, not from the checkout.
    where = run(python, "-c", "import backend, frontend.assets as a; print(backend.__file__); "
                "print(a.templates_dir()); print(a.static_dir())", cwd=elsewhere)  # fmt: skip
    backend_file, templates, static = (Path(line) for line in where.splitlines())
    assert backend_file.is_relative_to(site), backend_file
    assert templates == site / "frontend" / "templates"
    assert static == site / "frontend" / "static"
    assert (static / "vendor" / "LICENSE.htmx").is_file()

    env = courier_env(redis_url)
    for variable in ("PYTHONPATH", "PYTHONHOME"):
        env.pop(variable, None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(python.parent / "courier"), "web", "--host", "127.0.0.1", "--port", str(port)]
    web = Child("web", argv, tmp_path / "web.log", cwd=elsewhere).start(env)
    try:
        web.wait_ready(lambda: http_status(f"{base}/readyz") == 200, 30)
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            assert response.status == 200
            assert HTMX in response.read().decode()
        for path in (HTMX, "/static/css/courier.css", "/jobs"):
            assert http_status(base + path) == 200, path
    except BaseException:  # a failed assertion, ChildError or timeout: show why
        print(f"--- courier web log\n{web.output()}")
        raise
    finally:
        web.stop()
