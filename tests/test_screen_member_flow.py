"""Bootstrap members as independent jobflow Jobs give the same ensemble as training in one process."""

import numpy as np
from jobflow import run_locally
from pymatgen.io.ase import AseAtomsAdaptor

from betenet.dataset.build import SplitSpec, build_dataset
from betenet.dataset.format import read_dataset
from betenet.model.ensemble import Ensemble
from betenet.model.training_request import TrainingRequest, member_flow, train_from_dataset
from betenet.settings import override_settings
from betenet.store.stores import get_store, save_document
from tests.al_documents import TEST_GRID_FLAGS


def test_member_jobs_equal_in_process_training(documents, tmp_path):
    with override_settings(home=tmp_path / "home", store_uri=None):
        for doc in documents:
            save_document(doc, get_store())
        build_dataset(get_store(), tmp_path / "data", split=SplitSpec(test_fraction=0.0), allow_flags=TEST_GRID_FLAGS)
    dataset = read_dataset(tmp_path / "data")
    request = TrainingRequest(variant="CSO", n_members=2, max_epochs=3, workers=1,
                              network={"mul": 4, "em_dim": 8, "radial_neurons": 8})

    flow = member_flow(dataset, tmp_path / "jobs", request)
    assert len(flow.jobs) == 2
    responses = run_locally(flow, create_folders=True, root_dir=tmp_path / "runs", log=False, ensure_success=True)
    assert sorted(r[1].output["member"] for r in responses.values()) == [0, 1]

    in_process = train_from_dataset(dataset, tmp_path / "serial", request, progress=False)
    from_jobs = Ensemble.load(tmp_path / "jobs")
    assert len(from_jobs.members) == 2
    structures = [AseAtomsAdaptor.get_atoms(doc.structure) for doc in documents if doc.status == "ok"]
    a = from_jobs.predict(structures)
    b = in_process.predict(structures)
    assert np.allclose(a.a2f, b.a2f, atol=1e-6) and np.allclose(a.a2f_std, b.a2f_std, atol=1e-6)
