"""GIN convolution with one aggregation per edge type."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter


class TypedGINConv(MessagePassing):
    r"""GIN-style convolution that keeps edge types apart.

    .. math::
        \mathbf{x}'_i = \mathrm{MLP}\Big((1 + \epsilon)\,\mathbf{x}_i \,\Big\Vert\,
        \mathop{\mathrm{mean}}_{j \in \mathcal{N}_1(i)} \mathbf{x}_j \,\Big\Vert \cdots
        \Big\Vert \mathop{\mathrm{mean}}_{j \in \mathcal{N}_T(i)} \mathbf{x}_j\Big)

    where :math:`\mathcal{N}_t(i)` are the sources of type-``t`` edges into ``i``. In the
    disjunctive graph the types are "job predecessor", "job successor" and "shares my
    machine": summing them together (plain GIN) would mix precedence with competition.
    Means, not sums, keep the scale independent of the instance size (the policy is
    size-agnostic).

    Args:
        in_channels: F_in, node feature size.
        out_channels: F_out.
        num_edge_types: T.
        hidden: hidden width of the MLP (default F_out).
        train_eps: learn :math:`\epsilon`.

    Shapes:
        - x: [N, F_in]
        - edge_index: [2, E] (row 0 = source j, row 1 = target i)
        - edge_type: [E] integers in [0, T)
        - neighbours (optional): [N, T] from ``single_neighbours``
        - output: [N, F_out]

    When every node has at most one source per edge type (the job chains of the
    disjunctive graph: one predecessor, one successor), the mean over a bucket is that one
    source, and a gather computes it bit for bit without the scatter (a fifth of a greedy
    ta71 schedule's profile): compute ``single_neighbours`` once per graph and pass it to
    every layer. When part of the input is shared by groups of nodes, ``forward_grouped``
    does the same layer with half the multiply-adds (what the job-shop policy calls).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_edge_types: int,
        hidden: int | None = None,
        train_eps: bool = True,
    ) -> None:
        super().__init__(aggr=None)  # aggregation per (node, type) is done in `aggregate`
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_edge_types = num_edge_types
        hidden = hidden or out_channels
        self.mlp = nn.Sequential(
            nn.Linear((1 + num_edge_types) * in_channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_channels),
        )
        self.eps = nn.Parameter(torch.zeros(1), requires_grad=train_eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        with torch.no_grad():  # on the parameter, not .data: the version counter moves
            self.eps.fill_(0.0)

    @staticmethod
    def single_neighbours(
        edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_edge_types: int
    ) -> Tensor | None:
        """[N, T]: the one source of each node's type-t edges (N where it has none), or None
        if some node has two sources of one type (then only the scatter mean is right)."""
        T = num_edge_types
        bucket = edge_index[1] * T + edge_type
        if bucket.numel() and int(torch.bincount(bucket).max()) > 1:
            return None
        source = torch.full((num_nodes * T,), num_nodes, dtype=torch.long, device=bucket.device)
        source[bucket] = edge_index[0]
        return source.view(num_nodes, T)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_type: Tensor, neighbours: Tensor | None = None
    ) -> Tensor:
        if neighbours is None:
            agg = self.propagate(edge_index, x=x, edge_type=edge_type)  # [N, T * F_in]
        else:
            padded = torch.cat([x, x.new_zeros(1, x.size(-1))])  # row N: "no source" -> zeros
            agg = padded.index_select(0, neighbours.view(-1)).view(x.size(0), -1)  # [N, T*F_in]
        return self.mlp(torch.cat([(1 + self.eps) * x, agg], dim=-1))

    def forward_grouped(
        self, h: Tensor, group_x: Tensor, group: Tensor, neighbours: Tensor
    ) -> Tensor:
        """``forward(cat([h, group_x[group]], -1), ..., neighbours)`` without building its
        [N, (1 + T) * F_in] input, for inputs whose second part is shared by groups of nodes
        (in the policy: the mean embedding of each machine's operations).

        The first linear layer is a sum of one block per input part, and a block times a
        gathered row is the gathered row of the block's product: so ``h`` is multiplied once
        for all 1 + T blocks, the group part once per group (G rows, not N), and the
        gathers move products instead of inputs. A greedy ta71 schedule does half the
        multiply-adds of ``forward``. Equal to ``forward`` up to float rounding (tested).

        Shapes:
            - h: [N, F_h]
            - group_x: [G, F_in - F_h]
            - group: [N] integers in [0, G)
            - neighbours: [N, T] from ``single_neighbours``
            - output: [N, F_out]
        """
        first = self.mlp[0]
        T1, width = 1 + self.num_edge_types, first.out_features
        f_h, n = h.size(-1), h.size(0)
        w_h, w_g = self._block_weights(f_h)
        # row n is "no source": a zero input row in h and a zero group give zero products
        h = torch.cat([h, h.new_zeros(1, f_h)])
        shared = torch.cat([group_x @ w_g, h.new_zeros(1, T1 * width)])
        group = torch.cat([group, group.new_full((1,), group_x.size(0))])
        # index_select, not shared[group]: several times faster on CPU; in place, the
        # product lands in the gathered rows without another copy
        parts = shared.index_select(0, group).addmm_(h, w_h)  # [N + 1, T1 * width]
        # each node's neighbour products in one gather over rows of ``width``: row
        # (j * T1 + t) is block t of node j
        offsets = torch.arange(1, T1, device=neighbours.device)
        rows = (neighbours * T1 + offsets).view(-1)
        from_neighbours = parts.view(-1, width).index_select(0, rows).view(n, T1 - 1, width)
        pre = parts[:n, :width] + first.bias
        for t in range(T1 - 1):
            pre += from_neighbours[:, t]
        return self.mlp[2](self.mlp[1](pre))

    def _block_weights(self, f_h: int) -> tuple[Tensor, Tensor]:
        """The first linear layer's weights as [F_h, T1 * width] and [F_in - F_h, T1 * width]
        blocks (column t * width + o is block t's row o), the self block scaled by 1 + eps.

        Without autograd (greedy schedules, planning) they are kept until the weights
        change: rebuilding them made the forward passes of a greedy ta71 schedule about 15 %
        slower (1.77 against 1.52 s of CPU over its 397 decisions, pretrained-large). A change
        is seen by the parameters' version counters, which every in-place update on the
        parameter itself moves (optimizer steps, ``load_state_dict``, ``nn.init``); a write
        through ``.data`` would not, so this module never writes so."""
        first = self.mlp[0]
        key = (f_h, first.weight._version, self.eps._version, first.weight.data_ptr())
        cached = getattr(self, "_blocks", None)
        if not torch.is_grad_enabled() and cached is not None and cached[0] == key:
            return cached[1]
        T1, width = 1 + self.num_edge_types, first.out_features
        blocks = first.weight.view(width, T1, self.in_channels)  # self, then each edge type
        # (1 + eps) scales the self block's input, so it may scale the block's weights
        scale = torch.cat([(1 + self.eps), self.eps.new_ones(T1 - 1)]).view(1, T1, 1)
        blocks = blocks * scale
        w_h = blocks[:, :, :f_h].permute(2, 1, 0).reshape(f_h, T1 * width)
        w_g = blocks[:, :, f_h:].permute(2, 1, 0).reshape(-1, T1 * width)
        if not torch.is_grad_enabled():
            self._blocks = (key, (w_h, w_g))
        return w_h, w_g

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def aggregate(self, inputs: Tensor, index: Tensor, edge_type: Tensor, dim_size: int) -> Tensor:
        T = self.num_edge_types
        # one bucket per (target node, edge type); empty buckets are zeros
        out = scatter(inputs, index * T + edge_type, dim=0, dim_size=dim_size * T, reduce="mean")
        return out.view(dim_size, T * inputs.size(-1))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"num_edge_types={self.num_edge_types})"
        )
