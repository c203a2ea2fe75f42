"""Markers that tell the truth: a pytest plugin (registered by conftest.py).

- A test that uses a fixture which needs QE or the server is marked automatically (conftest.py names
  them: `secantusdb_uri` → `mongo`, the real Al `documents` → `qe`).
- While a test that is not marked `qe` sets up, runs or tears down, starting a Quantum ESPRESSO
  program (any `*.x` of the QE installation, also behind mpirun) fails it; likewise starting the
  secantusdb server without `mongo`. So `-m "not qe"` and `-m "not mongo"` select what they say.

The check wraps `subprocess.Popen`, so it sees programs started by this process (threads included),
not those a child process starts in turn (a `betenet` CLI run as a subprocess).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SERVER_PROGRAM = "secantusd-py"


def _qe_folder() -> Path | None:
    pw = shutil.which("pw.x")
    return Path(pw).resolve().parent if pw else None


def _argv(args) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        return shlex.split(os.fsdecode(args))
    return [os.fsdecode(arg) for arg in args]


class MarkerGuard:
    def __init__(self, fixture_markers: dict[str, str], qe_folder: Path | None = None) -> None:
        """fixture_markers: fixture name → the marker its users get. qe_folder: where QE's programs
        are (default: the folder of pw.x on PATH); only those count, as tests run fake `pw.x` scripts
        from temporary folders."""
        self.fixture_markers = fixture_markers
        self.qe_folder = qe_folder or _qe_folder()

    def _is_qe(self, arg: str) -> bool:
        if not arg.endswith(".x") or self.qe_folder is None:
            return False
        path = shutil.which(arg)
        return path is not None and Path(path).resolve().parent == self.qe_folder

    def forbidden_program(self, item: pytest.Item, argv: list[str]) -> tuple[str, str] | None:
        """(program, marker it needs) when `item` may not start `argv`, else None."""
        if item.get_closest_marker("qe") is None:
            for arg in argv:
                if self._is_qe(arg):
                    return Path(arg).name, "qe"
        if item.get_closest_marker("mongo") is None and argv and Path(argv[0]).name == SERVER_PROGRAM:
            return SERVER_PROGRAM, "mongo"
        return None

    @pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            for fixture in getattr(item, "fixturenames", ()):
                if fixture in self.fixture_markers:
                    item.add_marker(self.fixture_markers[fixture])

    def _guarded(self, item: pytest.Item):
        refused: list[str] = []
        popen_init = subprocess.Popen.__init__

        def guarded_init(popen, args, *rest, **kwargs):
            argv = _argv(args)
            found = self.forbidden_program(item, argv)
            if found:
                program, marker = found
                refused.append(
                    f"{item.nodeid} started {program} ({shlex.join(argv)}) but is not marked "
                    f"'{marker}': mark the test (or the module's pytestmark) with pytest.mark.{marker}"
                )
                # pytest's Failed is a BaseException: the code under test's `except Exception` lets it through
                pytest.fail(refused[-1], pytrace=False)
            popen_init(popen, args, *rest, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(subprocess.Popen, "__init__", guarded_init)
            try:
                result = yield
            except BaseException as err:
                if refused:
                    raise pytest.fail.Exception("\n".join(refused), pytrace=False) from err
                raise
        # a refusal swallowed by the code under test (a thread, a broad except) still fails the test
        if refused:
            pytest.fail("\n".join(refused), pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._guarded(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield from self._guarded(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item):
        return (yield from self._guarded(item))
