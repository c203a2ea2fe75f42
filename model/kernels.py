"""Fast evaluation of e3nn's gate-network convolution for this architecture (l ≤ 1, scalar attributes).

The parameters stay in e3nn's own modules (`gate_points_2101.Convolution`: sc, lin1, fc, tp, lin2, and
`Gate`), so a state_dict is the seed's; only the arithmetic is rearranged, and tests compare every path
with e3nn's own forward.

Features are kept as *blocks*: one tensor (N, 2l+1, mul) per entry of the irreps (e3nn stores the same
numbers as (N, mul, 2l+1) inside one flat row). With the channel axis last, every per-edge product
broadcasts over a contiguous channel axis, and the node-wise products are plain (batched) GEMMs.

Where the time goes in e3nn's generic code, and what is done instead:
- The node-wise `FullyConnectedTensorProduct`s (sc, lin1, lin2) hold 98 % of the 2.46 M weights:
  out[n,m,w] = Σ_uv W[u,v,w] x[n,m,u] z[n,v]. With all-scalar attributes z, contracting z first is one
  GEMM ``z @ W`` (N × V)·(V × U·W) per input block, shared by sc and lin1, then a batched product with
  x — for l = 1 blocks three times fewer multiply-adds than contracting x ⊗ z. When x (first layer) or z
  (CSO) take only a few distinct values (one per element), that side is contracted once per value.
- The radial MLP runs on unique edge lengths only (`GraphBatch.radial_basis`) and is gathered per edge.
- The edge tensor product ('uvu', l ≤ 1) is written out per path (products, a dot or a cross product),
  each path's messages summed into its own block of the aggregated features.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from e3nn import o3

Blocks = list  # list[torch.Tensor], one (N, 2l+1, mul) tensor per irreps entry

_INV_SQRT3 = 1.0 / math.sqrt(3.0)
_INV_SQRT6 = 1.0 / math.sqrt(6.0)


def from_blocks(blocks: Blocks) -> torch.Tensor:
    """Blocks → e3nn flat layout."""
    flat = [b.transpose(1, 2).reshape(b.shape[0], -1) for b in blocks]
    return flat[0] if len(flat) == 1 else torch.cat(flat, dim=1)


@dataclass(frozen=True)
class RowGroups:
    """Rows of a node tensor that take only K distinct values (e.g. first-layer inputs, one per element).

    `index` (N,) maps each node to its distinct row; `order` sorts nodes by group, `sizes` (K,) counts
    them and `restore` undoes the sort.
    """

    index: torch.Tensor
    order: torch.Tensor
    sizes: list[int]
    restore: torch.Tensor

    @property
    def n_rows(self) -> int:
        return self.index.shape[0]

    @property
    def n_groups(self) -> int:
        return len(self.sizes)

    @classmethod
    def from_index(cls, index: torch.Tensor, n_groups: int) -> "RowGroups":
        order = torch.argsort(index, stable=True)
        return cls(index, order, torch.bincount(index, minlength=n_groups).tolist(), torch.argsort(order))

    def per_group(self, rows: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """rows[n] @ table[group(n)] for every node: one GEMM per group. rows (N, ..., A), table (K, A, B)."""
        parts = torch.split(rows[self.order], self.sizes)
        tables = table.unbind(0)  # one backward node (a stack), not one full-size zero tensor per group
        out = torch.cat([p @ tables[k] for k, p in enumerate(parts) if p.shape[0]])
        return out[self.restore]


@dataclass(frozen=True)
class _AttrPath:
    """One instruction of a FullyConnectedTensorProduct with scalar attributes (l ⊗ 0e → l)."""

    tp_index: int
    i_in: int
    i_out: int
    mul_in: int
    mul_out: int
    w_start: int
    coeff: float  # path weight × Wigner-3j(l, 0, l) entry


@functools.lru_cache(maxsize=None)
def _wigner_3j_l0l(l: int) -> float:
    """The diagonal entry of e3nn's Wigner-3j (l, 0, l) (= 1/√(2l+1))."""
    return o3.wigner_3j(l, 0, l)[0, 0, 0].item()


def _attr_paths(tp: o3.FullyConnectedTensorProduct, tp_index: int) -> list[_AttrPath]:
    if len(tp.irreps_in2) != 1 or tp.irreps_in2[0].ir != o3.Irrep("0e"):
        raise ValueError(f"fast path needs one block of scalar node attributes, got {tp.irreps_in2}")
    mul_attr = tp.irreps_in2[0].mul
    paths, w_start = [], 0
    for ins in tp.instructions:
        mul_in, ir_in = tp.irreps_in1[ins.i_in1]
        mul_out, ir_out = tp.irreps_out[ins.i_out]
        if ins.connection_mode != "uvw" or ir_in != ir_out:
            raise ValueError(f"unexpected instruction {ins} for a scalar-attribute product")
        coeff = ins.path_weight * _wigner_3j_l0l(ir_in.l)
        paths.append(_AttrPath(tp_index, ins.i_in1, ins.i_out, mul_in, mul_out, w_start, coeff))
        w_start += mul_in * mul_attr * mul_out
    return paths


