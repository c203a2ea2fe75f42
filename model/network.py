"""BETE-NET: the seed's e3nn gate network, versioned so saved ensembles keep loading.

Architecture ``betenet-gate-v1`` (frozen; a change of function or of parameter layout needs a new name):
embedding Linear(in_dim → em_dim) + ReLU applied to both node inputs x and node attributes z; `layers`
blocks of e3nn `gate_points_2101.Convolution` followed by a `Gate` (hidden irreps mul×{0e,0o,1o,1e} up to
lmax, SiLU/tanh scalars, sigmoid/tanh gates, edge attributes cutoff·Y_l≤lmax, Gaussian radial basis, one
hidden radial layer); a last Convolution to out_dim×0e; ReLU; mean over the atoms of each graph.
`dropout` (0 by default, as the seed) zeroes a fraction of the embedded node inputs and attributes while
training only, so evaluation and the parameter layout are those of the architecture without it.
Parameter names match the seed's `PeriodicNetwork` state_dict (``em.*``, ``layers.{i}.first.*``,
``layers.{L}.*``), so a state_dict saved by the seed's code has the same keys and shapes.

`BeteNet.forward` evaluates the network with the fast kernels of `betenet.model.kernels`;
`BeteNet.forward_reference` runs e3nn's own modules edge by edge, as the seed does (tests compare them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
from e3nn import o3
from e3nn.nn import Gate
from e3nn.nn.models.gate_points_2101 import Convolution, tp_path_exists

from betenet.model import kernels
from betenet.model.graphs import GraphBatch, node_input_dim
from betenet.model.variants import get_variant
from betenet.physics import N_MODEL_BINS

ARCHITECTURE = "betenet-gate-v1"
ARCHITECTURES = (ARCHITECTURE,)
_ACT = {1: torch.nn.functional.silu, -1: torch.tanh}
_ACT_GATES = {1: torch.sigmoid, -1: torch.tanh}


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of one network; defaults are the seed's. `num_neighbors` is the training set's
    mean neighbour count (self-loops included) and is part of the model, not of the data."""

    variant: str = "CPD"
    num_neighbors: float = 16.85
    em_dim: int = 64
    out_dim: int = N_MODEL_BINS
    layers: int = 2
    mul: int = 32
    lmax: int = 1
    r_max: float = 4.0
    number_of_basis: int = 10
    radial_layers: int = 1
    radial_neurons: int = 100
    dropout: float = 0.0  # on the embedded node inputs and attributes, training only
    architecture: str = ARCHITECTURE

    def __post_init__(self):
        get_variant(self.variant)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown architecture={self.architecture!r}; this version knows {ARCHITECTURES}")
        for name in ("em_dim", "out_dim", "layers", "mul", "number_of_basis", "radial_layers",
                     "radial_neurons"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Invalid {name}={value!r}, must be a positive integer")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"Invalid dropout={self.dropout!r}, must be in [0, 1)")
        if self.lmax not in (0, 1):
            raise ValueError(f"Invalid lmax={self.lmax!r}: the {ARCHITECTURE} kernels support lmax 0 or 1")
        if not self.r_max > 0 or not self.num_neighbors > 0:
            raise ValueError(f"r_max={self.r_max!r} and num_neighbors={self.num_neighbors!r} must be > 0")

    @property
    def in_dim(self) -> int:
        return node_input_dim(self.variant)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "NetworkConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown network config keys {sorted(unknown)}")
        return cls(**obj)

    def __str__(self) -> str:
        return json.dumps(self.to_json())


class _ConvGate(torch.nn.Module):
    """A convolution followed by its gate (named first/second like the seed's CustomCompose)."""

    def __init__(self, first: Convolution, second: Gate):
        super().__init__()
        self.first = first
        self.second = second


