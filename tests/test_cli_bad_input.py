"""Bad input through every verb: one line saying what and where (exit 2), the store and the output
folders as they were. One table: (verb, what is wrong) → the words the line must hold.

The store holds one document; predict and screen get a real (tiny) ensemble trained here on the committed
campaign dataset, so that the structure, not the ensemble, is what they stop at.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from betenet.cli import app
from betenet.settings import BetenetSettings
from betenet.store.predictions import get_predictions_store
from betenet.store.stores import get_store, load_document, save_document
from tests.conftest import FIXTURES
from tests.test_store_stores import ok_doc
from tests.test_workflow_handlers import fcc_al

XX_CIF = """data_x
_cell_length_a 4
_cell_length_b 4
_cell_length_c 4
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Xx1 Xx 0 0 0
"""
BAD_FILES = {
    "not-a-cif.cif": "hello world\n",  # ASE's CIF reader: a bare AssertionError
    "empty.cif": "",
    "POSCAR": "Al\n1.0\n4 0 0\n0 4 0\n",  # the lattice stops after two vectors
    "Xx.cif": XX_CIF,
}


@pytest.fixture(scope="module")
def ensemble_dir(tmp_path_factory):
    from betenet.model.training_request import TrainingRequest, train_from_dataset

    out = tmp_path_factory.mktemp("ens") / "ensemble"
    train_from_dataset(FIXTURES / "campaign" / "dataset", out, TrainingRequest(n_members=1, max_epochs=2),
                       progress=False)
    return out


@pytest.fixture
def place(tmp_path, ensemble_dir):
    """The files and folders a case names, and a home whose store holds one document."""
    save_document(ok_doc(fcc_al(), "existing"), get_store(BetenetSettings(home=tmp_path / "home")))
    for name, text in BAD_FILES.items():
        (tmp_path / name).write_text(text)
    fcc_al().to(filename=str(tmp_path / "Al.cif"))
    from pymatgen.core import Lattice, Structure

    Structure(Lattice.cubic(3.3), ["Nb", "Nb"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(tmp_path / "Nb.cif"))
    (tmp_path / "no-qe").mkdir()
    corrupt = tmp_path / "corrupt-ensemble"
    corrupt.mkdir()
    (corrupt / "ensemble.json").write_text('{"members": [')
    return {"tmp": tmp_path, "ens": ensemble_dir, "corrupt": corrupt}


STRUCTURE_VERBS = {
    "run": ["run", "{file}", "--preset", "test"],
    "submit": ["submit", "{file}", "--engine", "jobflow-remote", "--preset", "test"],
    "pipeline": ["pipeline", "{file}", "--preset", "test"],
    "predict": ["predict", "{file}", "--ensemble", "{ens}", "--out", "{tmp}/out"],
    "screen": ["screen", "{file}", "--ensemble", "{ens}", "--out", "{tmp}/out"],
}
STRUCTURE_CASES = {  # file → what the line must say about it
    "not-a-cif.cif": ("not-a-cif.cif", "CIF"),
    "empty.cif": ("empty.cif", "the file is empty"),
    "POSCAR": ("POSCAR", "cannot read", "not a readable POSCAR file", "lattice"),
    "Xx.cif": ("Xx.cif", "unknown element symbol", "Xx"),
}
CASES = [(verb, f"structure {name}", [a.replace("{file}", "{tmp}/" + name) for a in args], words)
         for verb, args in STRUCTURE_VERBS.items() for name, words in STRUCTURE_CASES.items()]
CASES += [
    (verb, "element without a pseudopotential", [a.replace("{file}", "{tmp}/Nb.cif") for a in STRUCTURE_VERBS[verb]],
     ("no pseudopotential for Nb", "Nb.cif", "BETENET_PSEUDO_DIR")) for verb in ("run", "submit", "pipeline")
] + [
    (verb, "missing QE binary", [a.replace("{file}", "{tmp}/Al.cif") for a in STRUCTURE_VERBS[verb]] + ["@no-qe"],
     ("pw.x", "no-qe")) for verb in ("run", "pipeline")
] + [
    ("build-dataset", "empty query", ["build-dataset", "{tmp}/out", "--elements", "Nb"], ("no document matches", "Nb")),
    ("train-ensemble", "empty query", ["train-ensemble", "{tmp}/out", "--elements", "Nb"], ("no document matches",)),
    ("screen", "empty query", ["screen", "--ensemble", "{ens}", "--out", "{tmp}/out", "--elements", "Nb"],
     ("no document matches",)),
    ("predict", "corrupt ensemble", ["predict", "{tmp}/Al.cif", "--ensemble", "{corrupt}"],
     ("corrupt-ensemble", "ensemble.json")),
    ("screen", "corrupt ensemble", ["screen", "{tmp}/Al.cif", "--ensemble", "{corrupt}", "--out", "{tmp}/out"],
     ("corrupt-ensemble", "ensemble.json")),
]


@pytest.mark.parametrize("verb, wrong, args, words", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(verb, wrong, args, words, place):
    tmp = place["tmp"]
    env = {"BETENET_HOME": str(tmp / "home")}
    if "@no-qe" in args:
        args = [a for a in args if a != "@no-qe"]
        env["BETENET_QE_BIN_DIR"] = str(tmp / "no-qe")
    argv = [a.format(tmp=tmp, ens=place["ens"], corrupt=place["corrupt"]) for a in args]
    result = CliRunner().invoke(app, argv, env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]
    settings = BetenetSettings(home=tmp / "home")
    with get_store(settings) as store:
        assert store.count() == 1
    assert load_document("existing", get_store(settings)).lambda_ == 0.4
    with get_predictions_store(settings) as predictions:
        assert predictions.count() == 0
    assert not (tmp / "out").exists()  # no output folder begun
    assert not (tmp / "home" / "runs").exists()  # no run folder begun
