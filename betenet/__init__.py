"""betenet: electron-phonon superconductors from Quantum ESPRESSO data to the BETE-NET model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("betenet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
