from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins import SCRIPTED_ENTRY_POINTS, install_distribution


@pytest.fixture(scope="session")
def scripted_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the scripted test probes as an installed distribution."""
    return install_distribution(
        tmp_path_factory.mktemp("site"),
        "diag-testprobes",
        SCRIPTED_ENTRY_POINTS,
        modules=("diag_testprobes",),
    )


@pytest.fixture
def scripted_probes(scripted_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the scripted probes discoverable in this process and in subprocesses."""
    monkeypatch.syspath_prepend(str(scripted_site))
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", f"{scripted_site}{os.pathsep}{existing}" if existing else str(scripted_site)
    )
    yield scripted_site
    sys.modules.pop("diag_testprobes", None)


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty directory with no configuration found anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIAG_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for variable in ("PROMETHEUS_URL", "DATABASE_URL", "KUBECONFIG", "PGHOST", "PGDATABASE", "PGUSER"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path
