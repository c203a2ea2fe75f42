"""Passing run folders between Jobs (atomate2 convention: a Job gets `prev_dir`, copies what it needs
into its own folder with atomate2's `copy_files`, which also reads from a remote host)."""

from __future__ import annotations

from pathlib import Path

from atomate2.common.files import copy_files
from atomate2.utils.path import strip_hostname


def copy_from(prev_dir: str | Path, patterns: list[str], dest: str | Path = ".") -> list[Path]:
    """Copy files matching `patterns` (globs relative to prev_dir, may contain sub-folders such as
    'out/*.save/*') into `dest`, keeping the relative layout. Returns the copied relative paths."""
    source = Path(strip_hostname(str(prev_dir)))
    dest = Path(dest)
    copied: list[Path] = []
    for pattern in patterns:
        matches = [p.relative_to(source) for p in source.glob(pattern) if p.is_file()]
        if not matches:
            raise FileNotFoundError(f"nothing matches {pattern!r} in {source}: did the previous step finish?")
        by_folder: dict[Path, list[str]] = {}
        for rel in matches:
            by_folder.setdefault(rel.parent, []).append(rel.name)
        for folder, names in by_folder.items():
            (dest / folder).mkdir(parents=True, exist_ok=True)
            copy_files(source / folder, dest / folder, include_files=names)
            copied += [folder / name for name in names]
    return copied
