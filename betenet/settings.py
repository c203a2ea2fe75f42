"""One settings object for the whole package (pydantic-settings, `BETENET_` environment prefix).

Read at call time through `get_settings()`, never frozen at import; tests change it with
`override_settings(...)`. A TOML/JSON-free YAML-free config: environment variables, or a `.env`-style
file named by `BETENET_CONFIG_FILE` (default `~/.config/betenet/betenet.env`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_CONFIG_FILE = Path("~/.config/betenet/betenet.env").expanduser()


class BetenetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BETENET_", extra="ignore")

    home: Path = Field(
        default=Path("betenet-data"),
        description="Working folder for run directories and the embedded store (relative to the cwd).",
    )
    store_uri: str | None = Field(
        default=None,
        description="mongodb://host:port/ of a MongoDB server; None uses the embedded on-disk store "
        "under `home`/store.",
    )
    database: str = Field(default="betenet", description="Database name on the server or on disk.")
    pseudo_dir: Path | None = Field(
        default=None,
        description="Folder with pseudopotential files; falls back to ESPRESSO_PSEUDO, then to "
        "Debian's /usr/share/espresso/pseudo.",
    )
    pseudo_index: Path | None = Field(
        default=None,
        description="JSON index element → {file, ecutwfc_ry, ecutrho_ry} for the pseudo family; "
        "default: `index.json` inside pseudo_dir when present, else files named <El>*.UPF.",
    )
    qe_bin_dir: Path | None = Field(
        default=None, description="Folder with pw.x, ph.x, ...; None searches PATH."
    )
    mpi_command: str = Field(
        default="",
        description="Prefix for parallel runs, e.g. 'mpirun -np 4' or 'srun'. Empty runs serially.",
    )
    npool: int = Field(default=1, description="Number of k-point pools (-nk) for pw.x/ph.x/epw.x.")
    run_timeout_s: float = Field(
        default=48 * 3600.0, description="Wall-clock limit for one QE program run, seconds."
    )

    @field_validator("home", "pseudo_dir", "pseudo_index", "qe_bin_dir")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        # QE runs in its own run folder: a relative path must mean the caller's folder, not that one
        return None if path is None else Path(path).expanduser().absolute()


def _config_file() -> Path:
    return Path(os.environ.get("BETENET_CONFIG_FILE", _DEFAULT_CONFIG_FILE)).expanduser()


_overrides: list[dict] = []


def get_settings() -> BetenetSettings:
    """Current settings: defaults ← config file ← environment ← active `override_settings` blocks."""
    file = _config_file()
    settings = BetenetSettings(_env_file=file if file.is_file() else None)
    for override in _overrides:
        settings = settings.model_copy(update=override)
    return settings


@contextlib.contextmanager
def override_settings(**values) -> Iterator[BetenetSettings]:
    """Temporarily change settings (tests, notebooks): `with override_settings(npool=2): ...`."""
    unknown = set(values) - set(BetenetSettings.model_fields)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(BetenetSettings.model_fields)}")
    _overrides.append(values)
    try:
        yield get_settings()
    finally:
        _overrides.remove(values)
