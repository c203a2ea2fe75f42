"""The isotropic Eliashberg Tc wired through: documents (both routes) → dataset → predictions → screen.

No QE: the DFPT spectra are QE's own `ph_metal` a2F.dosN files read by the matdyn maker, the EPW document is
rebuilt from the recorded one (tests/test_document_routes.py), the campaign's Al supplies a spectrum the
solver refuses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from betenet.eliashberg import LOWEST_TEMPERATURE_K
from betenet.store.documents import EliashbergData, ElectronPhononDoc
from betenet.store.transfer import read_documents
from betenet.workflows.makers import MatdynMaker, a2f_data
from tests.conftest import FIXTURES

CAMPAIGN = FIXTURES / "campaign-fast" / "documents.json.gz"


@pytest.fixture(scope="module")
def campaign_al() -> ElectronPhononDoc:
    return next(d for d in read_documents(CAMPAIGN) if d.status == "ok" and d.formula_pretty == "Al")


# ---------------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------------


def test_the_dfpt_maker_stores_an_eliashberg_tc_beside_allen_dynes_for_every_smearing():
    """QE's ph_metal Al (λ 0.29–0.43 over σ = 0.005–0.050 Ry) through MatdynMaker's α²F reader."""
    spectra = MatdynMaker(el_ph_sigma_Ry=0.005)._a2f_batch(FIXTURES / "qe-6.7" / "al", batch=0)
    assert [s.smearing_index for s in spectra] == list(range(1, 11))
    for spectrum in spectra[3:]:  # from 0.020 Ry on: Allen–Dynes above 1 K
        e = spectrum.eliashberg
        assert e.mu_star == spectrum.mu_star == 0.10 and e.mu_star_c > e.mu_star
        assert e.omega_c_meV == pytest.approx(10 * e.omega_ref_meV) and 0 <= e.negative_fraction < 0.1
        # weak coupling: within 20 % of Allen–Dynes (the stored Al's 0.020 Ry spectrum: +16 %, RESULTS.md)
        assert e.tc_K == pytest.approx(spectrum.tc_K, rel=0.2), spectrum.smearing_Ry
        assert e.below_K is None and e.reason is None
    assert spectra[3].eliashberg.tc_K == pytest.approx(1.289, rel=1e-3)  # benchmarks/RESULTS.md, a2F.dos4


def test_a_refused_spectrum_is_stored_as_none_with_the_reason(campaign_al):
    """The campaign's Al at 0.002 Ry dips below zero by more than 10 % of λ: no number, the solver's words."""
    smallest = min(campaign_al.a2f_all, key=lambda a: a.smearing_Ry)
    spectrum = a2f_data(smallest.omega_meV, smallest.a2f, smallest.smearing_index, 0.002, 0.10)
    e = spectrum.eliashberg
    assert spectrum.tc_K == smallest.tc_K and e.tc_K is None and e.below_K is None
    assert e.reason.startswith("refused: α²F has negative weight") and "above the tolerated 10%" in e.reason
    assert e.mu_star == 0.10 and e.mu_star_c is None and e.omega_c_meV is None
    # below the lowest temperature solved: None, the temperature it lies below, the reason
    au_like = a2f_data(smallest.omega_meV, 0.3 * np.clip(smallest.a2f, 0, None), 1, 0.002, 0.10).eliashberg
    assert au_like.tc_K is None and au_like.below_K == LOWEST_TEMPERATURE_K and "lowest temperature" in au_like.reason
    with pytest.raises(ValueError, match="needs the reason"):
        EliashbergData(tc_K=None, mu_star=0.1)


def test_the_document_carries_the_chosen_spectrum_s_eliashberg_tc():
    """The EPW route's task output rebuilt through the route's α²F code (`a2f_data`) → `build_document`."""
    from tests.test_document_routes import build, recorded_epw

    doc, epw, tasks = recorded_epw()
    sigma = doc.parameters.el_ph_sigma_Ry
    epw = epw.model_copy(update={"a2f_all": [a2f_data(a.omega_meV, a.a2f, a.smearing_index, sigma, a.mu_star)
                                             for a in epw.a2f_all]})
    again = build(doc, epw, tasks)
    assert again.status == "ok" and again.document_version == 2
    assert again.tc_eliashberg_K is not None and again.tc_eliashberg_K == again.a2f.eliashberg.tc_K
    assert again.tc_eliashberg_K == pytest.approx(again.tc_K, rel=0.25)
    # stored and read back: the typed block survives the store's JSON
    assert ElectronPhononDoc.model_validate(again.to_store()).a2f.eliashberg == again.a2f.eliashberg


def test_documents_of_version_1_load_without_an_eliashberg_tc(campaign_al):
    assert campaign_al.document_version == 2  # migrated on reading
    assert campaign_al.tc_eliashberg_K is None and campaign_al.a2f.eliashberg is None
    assert all(a.eliashberg is None for a in campaign_al.a2f_all)