class BeteNet(torch.nn.Module):
    """Crystal graph → α²F on the 51-bin grid (shape (G, out_dim), non-negative)."""

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        c = config
        self.em = torch.nn.Linear(c.in_dim, c.em_dim)
        irreps_hidden = o3.Irreps([(c.mul, (l, p)) for l in range(c.lmax + 1) for p in (-1, 1)])
        irreps_attr = o3.Irreps(f"{c.em_dim}x0e")
        irreps_edge = o3.Irreps.spherical_harmonics(c.lmax)
        irreps = o3.Irreps(f"{c.em_dim}x0e")
        self.layers = torch.nn.ModuleList()
        for _ in range(c.layers):
            scalars = o3.Irreps([(m, ir) for m, ir in irreps_hidden
                                 if ir.l == 0 and tp_path_exists(irreps, irreps_edge, ir)])
            gated = o3.Irreps([(m, ir) for m, ir in irreps_hidden
                               if ir.l > 0 and tp_path_exists(irreps, irreps_edge, ir)])
            gate_ir = "0e" if tp_path_exists(irreps, irreps_edge, "0e") else "0o"
            gates = o3.Irreps([(m, gate_ir) for m, _ in gated])
            gate = Gate(scalars, [_ACT[ir.p] for _, ir in scalars], gates,
                        [_ACT_GATES[ir.p] for _, ir in gates], gated)
            conv = Convolution(irreps, irreps_attr, irreps_edge, gate.irreps_in, c.number_of_basis,
                               c.radial_layers, c.radial_neurons, c.num_neighbors)
            self.layers.append(_ConvGate(conv, gate))
            irreps = gate.irreps_out
        self.layers.append(Convolution(irreps, irreps_attr, irreps_edge, f"{c.out_dim}x0e", c.number_of_basis,
                                       c.radial_layers, c.radial_neurons, c.num_neighbors))

    def extra_repr(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return f"{self.config.architecture}, variant={self.config.variant}, {n} parameters"

    def _convs(self):
        for layer in self.layers:
            yield (layer.first, layer.second) if isinstance(layer, _ConvGate) else (layer, None)

    def _check_batch(self, batch: GraphBatch) -> None:
        if batch.x_raw.shape[1] != self.config.in_dim:
            raise ValueError(f"batch has node inputs of width {batch.x_raw.shape[1]}, the {self.config.variant} "
                             f"network expects {self.config.in_dim}: batch built for another variant")
        if batch.radial_basis.shape[1] != self.config.number_of_basis:
            raise ValueError("batch radial basis size differs from the network's number_of_basis")
        if batch.edge_attr.shape[1] != (self.config.lmax + 1) ** 2:
            raise ValueError(f"batch has edge harmonics up to l={int(batch.edge_attr.shape[1] ** 0.5) - 1}, the "
                             f"network uses lmax={self.config.lmax}: build it with lmax={self.config.lmax}")

    def _dropout(self, values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.dropout(values, self.config.dropout, self.training) if self.config.dropout else values

    def node_outputs(self, batch: GraphBatch) -> torch.Tensor:
        """Per-atom outputs before pooling (N, out_dim), fast kernels."""
        self._check_batch(batch)
        if batch.kind_groups.n_groups <= batch.n_nodes // 2:
            # few node kinds (CSO: one per element): attributes and first-layer products per kind
            x_groups = z_groups = batch.kind_groups
            x, z = torch.relu(self.em(batch.kind_x)), torch.relu(self.em(batch.kind_z))
        else:
            # first-layer inputs depend on the element only: embed and contract the distinct rows once
            x_groups, z_groups = batch.x_groups, None
            x, z = torch.relu(self.em(batch.x_unique)), torch.relu(self.em(batch.z_raw))
        # with node kinds, one dropout mask per kind (element) and batch rather than per atom
        x, z = self._dropout(x), self._dropout(z)
        blocks = [x.unsqueeze(1)]
        edge_attr = list(torch.split(batch.edge_attr, [2 * l + 1 for l in range(self.config.lmax + 1)], dim=1))
        for conv, gate in self._convs():
            # the radial MLP runs once per distinct edge length, then is looked up per edge
            radial = conv.fc(batch.radial_basis)[batch.edge_length_index]
            blocks = kernels.convolution(conv, blocks, z, batch.edge_src, batch.edge_dst, edge_attr, radial,
                                         x_groups, z_groups)
            x_groups = None
            if gate is not None:
                blocks = kernels.gate(gate, blocks)
        return torch.relu(kernels.from_blocks(blocks))

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        return _mean_per_graph(self.node_outputs(batch), batch)

    def forward_reference(self, batch: GraphBatch) -> torch.Tensor:
        """The seed's evaluation path: e3nn's modules, radial MLP on every edge."""
        self._check_batch(batch)
        x = self._dropout(torch.relu(self.em(batch.x_raw)))
        z = self._dropout(torch.relu(self.em(batch.z_raw)))
        radial = batch.edge_radial_embedding()
        for conv, gate in self._convs():
            x = conv(x, z, batch.edge_src, batch.edge_dst, batch.edge_attr, radial)
            if gate is not None:
                x = gate(x)
        return _mean_per_graph(torch.relu(x), batch)


def _mean_per_graph(node_values: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
    total = node_values.new_zeros(batch.n_graphs, node_values.shape[1]).index_add_(0, batch.node_graph, node_values)
    return total / batch.atoms_per_graph.to(node_values.dtype)[:, None]

