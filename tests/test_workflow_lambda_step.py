"""LambdaMaker: lambda.x as a workflow step — on the recorded fcc-Al el-ph run of fixtures/qe-6.7/al
(ph.x stdout + elph_dir), in the real workflow on QE's own `ph_metal` reference case, and the cases where
lambda.x must not run."""

from __future__ import annotations

import shutil

import pytest

from betenet.parsers.lambda_x import parse_lambda_output
from betenet.parsers.ph import parse_ph_output
from betenet.qe.lambda_x import beyond_limits, zero_gamma_acoustic_modes
from betenet.settings import override_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure
from betenet.workflows.makers import LambdaMaker, _why_lambda_x_cannot_run
from betenet.workflows.outputs import QETaskDoc
from tests.conftest import FIXTURES, require_qe
from tests.test_workflow_handlers import fcc_al, run_job

AL = FIXTURES / "qe-6.7" / "al"
PARALLEL = {"mpi_command": "mpirun -np 2", "npool": 2} if shutil.which("mpirun") else {}
# QE test-suite ph_metal (fcc Al, a = 7.5 bohr, ecutwfc 15 Ry, MV 0.05 Ry, k 8³ / la2F 16³, q 4³):
# lambda.x's λ for σ = 0.005 … 0.050 Ry (DESIGN.md, "Trustworthy labels")
PH_METAL_LAMBDA = [0.292209, 0.434897, 0.426162, 0.397723, 0.376434, 0.366955, 0.366119, 0.370428, 0.376898,
                   0.383794]


def recorded_ph_run(folder):
    """A ph.x run folder as the workflow leaves it (ph.out + elph_dir/), from the recorded Al chain."""
    shutil.copytree(AL / "elph_dir", folder / "elph_dir")
    shutil.copyfile(AL / "elph.out", folder / "ph.out")
    return folder


@pytest.mark.qe
def test_lambda_step_reproduces_the_recorded_lambda_x_run(tmp_path):
    require_qe("lambda.x")
    ph_dir = recorded_ph_run(tmp_path / "ph")
    task = QETaskDoc.model_validate(run_job(LambdaMaker(mu_star=0.10).make([str(ph_dir)], fcc_al()), tmp_path / "run"))
    recorded = parse_lambda_output(AL / "lambda.out")
    assert task.program == "lambda" and task.n_qpoints == 3 and task.qgrid == (2, 2, 2)
    assert [r.smearing_Ry for r in task.qe_lambda] == pytest.approx([r.sigma_ry for r in recorded.rows])
    # the q-sum does not depend on lambda.x's α²F axis (emax from ph.x's top frequency here, 12 THz there)
    assert [r.lambda_ for r in task.qe_lambda] == [r.lambda_ for r in recorded.rows]
    for row, old in zip(task.qe_lambda, recorded.rows):
        assert row.omega_log_K == pytest.approx(old.omega_log_K, rel=0.01)
        assert row.tc_mcmillan_K == pytest.approx(old.tc_K, abs=2e-3)
    # the input went through the registry's writer: star sizes 1 (Γ), 4 (L), 3 (X) as weights
    (written,) = (tmp_path / "run").rglob("lambda.in")
    text = written.read_text().splitlines()
    assert [float(line.split()[3]) for line in text[2:5]] == [1.0, 4.0, 3.0]
    assert 9.0 < task.parameters["emax_THz"] / 1.25 < 10.5  # Al's top phonon ≈ 9.7 THz


def _gamma_residual_made_imaginary(ph_dir):
    """The recorded Al run as if ph.x had printed its Γ acoustic residual imaginary (fcc Al at preset validation
    did: ω² < 0 at Γ, the q-sum was lost)."""
    out = ph_dir / "ph.out"
    out.write_text(out.read_text().replace("freq (    1) =       0.174467", "freq (    1) =      -0.174467", 1))
    elph = ph_dir / "elph_dir" / "elph.inp_lambda.1"
    lines = elph.read_text().splitlines()
    lines[1] = lines[1].replace(" 0.", "-0.", 1)
    elph.write_text("\n".join(lines) + "\n")
    return ph_dir


