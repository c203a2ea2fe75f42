"""ElectronPhononDoc: metadata, validation, identity (no store, no QE)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from betenet.store.documents import (
    A2FData,
    CalculationParameters,
    ElectronPhononDoc,
    PhononDosData,
    calc_identity,
    structure_fingerprint,
)


def fcc_al(a: float = 4.05) -> Structure:
    return Structure(Lattice(a / 2 * np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]])), ["Al"], [[0, 0, 0]])


def rocksalt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def params(**kw) -> CalculationParameters:
    base = dict(
        preset="test", ecutwfc_Ry=15.0, ecutrho_Ry=60.0, smearing="mv", degauss_Ry=0.05,
        kgrid_scf=(4, 4, 4), qgrid_coarse=(2, 2, 2), mu_star=0.1, stability_threshold_meV=0.5,
    )
    return CalculationParameters(**{**base, **kw})


def a2f_data(smearing_Ry: float = 0.02) -> A2FData:
    return A2FData(
        smearing_Ry=smearing_Ry, smearing_index=1, omega_meV=[1.0, 2.0], a2f=[0.1, 0.2],
        lambda_=0.4, omega_log_K=300.0, omega_2_K=320.0, tc_K=1.0, mu_star=0.1,
    )


def test_structure_metadata_is_filled_like_emmet():
    doc = ElectronPhononDoc.from_structure(
        rocksalt().get_primitive_structure(), calc_id="x", method="dfpt", status="failed",
        status_reason="scf did not converge", parameters=params(),
    )
    assert doc.formula_pretty == "MgO"
    assert doc.chemsys == "Mg-O"
    assert doc.nelements == 2 and doc.nsites == 2
    assert doc.symmetry.number == 225
    stored = doc.to_store()
    assert stored["elements"] == ["Mg", "O"]
    assert stored["structure"]["@class"] == "Structure"


def test_status_rules():
    base = dict(calc_id="x", method="dfpt", parameters=params())
    with pytest.raises(ValidationError, match="needs a status_reason"):
        ElectronPhononDoc.from_structure(fcc_al(), status="failed", **base)
    with pytest.raises(ValidationError, match="chosen α²F"):
        ElectronPhononDoc.from_structure(fcc_al(), status="ok", **base)
    with pytest.raises(ValidationError, match="unstable material has no α²F"):
        ElectronPhononDoc.from_structure(
            fcc_al(), status="unstable", status_reason="imaginary", a2f_all=[a2f_data()], **base
        )
    with pytest.raises(ValidationError, match="method"):
        ElectronPhononDoc.from_structure(fcc_al(), status="failed", status_reason="r", **{**base, "method": "x"})


def test_phonon_dos_shapes_are_checked():
    with pytest.raises(ValidationError, match="site Al1 has 1 points"):
        PhononDosData(
            omega_meV=[0.0, 1.0], total_states_per_meV=[0.0, 1.0], projected_states_per_meV=[[1.0]],
            site_labels=["Al1"], qgrid=(2, 2, 2),
        )


def test_timestamps_are_not_frozen_at_import():
    base = dict(calc_id="x", method="dfpt", parameters=params(), status="failed", status_reason="r")
    first = ElectronPhononDoc.from_structure(fcc_al(), **base)
    second = ElectronPhononDoc.from_structure(fcc_al(), **base)
    assert second.created_at >= first.created_at
    assert first.created_at.tzinfo is not None


def test_identity_ignores_cell_choice_and_site_order_but_not_physics():
    prim = rocksalt().get_primitive_structure()
    shuffled = Structure(prim.lattice, list(reversed(prim.species)), list(reversed(prim.frac_coords)))
    assert structure_fingerprint(prim) == structure_fingerprint(shuffled)
    assert structure_fingerprint(fcc_al()) != structure_fingerprint(fcc_al(4.10))
    physics = {"kgrid": [4, 4, 4], "ecutwfc_Ry": 15}
    assert calc_identity(prim, "dfpt", physics) == calc_identity(shuffled, "dfpt", dict(physics))
    assert calc_identity(prim, "dfpt", physics) != calc_identity(prim, "epw", physics)
    assert calc_identity(prim, "dfpt", physics) != calc_identity(prim, "dfpt", {**physics, "ecutwfc_Ry": 20})
