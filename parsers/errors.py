"""The one exception every parser raises for a file it cannot read as the expected output."""

from __future__ import annotations

from pathlib import Path


class ParseError(ValueError):
    """A file is missing, empty, truncated, from another program, or malformed.

    `path` is the file; `reason` says what was missing or expected; `str(error)` names both, so a
    workflow can store the message as a failure reason without adding context.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
