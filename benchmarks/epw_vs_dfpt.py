#!/usr/bin/env python
"""λ of fcc Al from the DFPT-interpolated route and from EPW, on the same ph.x run (matched coarse settings).

    .venv/bin/python benchmarks/epw_vs_dfpt.py [--kgrid 8] [--qgrid 4] [--dense 24] [--fine-q 8]
                                               [--mpi-command "mpirun -np 2"] [--npool 2] [--workdir DIR]

One ph.x run (`electron_phonon='interpolated'` with `fildvscf`) feeds both routes:
  DFPT: pw.x la2F scf on the dense grid → ph.x → q2r.x/matdyn.x la2F (DOS mesh 20³) → matdyn's λ per smearing,
        and the plain weighted sum of ph.x's λ_qν over the coarse q-grid (no q interpolation);
  EPW:  save/ → nscf (full coarse grid) → epw.x with `Al:s;p;d` Wannier functions, fine k-grid = the dense
        grid, fine q-grid `--fine-q` (irreducible wedge), and again with fine q = the coarse q-grid.
Same Gaussian smearings 0.005…0.050 Ry on both sides. Prints λ per smearing, N(E_F) and wall times.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers

from betenet.parsers.matdyn import parse_matdyn_lambda  # noqa: E402
from betenet.qe.epw import full_grid_crystal  # noqa: E402
from betenet.qe.matdyn import write_matdyn_input  # noqa: E402
from betenet.qe.ph import ph_parameters, write_ph_input  # noqa: E402
from betenet.qe.pseudo import PseudoFamily  # noqa: E402
from betenet.qe.pw import pw_parameters, write_pw_input  # noqa: E402
from betenet.qe.q2r import write_q2r_input  # noqa: E402
from betenet.qe.runner import run_program  # noqa: E402
from betenet.settings import override_settings  # noqa: E402
from betenet.workflows.epw_makers import EpwMaker  # noqa: E402
from betenet.workflows.epw_presets import RY_TO_EV  # noqa: E402
from betenet.workflows.epw_save import collect_save  # noqa: E402
from tests.al_chain import al_structure, star_weighted_lambda  # noqa: E402

SIGMA_RY, NSIGMA = 0.005, 10
COMMON = {
    "system": {"ecutwfc": 15.0, "occupations": "smearing", "smearing": "mv", "degauss": 0.05},
    "electrons": {"conv_thr": 1e-10},
}


def timed(step: str, timings: dict, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    timings[step] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--kgrid", type=int, default=8, help="coarse k (scf, ph.x, nscf, EPW)")
    parser.add_argument("--qgrid", type=int, default=4, help="coarse q (ph.x, EPW)")
    parser.add_argument("--dense", type=int, default=24, help="DFPT la2F grid = EPW fine k-grid")
    parser.add_argument("--fine-q", type=int, default=8, help="EPW fine q-grid")
    parser.add_argument("--mpi-command", default="mpirun -np 2")
    parser.add_argument("--npool", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="betenet-epw-vs-dfpt-"))
    work.mkdir(parents=True, exist_ok=True)
    structure = al_structure()
    pseudos = PseudoFamily("/usr/share/espresso/pseudo", filenames={"Al": "Al.pz-vbc.UPF"})
    k, q, dense = (args.kgrid,) * 3, (args.qgrid,) * 3, (args.dense,) * 3
    timings: dict[str, float] = {}

    with override_settings(mpi_command=args.mpi_command, npool=args.npool):
        dfpt = work / "dfpt"
        dfpt.mkdir(exist_ok=True)
        la2f = pw_parameters("scf", COMMON, {"system": {"la2F": True}})
        timed("pw.x scf la2F (dense)", timings, run_program, "pw",
              write_pw_input(structure, la2f, pseudos=pseudos, kpoints=dense), dfpt, label="scf_dense")
        timed("pw.x scf (coarse)", timings, run_program, "pw",
              write_pw_input(structure, pw_parameters("scf", COMMON), pseudos=pseudos, kpoints=k), dfpt, label="scf")
        ph = ph_parameters("elph", {"el_ph_sigma": SIGMA_RY, "el_ph_nsigma": NSIGMA})
        timed("ph.x el-ph + dvscf", timings, run_program, "ph", write_ph_input(ph, qgrid=q), dfpt, label="ph")
        timed("q2r.x la2F", timings, run_program, "q2r", write_q2r_input({"la2F": True}), dfpt)
        timed("matdyn.x la2F", timings, run_program, "matdyn",
              write_matdyn_input({"la2F": True, "ndos": 200}, dos_grid=(20, 20, 20)), dfpt)
        dfpt_lambda = {round(r.sigma_ry, 4): r for r in parse_matdyn_lambda(dfpt / "lambda")}
        coarse_q_lambda = star_weighted_lambda(dfpt / "ph.out")  # λ without q interpolation

        epw_root = work / "epw"
        epw_root.mkdir(exist_ok=True)
        collect_save([dfpt], epw_root, prefix="betenet", ph_label="ph")
        (epw_root / "out").mkdir(exist_ok=True)
        for item in (dfpt / "out").glob("*.save"):
            shutil.copytree(item, epw_root / "out" / item.name, dirs_exist_ok=True)
        nscf = pw_parameters("nscf", COMMON, {"system": {"nbnd": 10, "nosym": None, "noinv": None}})
        timed("pw.x nscf (full coarse grid)", timings, run_program, "pw",
              write_pw_input(structure, nscf, pseudos=pseudos, kpoints=full_grid_crystal(k)), epw_root, label="pw")
        fermi = float(run_fermi(epw_root / "pw.out"))
        runs = {}
        for label, fine_q in (("fine", args.fine_q), ("coarse-q", args.qgrid)):
            folder = epw_root if label == "fine" else work / "epw_coarse_q"
            maker = epw_maker(k, q, dense, (fine_q,) * 3)
            if label != "fine":
                restart_folder(epw_root, folder)
            params = maker.namelist(fermi, restart=label != "fine")
            result = timed(f"epw.x ({label}: fine q {fine_q}³{', epwread' if label != 'fine' else ''})",
                           timings, run_program, "epw", maker.write_inputs(folder, structure, params), folder,
                           label="epw")
            runs[label] = maker.task_doc(folder, fermi, result.wall_time_s, params)

    print(f"fcc Al, coarse k {args.kgrid}³, q {args.qgrid}³; DFPT dense k = EPW fine k = {args.dense}³; "
          f"EPW fine q {args.fine_q}³ (irreducible wedge)")
    print("| smearing (Ry) | DFPT matdyn λ | EPW λ (fine q) | EPW/DFPT | DFPT Σ_q λ_q (coarse q) | EPW λ (coarse q) |"
          " N(E_F) DFPT | N(E_F) EPW |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i in range(NSIGMA):
        sigma = round(SIGMA_RY * (i + 1), 4)
        d = dfpt_lambda[sigma]
        e, ec = runs["fine"].epw_lambda[i].lambda_, runs["coarse-q"].epw_lambda[i].lambda_
        nf_dfpt = d.dos_ef_states_per_spin_ry / (RY_TO_EV)
        print(f"| {sigma:.3f} | {d.lambda_:.4f} | {e:.4f} | {e / d.lambda_:.3f} | {coarse_q_lambda[i]:.4f} | "
              f"{ec:.4f} | {nf_dfpt:.4f} | {runs['fine'].dos_states_per_spin_eV[i]:.4f} |")
    print("\n| step | wall s |\n| --- | ---: |")
    for label, seconds in timings.items():
        print(f"| {label} | {seconds:.1f} |")
    print(f"\nruns kept in {work}")
    return 0


def run_fermi(pw_out: Path) -> float:
    from betenet.parsers.pw import parse_pw_output

    return parse_pw_output(pw_out).fermi_energy_ev


def epw_maker(k, q, fine_k, fine_q) -> EpwMaker:
    smearing_eV = round(SIGMA_RY * RY_TO_EV, 8)
    return EpwMaker(
        parameters={"degaussw": smearing_eV, "delta_smear": smearing_eV, "nsmear": NSIGMA,
                    "fsthick": round(4 * NSIGMA * smearing_eV, 6)},
        coarse_kgrid=k, coarse_qgrid=q, fine_kgrid=fine_k, fine_qgrid=fine_q, projections=("Al:s;p;d",),
        n_wannier=9, el_ph_sigma_Ry=SIGMA_RY,
    )


def restart_folder(source: Path, dest: Path) -> None:
    from betenet.workflows.epw_makers import RESTART_FILES

    dest.mkdir(exist_ok=True)
    shutil.copytree(source / "out", dest / "out", dirs_exist_ok=True)
    for pattern in RESTART_FILES:
        for path in source.glob(pattern):
            shutil.copyfile(path, dest / path.relative_to(source))


if __name__ == "__main__":
    raise SystemExit(main())
