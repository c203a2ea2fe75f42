"""EPW flow options: presets, validation before any Job exists, and the inputs the Makers derive from them."""

from __future__ import annotations

import re

import pytest

from betenet.settings import override_settings
from betenet.workflows.epw import EpwElectronPhononMaker
from betenet.workflows.epw_presets import InvalidOptionError, resolve_epw_settings
from betenet.workflows.flows import ElectronPhononMaker
from tests.test_workflow_handlers import fcc_al

FERMI_EV = 8.33


@pytest.fixture(autouse=True)
def debian_pseudos():
    with override_settings(pseudo_dir="/usr/share/espresso/pseudo"):
        yield


def epw_variables(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+) = (.+)$", text, re.MULTILINE))


def test_test_preset_matches_the_documented_al_settings():
    s = resolve_epw_settings("test")
    assert s.method == "epw" and (s.kgrid_scf, s.qgrid_elph, s.kgrid_elph, s.fine_qgrid) == (
        (6, 6, 6), (3, 3, 3), (12, 12, 12), (6, 6, 6))
    assert s.chosen_smearing_index == 4 and s.chosen_phonon_smearing_index == 10
    assert s.smearings_eV()[3] == pytest.approx(0.020 * 13.605693)
    assert s.fermi_window_eV() == pytest.approx(4 * 0.050 * 13.605693)
    assert s.projection_lines(["Al"]) == ["Al:s;p;d"] and s.wannier_count(1) == 9 and s.nscf_bands(1) == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chosen_smearing_Ry": 0.0123}, "not one of the el-ph smearings"),
        ({"chosen_phonon_smearing_meV": 0.33}, "not one of EPW's 10 phonon smearings"),
        ({"projections": ("Al:sp3",)}, "n_wannier is required"),
        ({"projections": ("Al:sp3",), "n_wannier": 4, "scdm": True}, "not both"),
        ({"n_wannier": 9, "nbnd_nscf": 8}, "nbnd_nscf=8 < n_wannier=9"),
        ({"kgrid_scf": (8, 8, 8)}, "must be a multiple of qgrid_elph"),
        ({"q_split": 2}, "runs its ph.x in one Job"),
        ({"fine_qgrid": (0, 6, 6)}, "three positive integers"),
        ({"no_such_option": 1}, "no_such_option"),
        ({"method": "dfpt"}, "Invalid method='dfpt' for the EPW flow"),
    ],
)
def test_bad_options_fail_before_any_job_with_the_option_named(overrides, message):
    with pytest.raises(InvalidOptionError, match=message):
        EpwElectronPhononMaker.from_preset("test", **overrides)


def test_unknown_preset_and_the_dfpt_maker_refusing_epw():
    with pytest.raises(InvalidOptionError, match="Invalid preset='huge'"):
        resolve_epw_settings("huge")
    with pytest.raises(InvalidOptionError, match="EPW workflow"):
        ElectronPhononMaker.from_preset("test", method="epw")


def test_with_options_returns_a_new_maker():
    maker = EpwElectronPhononMaker.from_preset("test")
    other = maker.with_options(fine_qgrid=(8, 8, 8))
    assert other.settings.fine_qgrid == (8, 8, 8) and maker.settings.fine_qgrid == (6, 6, 6)


def test_epw_input_from_the_test_preset(tmp_path):
    makers = EpwElectronPhononMaker.from_preset("test").makers(fcc_al())
    epw = makers["epw"]
    params = epw.namelist(FERMI_EV, restart=False)
    v = epw_variables(epw.write_inputs(tmp_path, fcc_al(), params))
    assert float(v["dis_froz_max"]) == pytest.approx(FERMI_EV + 3.0) and "dis_win_max" not in v
    assert (v["nbndsub"], v["nsmear"], v["proj(1)"]) == ("9", "10", "'Al:s;p;d'")
    assert float(v["degaussw"]) == pytest.approx(0.005 * 13.605693) == pytest.approx(float(v["delta_smear"]))
    assert float(v["fsthick"]) == pytest.approx(2.7211, rel=1e-4)
    assert (v["nk1"], v["nq1"], v["nkf1"], v["filqf"]) == ("6", "3", "12", "'fine_qpoints.txt'")
    assert (tmp_path / "fine_qpoints.txt").read_text().startswith("16 crystal\n")
    restart = epw_variables(epw.write_inputs(tmp_path, fcc_al(), epw.namelist(FERMI_EV, restart=True)))
    assert restart["epwread"] == ".true." and "proj(1)" not in restart
    # the nscf keeps pw.x's symmetry (EPW 5.3 crashes on a nosym nscf) and has the bands for 9 WFs
    nscf = makers["nscf"].namelists()
    assert nscf["control"]["calculation"] == "nscf" and nscf["system"]["nbnd"] == 10
    assert "nosym" not in nscf["system"] and "noinv" not in nscf["system"]
    assert makers["ph_epw"].parameters["fildvscf"] == "dvscf" and makers["ph_epw"].qgrid == (3, 3, 3)


def test_scdm_projections_are_placed_relative_to_the_fermi_energy(tmp_path):
    epw = EpwElectronPhononMaker.from_preset("test", scdm=True, n_wannier=9).makers(fcc_al())["epw"]
    v = epw_variables(epw.write_inputs(tmp_path, fcc_al(), epw.namelist(FERMI_EV, restart=False)))
    assert v["scdm_proj"] == ".true." and v["auto_projections"] == ".true." and v["scdm_entanglement"] == "'erfc'"
    assert float(v["scdm_mu"]) == pytest.approx(FERMI_EV + 10.0) and float(v["scdm_sigma"]) == 3.0
    assert "proj(1)" not in v


def test_epw_and_dfpt_documents_of_one_structure_have_different_identities():
    epw_id, _ = EpwElectronPhononMaker.from_preset("test").identity(fcc_al())
    dfpt_id, _ = ElectronPhononMaker.from_preset("test").identity(fcc_al())
    assert epw_id != dfpt_id and epw_id.split("-")[0] == dfpt_id.split("-")[0]  # same structure hash
