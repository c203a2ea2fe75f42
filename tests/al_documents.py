"""Real electron-phonon documents for the dataset/model/screening tests.

- `workflow_documents`: the real Al workflow (ElectronPhononMaker, preset 'test', QE 6.7, serial) on
  fcc Al at a = 4.05 Å (λ ≈ 0.5) and 4.25 Å (softer, λ ≈ 1.1) and on simple-cubic Al at a = 5 bohr
  (dynamically unstable: a document with status 'unstable'); ≈ 50 s on one core.
- `fixture_document`: the recorded QE 6.7 fcc-Al chain of `fixtures/qe-6.7/al/` (a = 7.5 bohr,
  λ ≈ 0.39) through the workflow's own parsers, stability verdict and `build_document` — no QE run.

conftest.py computes them once per test session: the fixtures `documents` (all four) and
`documents_settings` (a fresh database holding them, on the embedded store and on the secantusdb server).
"""

from __future__ import annotations

from pathlib import Path

from ase.build import bulk
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from betenet.physics import BOHR_TO_ANGSTROM
from betenet.store.documents import ElectronPhononDoc

FIXTURE_AL = Path(__file__).resolve().parents[1] / "fixtures" / "qe-6.7" / "al"


# The quality flags the documents of these tests carry: on the 2³ test q-grid λ of the interpolated α²F is 18 %
# above lambda.x's direct q-sum, and on its 0.005 Ry smearing step λ(σ) moves by ~5 % per step at 0.020 Ry.
# Tests of the dataset mechanics keep them with this.
TEST_GRID_FLAGS = ("interpolation_mismatch", "smearing_sensitive")

def al_structures() -> dict[str, Structure]:
    return {
        "fcc-4.05": AseAtomsAdaptor.get_structure(bulk("Al", "fcc", a=4.05)),
        "fcc-4.25": AseAtomsAdaptor.get_structure(bulk("Al", "fcc", a=4.25)),
        "sc-5bohr": Structure(Lattice.cubic(5.0 * BOHR_TO_ANGSTROM), ["Al"], [[0, 0, 0]]),
    }


def workflow_documents(base: Path) -> list[ElectronPhononDoc]:
    """Documents of real Al workflow runs in `base`, sorted by volume."""
    from jobflow import run_locally

    from betenet.settings import override_settings
    from betenet.store.stores import get_job_store, get_store
    from betenet.workflows.flows import ElectronPhononMaker

    maker = ElectronPhononMaker.from_preset("test")
    with override_settings(home=base / "home", database="al_workflow", store_uri=None, mpi_command=""):
        for name, structure in al_structures().items():
            (base / "runs" / name).mkdir(parents=True)
            run_locally(maker.make(structure), store=get_job_store(), create_folders=True,
                        root_dir=str(base / "runs" / name), log=False)
        store = get_store()
        with store:
            raw = list(store.query({}))
    docs = []
    for obj in raw:
        obj.pop("_id", None)
        docs.append(ElectronPhononDoc.model_validate(obj))
    return sorted(docs, key=lambda d: d.volume)


def fixture_document() -> ElectronPhononDoc:
    """fcc Al from the recorded real QE outputs, assembled by the workflow's document code."""
    from ase.io import read

    from betenet.parsers.matdyn import parse_matdyn_dos
    from betenet.parsers.ph import parse_ph_output
    from betenet.parsers.pw import parse_pw_output
    from betenet.physics import CM1_TO_MEV
    from betenet.store.documents import PhononDosData
    from betenet.workflows.flows import ElectronPhononMaker, build_document
    from betenet.workflows.instability import CauseThresholds
    from betenet.workflows.makers import MatdynMaker, site_labels
    from betenet.workflows.outputs import QETaskDoc
    from betenet.workflows.stability import stability_verdict

    structure = AseAtomsAdaptor.get_structure(read(FIXTURE_AL / "scf.in", format="espresso-in"))
    # the settings the fixture chain ran with (fixtures/qe-6.7/README.md; matdyn_dos.in: ndos = 100)
    maker = ElectronPhononMaker.from_preset("test", conv_thr_Ry=1e-8, tr2_ph=1e-10)
    calc_id, pseudos = maker.identity(structure)
    parsed = parse_matdyn_dos(FIXTURE_AL / "phonon.dos", site_labels=site_labels(structure), n_points=100)
    dos = PhononDosData(omega_meV=parsed.omega_meV.tolist(), total_states_per_meV=parsed.total.tolist(),
                        projected_states_per_meV=parsed.projected.tolist(), site_labels=list(parsed.site_labels),
                        qgrid=(2, 2, 2), dos_grid=(10, 10, 10))
    ph = parse_ph_output(FIXTURE_AL / "elph.out")
    scf = parse_pw_output(FIXTURE_AL / "scf.out")
    verdict = stability_verdict(structure, ph_lowest_meV=ph.lowest_frequency_cm1 * CM1_TO_MEV, matdyn_dos=dos,
                                force_constants=FIXTURE_AL / "al.fc", qgrid=(2, 2, 2),
                                thresholds=CauseThresholds(threshold_meV=0.5), phonopy_mesh=(8, 8, 8))
    common = dict(label="fixture", wall_time_s=0.0, qe_version=scf.qe_version)
    tasks = {
        "scf": QETaskDoc(program="pw", dir_name=str(FIXTURE_AL), kgrid=(8, 8, 8),
                         parameters={"system": {"ecutwfc": 15.0, "ecutrho": 60.0}}, **common),
        "scf_la2F": QETaskDoc(program="pw", dir_name=str(FIXTURE_AL), kgrid=(16, 16, 16), **common),
        "ph_elph": QETaskDoc(program="ph", dir_name=str(FIXTURE_AL), qgrid=(2, 2, 2), **common),
        "matdyn_coarse": QETaskDoc(program="matdyn", dir_name=str(FIXTURE_AL), phonon_dos=dos, **common),
        "matdyn_elph": QETaskDoc(
            program="matdyn", dir_name=str(FIXTURE_AL), phonon_dos=dos, **common,
            a2f_all=MatdynMaker(el_ph_sigma_Ry=0.005, mu_star=0.10)._a2f_batch(FIXTURE_AL, 0, ndos=100),
        ),
    }
    return build_document(maker.settings, structure, structure, calc_id, pseudos, tasks, verdict)


def all_documents(base: Path) -> list[ElectronPhononDoc]:
    return [*workflow_documents(base), fixture_document()]