@pytest.mark.qe
def test_an_imaginary_gamma_residual_keeps_the_q_sum(tmp_path):
    require_qe("lambda.x")
    ph_dir = _gamma_residual_made_imaginary(recorded_ph_run(tmp_path / "ph"))
    assert float((ph_dir / "elph_dir" / "elph.inp_lambda.1").read_text().split()[5]) < 0
    assert _why_lambda_x_cannot_run(parse_ph_output(ph_dir / "ph.out"), list(parse_ph_output(
        ph_dir / "ph.out").q_points), n_modes=3) is None
    task = QETaskDoc.model_validate(run_job(LambdaMaker(mu_star=0.10).make([str(ph_dir)], fcc_al()), tmp_path / "run"))
    recorded = parse_lambda_output(AL / "lambda.out")
    # Γ's acoustic modes carry no coupling either way: the same λ, and a finite ω_log (NaN from √ω² < 0 before)
    assert [r.lambda_ for r in task.qe_lambda] == [r.lambda_ for r in recorded.rows]
    for row, old in zip(task.qe_lambda, recorded.rows):
        assert row.omega_log_K == pytest.approx(old.omega_log_K, rel=0.01)
    assert (ph_dir / "elph_dir" / "elph.inp_lambda.1").read_text().split()[5].startswith("-")  # ph.x's left alone


def test_only_gamma_s_acoustic_modes_are_zeroed(tmp_path):
    for index in (1, 2):
        shutil.copyfile(AL / "elph_dir" / f"elph.inp_lambda.{index}", tmp_path / f"q{index}")
    assert zero_gamma_acoustic_modes(tmp_path / "q2") is False  # L: not Γ, untouched
    assert (tmp_path / "q2").read_bytes() == (AL / "elph_dir" / "elph.inp_lambda.2").read_bytes()
    assert zero_gamma_acoustic_modes(tmp_path / "q1") is True
    text = (tmp_path / "q1").read_text().splitlines()
    assert [float(x) for x in text[1].split()] == [0.0, 0.0, 0.0]
    original = (AL / "elph_dir" / "elph.inp_lambda.1").read_text().splitlines()
    assert len(text) == len(original) and text[2:4] == original[2:4]  # smearing and DOS lines kept
    lambdas = [line for line in text if "lambda(" in line]
    assert len(lambdas) == 30 and all("=  0.0000   gamma=    0.00 GHz" in line for line in lambdas)


def test_imaginary_modes_and_array_limits_keep_lambda_x_from_running():
    al = parse_ph_output(AL / "elph.out")
    assert _why_lambda_x_cannot_run(al, list(al.q_points), n_modes=3) is None
    unstable = parse_ph_output(FIXTURES / "broken" / "ph_unstable_sc_al.out")
    reason = _why_lambda_x_cannot_run(unstable, list(unstable.q_points), n_modes=3)
    assert reason.startswith("ph.x printed an imaginary frequency (-") and reason.endswith(" meV)")
    assert beyond_limits(200, 100, 50) is None
    assert beyond_limits(201, 102, 50) == ("beyond lambda.x's fixed array sizes: 201 irreducible q-points "
                                           "(at most 200), 102 phonon modes (at most 100)")


@pytest.mark.qe
def test_workflow_reproduces_qe_ph_metal_lambdas(tmp_path):
    """The test preset is ph_metal's physics; with its q 4³ grid and convergence thresholds the workflow's
    lambda.x q-sum is QE's reference (measured: within 0.084 %, 34 s on 2 ranks)."""
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "lambda.x")
    maker = ElectronPhononMaker.from_preset("test", qgrid_elph=(4, 4, 4), conv_thr_Ry=1e-8, tr2_ph=1e-10)
    with override_settings(home=tmp_path, **PARALLEL):
        doc = run_structure(fcc_al(), maker)
    assert doc.status == "ok", doc.status_reason
    assert [r.smearing_Ry for r in doc.lambda_qsum] == pytest.approx([0.005 * i for i in range(1, 11)])
    assert [r.lambda_ for r in doc.lambda_qsum] == pytest.approx(PH_METAL_LAMBDA, rel=1e-3)
