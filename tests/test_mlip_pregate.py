"""The optional MLIP pre-gate: a structure the potential finds grossly unstable is stored 'skipped' with
the potential's numbers and no QE runs (not marked `qe`: the marker guard fails this module if any QE
program starts); a structure it finds stable goes on to the DFT unchanged; the pre-gate is no part of the
document's identity, so a later DFT run replaces the 'skipped' document."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from betenet.phonons.potentials import MissingPotentialError
from betenet.settings import override_settings
from betenet.store.stores import get_store, load_document
from betenet.workflows.flows import ElectronPhononMaker, mlip_pregate
from betenet.workflows.local import run_structure
from betenet.workflows.pregate import pregate_finding


def simple_cubic_al() -> Structure:
    return Structure(Lattice.cubic(2.70), ["Al"], [[0, 0, 0]])  # ≈ fcc Al's volume per atom, not its packing


def fcc_al() -> Structure:
    return Structure(Lattice.cubic(4.04), ["Al"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def test_a_grossly_unstable_structure_is_stored_skipped_and_runs_no_qe(tmp_path):
    maker = ElectronPhononMaker.from_preset("test", mlip_pregate="sevennet-0")
    with override_settings(home=tmp_path):
        doc = run_structure(simple_cubic_al(), maker)
        stored = load_document(doc.calc_id, get_store())
    assert doc.status == "skipped" and stored.status == "skipped"
    found = doc.mlip_pregate
    assert found.potential == "sevennet-0" and found.potential_version.startswith("sevenn ")
    assert found.lowest_frequency_meV < -found.threshold_meV == -15.0
    assert found.supercell == (4, 4, 4) and found.mesh == (16, 16, 16) and found.wall_s > 0
    # sc Al softens at the zone boundary (M point, a shear of the cube), not near Γ
    assert np.sort(np.abs(found.q_crystal)).tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert "MLIP pre-gate" in doc.status_reason and f"{found.lowest_frequency_meV:.1f} meV" in doc.status_reason
    assert doc.stability is None and doc.a2f is None and doc.phonon_dos_coarse is None  # never a DFT verdict
    assert doc.provenance.run_dirs == {} and doc.provenance.wall_times_s == {}  # no QE task ran
    # the same material and settings without the pre-gate: one calc_id, so its DFT document replaces this one
    assert ElectronPhononMaker.from_preset("test").identity(simple_cubic_al())[0] == doc.calc_id


def test_a_structure_the_potential_finds_stable_goes_on_to_the_dft(tmp_path):
    maker = ElectronPhononMaker.from_preset("test", mlip_pregate="sevennet-0")
    flow = maker.make(fcc_al())
    assert [j.name for j in flow.jobs] == ["mlip_pregate"]  # nothing but the pre-gate exists yet
    structure = fcc_al().get_primitive_structure()
    calc_id, pseudos = maker.identity(structure)
    with override_settings(home=tmp_path):
        response = mlip_pregate.original(maker, structure, structure, calc_id, [p.model_dump() for p in pseudos])
        again = pregate_finding(structure, "sevennet-0", 15.0)
    assert response.output.lowest_frequency_meV > -1.0  # SevenNet-0 finds fcc Al stable (Γ only)
    replaced = [j.name for j in response.replace.jobs]
    assert replaced[:4] == ["scf", "ph coarse", "q2r coarse", "matdyn coarse"] and replaced[-1] == "stability_gate"
    assert again == response.output  # read back from the cache (the same wall time, not a second run)


def test_the_pre_gate_without_the_potential_package_fails_before_any_job(monkeypatch):
    monkeypatch.setitem(sys.modules, "sevenn", None)
    with pytest.raises(MissingPotentialError, match=r"pip install 'betenet\[mlip\]'"):
        ElectronPhononMaker.from_preset("test", mlip_pregate="sevennet-0").make(simple_cubic_al())