def attribute_products(tps, x: Blocks, z: torch.Tensor, x_groups: RowGroups | None = None,
                       z_groups: RowGroups | None = None) -> list[Blocks]:
    """Evaluate FullyConnectedTensorProducts (x ⊗ z) that share x and the scalar attributes z (N, V).

    Returns one block list per product (None for an output block that no path reaches). Distinct rows
    are exploited when given (at most one of the two):
    - `x_groups`: x holds only the K distinct rows, all-scalar (first-layer inputs, one per element):
      x is contracted with the weights per distinct row, z per group — N·V·W multiply-adds, not N·U·V·W.
    - `z_groups`: z holds only the K distinct rows (CSO attributes, one per element): z is contracted
      per distinct row, x per group — N·U·W·(2l+1) instead of N·U·V·W.
    """
    if x_groups is not None and z_groups is not None:
        raise ValueError("give x_groups or z_groups, not both")
    v = z.shape[1]
    n = x_groups.n_rows if x_groups is not None else x[0].shape[0]
    by_input: dict[int, list[_AttrPath]] = {}
    for i, tp in enumerate(tps):
        for p in _attr_paths(tp, i):
            by_input.setdefault(p.i_in, []).append(p)
    outs: list[dict[int, torch.Tensor]] = [{} for _ in tps]
    for i_in, group in by_input.items():
        mul_in = group[0].mul_in
        x_block = x[i_in]
        if x_groups is not None and x_block.shape[1] != 1:
            raise ValueError("grouped input rows must be scalars")
        # (U, V, ΣW): every path reading this input block, columns side by side
        w = torch.cat([tps[p.tp_index].weight[p.w_start : p.w_start + mul_in * v * p.mul_out]
                       .view(mul_in, v, p.mul_out) * p.coeff for p in group], dim=2)
        width = w.shape[2]
        if x_groups is not None:
            table = (x_block.reshape(-1, mul_in) @ w.reshape(mul_in, v * width)).view(-1, v, width)  # (K, V, ΣW)
            res = x_groups.per_group(z, table).unsqueeze(1)  # (N, 1, ΣW)
        elif z_groups is not None:
            table = (z @ w.transpose(0, 1).reshape(v, mul_in * width)).view(-1, mul_in, width)  # (K, U, ΣW)
            res = z_groups.per_group(x_block, table)  # (N, d, ΣW)
        else:
            y = (z @ w.transpose(0, 1).reshape(v, mul_in * width)).view(n, mul_in, width)
            res = torch.bmm(x_block, y)  # (N, d, ΣW)
        for p, part in zip(group, torch.split(res, [p.mul_out for p in group], dim=2)):
            previous = outs[p.tp_index].get(p.i_out)
            outs[p.tp_index][p.i_out] = part if previous is None else previous + part
    # an output block no path reaches is None (it is zero; callers skip it)
    return [[out.get(i) for i in range(len(tp.irreps_out))] for tp, out in zip(tps, outs)]


