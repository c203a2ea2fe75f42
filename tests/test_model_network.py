"""BETE-NET network: the fast kernels compute e3nn's function; symmetry; precision; the seed's layout."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import torch
from _model_helpers import graphs, random_rotation, structures, tiny_config

from betenet.model.errors import MissingFeatureError
from betenet.model.graphs import GraphBatch, build_graph, mean_neighbour_count
from betenet.model.network import BeteNet, NetworkConfig


@pytest.fixture(autouse=True)
def one_thread():
    # tiny tensors: thread synchronisation would dominate on a loaded 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {v: BeteNet(tiny_config(v)).double() for v in ("CSO", "CPD")}


def test_scalar_only_variant_lmax0_matches_e3nn():
    torch.manual_seed(2)
    net = BeteNet(tiny_config("CPD", lmax=0)).double()
    batch = GraphBatch.from_graphs(graphs("CPD"), "CPD", dtype=torch.float64, lmax=0)
    assert torch.allclose(net(batch), net.forward_reference(batch), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="build it with lmax=0"):
        net(_batch(graphs("CPD"), "CPD"))


def _batch(items, variant, dtype=torch.float64):
    return GraphBatch.from_graphs(items, variant, dtype=dtype)


@pytest.mark.parametrize("variant", ["CSO", "CPD"])
def test_fast_kernels_match_e3nn_forward_and_gradients(nets, variant):
    net = nets[variant]
    batch = _batch(graphs(variant), variant)
    fast, reference = net(batch), net.forward_reference(batch)
    assert fast.shape == (8, 51)
    assert fast.abs().max() > 0  # not a trivially dead network
    assert torch.allclose(fast, reference, rtol=1e-10, atol=1e-14)
    params = [p for p in net.parameters()]
    g_fast = torch.autograd.grad((fast**2).sum(), params)
    g_ref = torch.autograd.grad((net.forward_reference(batch) ** 2).sum(), params)
    for a, b in zip(g_fast, g_ref):
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-14)


def test_seed_sized_network_layout_and_fast_path():
    """The seed's CPD network: 2 459 576 parameters under the seed's state_dict names."""
    torch.manual_seed(1)
    net = BeteNet(NetworkConfig(variant="CPD"))
    assert sum(p.numel() for p in net.parameters()) == 2_459_576
    keys = set(net.state_dict())
    assert {"em.weight", "layers.0.first.sc.weight", "layers.1.first.fc.layer0.weight",
            "layers.2.lin2.weight"} <= keys
    batch = _batch(graphs("CPD")[:4], "CPD", torch.float32)
    assert torch.allclose(net(batch), net.forward_reference(batch), rtol=1e-4, atol=1e-7)


def test_rotation_translation_and_permutation_invariance(nets):
    net = nets["CPD"]
    base = structures()
    names = ["NaCl", "AlNb", "Mg"]
    reference = [build_graph(base[n], n).with_site_phdos(np.eye(len(base[n]), 51) + 0.5) for n in names]
    moved = []
    for k, name in enumerate(names):
        atoms = base[name].copy()
        rotation = random_rotation(k)
        atoms.set_cell(atoms.cell.array @ rotation.T, scale_atoms=True)  # rotates positions too
        atoms.translate([0.37, -1.2, 2.9])
        order = np.arange(len(atoms))[::-1]  # permute atoms; their PhDOS rows travel with them
        moved.append(build_graph(atoms[order], name).with_site_phdos((np.eye(len(atoms), 51) + 0.5)[order]))
    a, b = net(_batch(reference, "CPD")), net(_batch(moved, "CPD"))
    assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)
    # and the permutation really reorders the per-atom inputs (the check above is not vacuous)
    assert not np.allclose(moved[0].site_phdos, reference[0].site_phdos)


def test_edge_vector_sign_convention_cannot_change_predictions(nets):
    """Flipping every edge vector is an inversion of the structure: 0e outputs must not change."""
    net = nets["CPD"]
    items = graphs("CPD")
    flipped = [type(g)(g.id, g.numbers, g.edge_src, g.edge_dst, -g.edge_vec, g.site_phdos) for g in items]
    assert torch.allclose(net(_batch(items, "CPD")), net(_batch(flipped, "CPD")), rtol=1e-10, atol=1e-14)


def test_float32_and_float64_agree(nets):
    net64 = nets["CPD"]
    net32 = BeteNet(tiny_config("CPD"))
    net32.load_state_dict({k: v.float() for k, v in net64.state_dict().items()})
    items = graphs("CPD")
    a64 = net64(_batch(items, "CPD", torch.float64))
    a32 = net32(_batch(items, "CPD", torch.float32))
    assert torch.allclose(a32.double(), a64, rtol=1e-4, atol=1e-6 * float(a64.detach().abs().max()))


def test_graph_construction_matches_the_seed_neighbour_count(shared_dir):
    """Self-loops included, 4 Å: the seed's 806 structures average 16.85 edges per atom."""
    from ase.io import read

    files = sorted(glob.glob(str(shared_dir / "data/betenet/structures/*.cif")))
    assert len(files) == 806
    count = mean_neighbour_count(build_graph(read(f), f) for f in files)
    assert count == pytest.approx(16.85, abs=0.005)


def test_bad_configuration_and_inputs_are_named():
    with pytest.raises(ValueError, match="Invalid variant='XPD'"):
        NetworkConfig(variant="XPD")
    with pytest.raises(ValueError, match="lmax=2"):
        NetworkConfig(lmax=2)
    with pytest.raises(ValueError, match="Invalid mul=0"):
        NetworkConfig(mul=0)
    with pytest.raises(MissingFeatureError, match="'Al' has no 'cpd' site PhDOS, which a CPD model needs"):
        _batch(graphs("CSO")[:1], "CPD")
    with pytest.raises(MissingFeatureError, match=r"shape \(2, 51\), expected \(1, 51\)"):
        graphs("CSO")[0].with_site_phdos(np.zeros((2, 51)))


def test_dropout_acts_in_training_only_and_keeps_the_layout():
    torch.manual_seed(3)
    plain = BeteNet(tiny_config("CPD")).double()
    dropped = BeteNet(tiny_config("CPD", dropout=0.5)).double()
    dropped.load_state_dict(plain.state_dict())  # same parameter names and shapes
    batch = _batch(graphs("CPD"), "CPD")
    plain.eval(), dropped.eval()
    assert torch.equal(dropped(batch), plain(batch))
    assert torch.allclose(dropped.forward_reference(batch), plain(batch), rtol=1e-10, atol=1e-14)
    dropped.train()
    torch.manual_seed(4)
    assert not torch.allclose(dropped(batch), plain(batch))
    with pytest.raises(ValueError, match="Invalid dropout=1.0"):
        NetworkConfig(dropout=1.0)
