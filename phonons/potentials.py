"""Universal interatomic potentials whose weights ship in their Python package, as ASE calculators.

Only checkpoints inside the installed wheel are used: a potential whose weights would be fetched from
the internet at run time is not offered (the machines this runs on reach package registries only), and
a missing checkpoint file is an error, never a download.

    name            package   checkpoint
    sevennet-0      sevenn    SevenNet-0 (11 Jul 2024), e3nn-based, trained on MPtrj
    sevennet-l3i5   sevenn    SevenNet-l3i5 (l_max 3, 5 interaction layers), MPtrj
    chgnet-0.3.0    chgnet    CHGNet 0.3.0, MPtrj
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

# The closest to this project's DFT PhDOS of the three (benchmarks/RESULTS.md, MLIP phonons: mean frequency
# 0.90 × DFT's, 51-bin EMD median 1.5 meV, against SevenNet-0's 0.81 and 2.8 meV and CHGNet's 0.78 and 3.1 meV),
# at about twice SevenNet-0's cost; it has more spurious imaginary modes (bcc Ba −9.3 meV), which the MPD
# features do not see and the pre-gate's 15 meV threshold stays below.
DEFAULT_POTENTIAL = "sevennet-l3i5"
INSTALL_HINT = "pip install 'betenet[mlip]'"


class MissingPotentialError(RuntimeError):
    """The potential's package (or its shipped checkpoint) is not installed; the message says what to install."""


@dataclass(frozen=True)
class Potential:
    name: str
    package: str  # the importable package that ships the weights
    description: str
    checkpoint: str  # path inside the package (SevenNet) or the package's own model name (CHGNet)

    @property
    def version(self) -> str:
        """'<package> <version>', which with `name` identifies the weights."""
        return f"{self.package} {_package_version(self.package)}"

    def calculator(self):
        """A fresh ASE calculator on the CPU."""
        module = _import(self.package, self.name)
        if self.package == "sevenn":
            path = Path(module.__file__).parent / self.checkpoint
            if not path.is_file():
                raise MissingPotentialError(f"potential {self.name!r}: checkpoint {path} is not in the installed "
                                            f"sevenn {_package_version('sevenn')}; reinstall it: {INSTALL_HINT}")
            from sevenn.calculator import SevenNetCalculator

            return SevenNetCalculator(str(path), device="cpu")
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(CHGNet.load(model_name=self.checkpoint, use_device="cpu", verbose=False),
                                use_device="cpu")


POTENTIALS: dict[str, Potential] = {
    p.name: p
    for p in (
        Potential("sevennet-0", "sevenn", "SevenNet-0 (11 Jul 2024)",
                  "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth"),
        Potential("sevennet-l3i5", "sevenn", "SevenNet-l3i5",
                  "pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth"),
        Potential("chgnet-0.3.0", "chgnet", "CHGNet 0.3.0", "0.3.0"),
    )
}


def get_potential(name: str) -> Potential:
    try:
        return POTENTIALS[name]
    except KeyError:
        raise ValueError(f"unknown potential {name!r}; use one of {', '.join(POTENTIALS)}") from None


def require_package(name: str) -> Potential:
    """The potential, after checking that its package imports (MissingPotentialError otherwise)."""
    potential = get_potential(name)
    _import(potential.package, name)
    return potential


def _import(package: str, name: str):
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise MissingPotentialError(f"the interatomic potential {name!r} needs the Python package {package!r}, "
                                    f"which is not installed ({err}); install it: {INSTALL_HINT}") from None


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise MissingPotentialError(f"the Python package {package!r} is not installed; install it: "
                                    f"{INSTALL_HINT}") from None
