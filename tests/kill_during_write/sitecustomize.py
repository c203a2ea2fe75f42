"""Put this folder on PYTHONPATH to SIGKILL a process in the middle of writing a file (tests only).

BETENET_TEST_KILL_WRITE="member_002.pt:2000": the first process that opens the temporary of an atomic
write of `member_002.pt` (`.member_002.pt.tmp-<pid>`) writes the first 2000 bytes of it, syncs them to
disk and sends itself SIGKILL. BETENET_TEST_KILL_AFTER="member_000.json,member_001.json": wait until these
files exist beside it first, so the kill lands when the other members are known to be finished.
Every other process and file is untouched (Python starts every process, pool workers too, through here).
"""

import builtins
import os
import signal
import time
from pathlib import Path

_SPEC = os.environ.get("BETENET_TEST_KILL_WRITE")

if _SPEC:
    _target, _n_bytes = _SPEC.rsplit(":", 1)
    _after = [name for name in os.environ.get("BETENET_TEST_KILL_AFTER", "").split(",") if name]
    _real_open = builtins.open

    class _CutWrite:
        def __init__(self, handle, path: Path):
            self._handle, self._path = handle, path

        def write(self, data):
            deadline = time.monotonic() + 300
            while not all((self._path.parent / name).exists() for name in _after) and time.monotonic() < deadline:
                time.sleep(0.05)
            self._handle.write(data[: int(_n_bytes)])
            self._handle.flush()
            os.fsync(self._handle.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._handle.__exit__(*exc)

    def _open(file, mode="r", *args, **kwargs):
        handle = _real_open(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, (str, os.PathLike)) and \
                os.path.basename(os.fspath(file)).startswith(f".{_target}.tmp-"):
            return _CutWrite(handle, Path(os.fspath(file)))
        return handle

    builtins.open = _open
