"""Shared test fixtures: paths to shared data, real-QE availability."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED = REPO.parent / "shared"
DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder {SHARED} is missing (it sits beside the repository)")
    return SHARED


def require_qe(*programs: str) -> None:
    """Fail (not skip): QE is part of the set-up, a missing binary is a broken machine."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"Quantum ESPRESSO programs missing from PATH: {missing}; run scripts/setup")


def pytest_sessionfinish(session, exitstatus):
    # pytest exits 5 when the selection is empty: say so loudly so it never reads as a pass.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.config.get_terminal_writer().line(
            "ERROR: no tests ran (empty selection) — this is a failure, not a pass", red=True, bold=True
        )
