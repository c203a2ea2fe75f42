"""betenet.workflows: jobflow Makers and Flows for Quantum ESPRESSO electron-phonon calculations.

    from betenet.workflows import ElectronPhononMaker, run_structure
    flow = ElectronPhononMaker.from_preset("test", q_split=2).make(structure)   # jobflow Flow
    doc = run_structure(structure, ElectronPhononMaker.from_preset("test"))    # run here + store
"""

from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure
from betenet.workflows.makers import LambdaMaker, MatdynMaker, PhMaker, PwMaker, Q2rMaker
from betenet.workflows.powerups import update_qe_makers
from betenet.workflows.presets import ElectronPhononSettings, InvalidOptionError, resolve_settings

__all__ = [
    "ElectronPhononMaker",
    "ElectronPhononSettings",
    "InvalidOptionError",
    "LambdaMaker",
    "MatdynMaker",
    "PhMaker",
    "PwMaker",
    "Q2rMaker",
    "resolve_settings",
    "run_structure",
    "update_qe_makers",
]
