"""The two routes to λ agree on fcc Al: the DFPT route (ElectronPhononMaker) run here on the grids of the
EPW route's recorded run (fixtures/qe-6.7/epw/al/: EpwElectronPhononMaker preset 'test', real epw.x),
same pseudo, cutoffs and electronic smearings."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from betenet.parsers.epw import parse_epw_output
from betenet.parsers.ph import parse_ph_output
from betenet.settings import override_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.epw_presets import RY_TO_EV
from betenet.workflows.local import run_structure
from tests.conftest import FIXTURES, require_qe
from tests.test_workflow_handlers import fcc_al

pytestmark = pytest.mark.qe
EPW_RUN = FIXTURES / "qe-6.7" / "epw" / "al"
# Agreement expected where the 12³ k-grid (DFPT's dense grid = EPW's fine grid) resolves the smearing:
# N(E_F) needs one δ(ε−E_F) resolved, λ a double delta δ(ε_k)δ(ε_k+q), so λ needs a wider one. Measured
# (2026-12-01): N(E_F) within 0.75 % for σ ≥ 0.020 Ry (7 % apart at 0.010); λ within 1.7–6.2 % for σ ≥ 0.035
# Ry, but up to 28 % apart below (0.596 vs 0.467 at 0.020 Ry: both routes under-resolved, sampled differently).
DOS_SIGMA_RY, DOS_REL = 0.020, 0.01
# benchmarks/RESULTS.md (24³ grids): EPW's λ above DFPT's by 0.7–8.9 %, the DFPT λ itself moving 4–7 % with
# the acoustic sum rule of its interpolation; the routes fill in q differently (EPW: g on fine q, DFPT: γ by matdyn).
LAMBDA_SIGMA_RY, LAMBDA_REL = 0.035, 0.10
PARALLEL = {"mpi_command": "mpirun -np 2", "npool": 2} if shutil.which("mpirun") else {}


def _epw_grid(name: str) -> tuple[int, int, int]:
    """(n1, n2, n3) of epw.in's `<name>1..3` (nk: coarse k, nq: coarse q, nkf: fine k)."""
    text = (EPW_RUN / "epw.in").read_text()
    return tuple(int(re.search(rf"^\s*{name}{i}\s*=\s*(\d+)", text, re.M)[1]) for i in (1, 2, 3))


def _resolved(doc, min_sigma_Ry: float) -> np.ndarray:
    """Mask of the document's smearings ≥ min_sigma_Ry (never empty: an empty comparison proves nothing)."""
    mask = np.array([a.smearing_Ry for a in doc.a2f_all]) >= min_sigma_Ry
    assert mask.any(), f"no smearing ≥ {min_sigma_Ry} Ry in {[a.smearing_Ry for a in doc.a2f_all]}"
    return mask


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """(DFPT document, EPW output) for the same crystal and settings."""
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x")
    maker = ElectronPhononMaker.from_preset(
        "test", kgrid_scf=_epw_grid("nk"), qgrid_elph=_epw_grid("nq"), kgrid_elph=_epw_grid("nkf")
    )
    with override_settings(home=tmp_path_factory.mktemp("dfpt"), **PARALLEL):
        doc = run_structure(fcc_al(), maker)
    return doc, parse_epw_output(EPW_RUN / "epw.out")


def test_both_routes_use_the_same_electronic_smearings(routes):
    doc, epw = routes
    assert doc.status == "ok", doc.status_reason
    smearings_Ry = [s.smearing_eV / RY_TO_EV for s in epw.smearings]
    assert smearings_Ry == pytest.approx([a.smearing_Ry for a in doc.a2f_all], rel=1e-5)  # EPW prints 6 decimals


def test_same_dense_k_grid_gives_the_same_density_of_states_at_the_fermi_level(routes):
    doc, epw = routes
    ph = parse_ph_output(Path(doc.provenance.run_dirs["ph_elph"]) / "ph.out")
    dfpt_eV = np.array([block.dos_ef_states_per_spin_ry for block in ph.q_points[0].elph]) / RY_TO_EV
    epw_eV = np.array([s.dos_states_per_spin_eV for s in epw.smearings])
    resolved = _resolved(doc, DOS_SIGMA_RY)
    assert epw_eV[resolved] == pytest.approx(dfpt_eV[resolved], rel=DOS_REL)


def test_epw_lambda_agrees_with_the_dfpt_route(routes):
    doc, epw = routes
    dfpt = np.array([row.lambda_ for row in doc.qe_lambda])  # matdyn's λ from the interpolated γ_qν
    resolved = _resolved(doc, LAMBDA_SIGMA_RY)
    assert epw.lambda_per_smearing[resolved] == pytest.approx(dfpt[resolved], rel=LAMBDA_REL)