def aggregated_messages(tp: o3.TensorProduct, x: Blocks, edge_attr: Blocks, weight: torch.Tensor,
                        edge_src: torch.Tensor, edge_dst: torch.Tensor, scale: float = 1.0) -> Blocks:
    """scale × Σ over incoming edges of e3nn's 'uvu' TensorProduct(x[src], Y(edge), per-edge weights), l ≤ 1.

    x blocks (N, d, U); edge_attr blocks (E, d); weight (E, weight_numel). Returns one (N, d, U) block per
    output entry (each instruction of the convolution has its own output entry).
    """
    n = x[0].shape[0]
    x_src = [b[edge_src] for b in x]
    w_parts = torch.split(weight, [ins.path_shape[0] for ins in tp.instructions], dim=1)
    out: dict[int, torch.Tensor] = {}
    for ins, w in zip(tp.instructions, w_parts):
        c = ins.path_weight * scale
        mul, ir1 = tp.irreps_in1[ins.i_in1]
        ir2, ir3 = tp.irreps_in2[ins.i_in2].ir, tp.irreps_out[ins.i_out].ir
        if ins.connection_mode != "uvu" or tp.irreps_in2[ins.i_in2].mul != 1 or max(ir1.l, ir2.l) > 1:
            raise ValueError(f"fast path supports 'uvu' paths with l ≤ 1 and one edge attribute, got {ins}")
        xb, y = x_src[ins.i_in1], edge_attr[ins.i_in2]  # (E, d1, U), (E, d2)
        if ir2.l == 0:  # l ⊗ 0 → l: Wigner-3j = δ/√(2l+1)
            msg = xb * (w * (y * (c / math.sqrt(ir1.dim))))[:, None, :]
        elif ir1.l == 0:  # 0 ⊗ 1 → 1: Wigner-3j = δ/√3
            msg = (xb * w[:, None, :]) * (y * (c * _INV_SQRT3))[:, :, None]  # (E,1,U)·(E,3,1)
        elif ir3.l == 0:  # 1 ⊗ 1 → 0: dot product, Wigner-3j = δ/√3
            msg = ((xb * y[:, :, None]).sum(1) * w * (c * _INV_SQRT3))[:, None, :]
        else:  # 1 ⊗ 1 → 1: cross product x × y, Wigner-3j = ε/√6
            x0, x1, x2 = xb.unbind(1)
            y0, y1, y2 = (t[:, None] for t in y.unbind(1))
            factor = w * (c * _INV_SQRT6)
            msg = torch.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], dim=1) * factor[:, None, :]
        out[ins.i_out] = msg.new_zeros((n,) + msg.shape[1:]).index_add_(0, edge_dst, msg)
    return [out[i] for i in range(len(tp.irreps_out))]


def gate(gate_module, x: Blocks) -> Blocks:
    """e3nn `Gate` on blocks: scalars → act, gated blocks × act(gates); its own (normalised) activations."""
    irreps = gate_module.irreps_in
    n_scalar_blocks = sum(1 for _, ir in irreps if ir.l == 0)
    gated_irreps = [(mul, ir) for mul, ir in irreps if ir.l > 0]
    if [tuple(t) for t in gated_irreps] != [tuple(t) for t in gate_module.irreps_gated]:
        raise ValueError(f"unexpected gate layout {irreps} (gated {gate_module.irreps_gated})")
    scalar_rows = torch.cat([b.reshape(b.shape[0], -1) for b in x[:n_scalar_blocks]], dim=1)
    n_s, n_g = gate_module.irreps_scalars.dim, gate_module.irreps_gates.dim
    scalars = gate_module.act_scalars(scalar_rows[:, :n_s])
    out = [scalars.unsqueeze(1)]
    if n_g:
        gates = gate_module.act_gates(scalar_rows[:, n_s : n_s + n_g])
        for b, g in zip(x[n_scalar_blocks:], torch.split(gates, [mul for mul, _ in gated_irreps], dim=1)):
            out.append(b * g[:, None, :])
    return out


def output_mix(conv) -> list[tuple[float, float]]:
    """Per output block (c_s, c_x) of gate_points_2101.Convolution: c_s·sc + c_x·lin2."""
    c_s, c_x = math.sin(math.pi / 8), math.cos(math.pi / 8)
    mix = []
    for sl in conv.irreps_out.slices():
        mask = conv.sc.output_mask[sl]
        if not (bool(mask.all()) or not bool(mask.any())):
            raise ValueError("self-connection mask is not uniform within a block")
        mix.append((c_s, c_x) if bool(mask.all()) else (c_s, 1.0))
    return mix


def convolution(conv, x: Blocks, z: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                edge_attr: Blocks, radial_weight: torch.Tensor, x_groups: RowGroups | None = None,
                z_groups: RowGroups | None = None) -> Blocks:
    """Same function as `gate_points_2101.Convolution.forward`, on blocks; `radial_weight` = conv.fc(basis)
    per edge. `x_groups` / `z_groups`: x or z hold only their distinct rows (see `attribute_products`);
    given both (one shared grouping), the products before the message passing run per group only.
    """
    if x_groups is not None and z_groups is not None:
        if x_groups is not z_groups:
            raise ValueError("x and z grouped together must share one RowGroups")
        s, x1 = ([None if b is None else b[z_groups.index] for b in blocks]
                 for blocks in attribute_products([conv.sc, conv.lin1], x, z))
    else:
        s, x1 = attribute_products([conv.sc, conv.lin1], x, z, x_groups, z_groups)
    mid = aggregated_messages(conv.tp, x1, edge_attr, radial_weight, edge_src, edge_dst,
                              scale=1.0 / conv.num_neighbors**0.5)
    (x2,) = attribute_products([conv.lin2], mid, z, z_groups=z_groups)
    return [c_x * b if a is None else c_s * a + c_x * b for (c_s, c_x), a, b in zip(output_mix(conv), s, x2)]
