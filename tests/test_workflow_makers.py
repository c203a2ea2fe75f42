"""Makers, presets and powerups without running QE: what the Flow looks like before it runs."""

from __future__ import annotations

import pytest
from jobflow import Flow
from pymatgen.core import Lattice, Structure

from betenet.qe.pseudo import MissingPseudoError
from betenet.workflows.flows import ElectronPhononMaker, _chunks
from betenet.workflows.makers import PhMaker, PwMaker, choose_kgrid
from betenet.workflows.powerups import update_qe_makers
from betenet.workflows.presets import PRESETS, InvalidOptionError, resolve_settings
from tests.test_workflow_handlers import fcc_al


def test_presets_resolve_and_production_is_seed_like():
    production = resolve_settings("production")
    assert (production.k_density_invA, production.q_density_invA) == (40.0, 15.0)
    assert (production.el_ph_sigma_Ry, production.el_ph_nsigma, production.chosen_smearing_Ry) == (0.001, 30, 0.020)
    assert production.chosen_smearing_index == 20
    for name in PRESETS:
        assert resolve_settings(name).preset == name
    assert resolve_settings("test", {"mu_star": 0.13}).mu_star == 0.13  # every field overridable


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"el_ph_nsigma": 25}, "multiple of 10"),
        ({"ecutwfc_Ry": 30.0, "ecutrho_Ry": 60.0}, "ecutrho_Ry=60.0 < 4·ecutwfc_Ry"),
        ({"kgrid_elph": (15, 15, 15)}, "multiple of qgrid_elph"),
        ({"q_split": 0}, "q_split"),
        ({"method": "epw"}, "EPW workflow"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_options_fail_before_any_job(overrides, message):
    with pytest.raises(InvalidOptionError, match=message):
        ElectronPhononMaker.from_preset("test", **overrides)


def test_missing_pseudo_fails_in_make():
    nb = Structure(Lattice.cubic(3.3), ["Nb", "Nb"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(MissingPseudoError, match="Nb"):
        ElectronPhononMaker.from_preset("test").make(nb)


def test_flow_shape_and_round_trip():
    flow = ElectronPhononMaker.from_preset("test").make(fcc_al())
    assert [job.name for job in flow.jobs] == ["scf", "ph coarse", "q2r coarse", "matdyn coarse", "stability_gate"]
    relaxed = ElectronPhononMaker.from_preset("test", relax=True).make(fcc_al())
    assert relaxed.jobs[0].name == "vc-relax"
    again = Flow.from_dict(flow.as_dict())  # what FireWorks / jobflow-remote store and reload
    assert [job.uuid for job in again.jobs] == [job.uuid for job in flow.jobs]


def test_powerup_reaches_jobs_made_later():
    flow = ElectronPhononMaker.from_preset("test").make(fcc_al())
    update_qe_makers(flow, PhMaker, max_errors=9, walltime_s=3600.0)
    assert next(j for j in flow.jobs if j.name == "ph coarse").maker.max_errors == 9
    gate_maker = flow.jobs[-1].function_args[0]
    later = gate_maker.makers(fcc_al())["ph_elph"]  # what the stability gate will build
    assert (later.max_errors, later.walltime_s) == (9, 3600.0)
    assert gate_maker.makers(fcc_al())["scf"].max_errors == 5  # other Makers untouched
    with pytest.raises(ValueError, match="no field"):
        update_qe_makers(flow, PwMaker, qgrid=(1, 1, 1))


def test_grids_and_q_chunks():
    assert choose_kgrid(fcc_al(), (8, 8, 8), None) == (8, 8, 8)
    assert choose_kgrid(fcc_al(), (7, 7, 7), None, multiple_of=(2, 2, 2)) == (8, 8, 8)
    assert _chunks(2, 3) == [(1, 1), (2, 2)]
    assert _chunks(7, 3) == [(1, 2), (3, 5), (6, 7)]
    assert _chunks(0, 2) == []


def test_one_identity_per_crystal_whatever_the_cell():
    from pymatgen.transformations.standard_transformations import RotationTransformation

    maker = ElectronPhononMaker.from_preset("test")
    primitive = fcc_al()
    conventional = Structure.from_spacegroup("Fm-3m", Lattice.cubic(primitive.lattice.a * 2**0.5), ["Al"], [[0, 0, 0]])
    rotated = RotationTransformation([1, 1, 0], 33).apply_transformation(primitive)
    ids = {maker.identity(s)[0] for s in (primitive, conventional, rotated)}
    assert len(ids) == 1
    assert maker.identity(primitive)[0] != maker.with_options(ecutwfc_Ry=20.0, ecutrho_Ry=80.0).identity(primitive)[0]
