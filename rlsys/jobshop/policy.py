"""The GNN dispatching policy: disjunctive graph in, a score per candidate job out.

Observation -> PyG ``Data`` with tensor ops only (``obs_to_data``): operation nodes that
are still alive (not done), features = the operation's own features plus its machine's,
conjunctive arcs in both directions as two edge types (job predecessor, job successor),
and ``op_machine``, each node's machine. ``cand_index`` holds the node of each job's next
operation; ``cand_mask`` the action mask.

The disjunctive relation ("shares my machine") is a clique per machine: O(n^2 m) arcs, 17k
on 30x20 and most of the training cost. A mean over a clique equals a mean over the
machine's operations, so each layer reads it from a per-machine mean pool instead
(O(n m)), which is exact for mean aggregation up to including the node itself.

Network (``JobShopGNNPolicy``): linear encoder; L residual layers, each
``TypedGINConv`` over [node, mean of its machine's nodes] with the two conjunctive edge
types; a graph embedding by mean and max pooling; the actor scores each job's candidate
node from [node embedding, graph embedding]; the critic reads the graph embedding.
Nothing depends on n or m, so one network schedules any instance size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_max_pool, global_mean_pool
from torch_geometric.utils import to_dense_batch

from envs.jobshop.env import MACHINE_FEATURES, OP_FEATURES
from rlsys.config import Config, config_field
from rlsys.jobshop.nn import TypedGINConv
from rlsys.rl.distributions import MaskedCategorical
from rlsys.rl.policy import read_policy_file, save_policy_file

IN_FEATURES = len(OP_FEATURES) + len(MACHINE_FEATURES)
# ``PolicyConfig.machine_load``: per machine, what is left to do on it, appended to every
# node's features after the observation's (so a network trained without them reads the
# same first IN_FEATURES columns): its remaining processing (the sum of its alive
# operations' "remaining_processing") / n_jobs, its unfinished operations / n_jobs, and
# its remaining processing / the most loaded machine's (1 on the bottleneck).
MACHINE_LOAD_FEATURES = ("work_left", "ops_left", "load_share")
PRED, SUCC = 0, 1
_REMAINING, _BLOCKING = OP_FEATURES.index("remaining_processing"), OP_FEATURES.index("blocking")


def _machine_load(op_features: np.ndarray, op_machine: np.ndarray, n_machines: int, n_jobs: int):
    """[n_machines, 3] float32: ``MACHINE_LOAD_FEATURES`` from the alive operations'
    features [N_alive, F] and machines [N_alive].

    The mean pool over a machine's operations (every layer's "rivals") cannot tell how
    many there are, and ``n_waiting`` counts only the jobs waiting now."""
    work = np.bincount(op_machine, weights=op_features[:, _REMAINING], minlength=n_machines)
    ops = np.bincount(op_machine, weights=1.0 - op_features[:, _BLOCKING], minlength=n_machines)
    peak = work.max(initial=0.0)
    share = work / peak if peak > 0 else np.zeros_like(work)
    return np.stack([work / n_jobs, ops / n_jobs, share], axis=1).astype(np.float32)


def _graph_arrays(obs: dict, machine_load: bool = False) -> dict[str, np.ndarray]:
    """One observation -> the alive subgraph's arrays (the fields of ``obs_to_data``);
    ``machine_load`` appends ``MACHINE_LOAD_FEATURES`` to every node's features.

    Built in numpy: a decision's graph is a few thousand rows, where numpy's per-call cost
    is a fraction of torch's (124 against 252 us per ta71 decision in torch ops)."""
    alive = obs["alive"].astype(bool)
    if not alive.any():  # the no-op step of an episode that needed no decision
        alive = np.ones_like(alive)
    op_machine = obs["op_machine"][alive].astype(np.int64)
    op_features = obs["op_features"][alive]
    machine_features = obs["machine_features"]
    if machine_load:
        load = _machine_load(
            op_features, op_machine, machine_features.shape[0], obs["job_op"].shape[0]
        )
        machine_features = np.concatenate([machine_features, load], axis=1)
    x = np.concatenate([op_features, machine_features[op_machine]], axis=1)
    conj = obs["conj_edge_index"]
    kept = conj[:, alive[conj[0]] & alive[conj[1]]]
    new_id = np.cumsum(alive, dtype=np.int64) - 1  # old node id -> id in the alive subgraph
    kept = new_id[kept]
    job_op = obs["job_op"]
    return {
        "x": x,
        # messages flow source -> target: predecessor -> op, successor -> op
        "edge_index": np.concatenate([kept, kept[::-1]], axis=1),
        "edge_type": np.repeat(np.array([PRED, SUCC], dtype=np.int64), kept.shape[1]),
        # finished jobs point at node 0; they are masked out anyway
        "cand_index": np.where(alive[job_op], new_id[job_op], 0).astype(np.int64),
        "cand_mask": obs["action_mask"].astype(bool),
        "op_machine": op_machine,
    }


def obs_to_data(obs: dict, machine_load: bool = False) -> Data:
    """One observation -> the alive subgraph as ``Data`` (no Python loop over nodes)."""
    arrays = _graph_arrays(obs, machine_load)
    return Data(**{key: torch.from_numpy(a) for key, a in arrays.items()})


def collate(obs_list: list[dict], machine_load: bool = False) -> Batch:
    """Observations -> one PyG ``Batch``, the one ``Batch.from_data_list([obs_to_data(o)
    ...], follow_batch=["cand_index"])`` builds (tested): node indices (``edge_index``,
    ``cand_index``) shifted by the nodes of the graphs before, ``batch`` / ``ptr`` and
    ``cand_index_batch`` / ``cand_index_ptr`` per graph.

    Concatenated in numpy rather than by PyG's general collation, which was half the time
    of a rollout planner's batched decisions (a ``Data`` per observation, then per-key
    increments and slices)."""
    graphs = [_graph_arrays(o, machine_load) for o in obs_list]
    nodes = np.array([g["x"].shape[0] for g in graphs])
    cands = np.array([g["cand_index"].shape[0] for g in graphs])
    first = np.concatenate([[0], np.cumsum(nodes)])  # each graph's first node id
    ids = np.arange(len(graphs))
    fields = {
        "x": np.concatenate([g["x"] for g in graphs]),
        "edge_index": np.concatenate(
            [g["edge_index"] + offset for g, offset in zip(graphs, first[:-1], strict=True)], axis=1
        ),
        "cand_index": np.concatenate(
            [g["cand_index"] + offset for g, offset in zip(graphs, first[:-1], strict=True)]
        ),
        **{
            key: np.concatenate([g[key] for g in graphs])
            for key in ("edge_type", "cand_mask", "op_machine")
        },
        "batch": np.repeat(ids, nodes),
        "ptr": first,
        "cand_index_batch": np.repeat(ids, cands),
        "cand_index_ptr": np.concatenate([[0], np.cumsum(cands)]),
    }
    return Batch(**{key: torch.from_numpy(a) for key, a in fields.items()})


@dataclass
class PolicyConfig(Config):
    """Size of the GNN policy."""

    hidden: int = config_field(64, ge=1)
    """Width of node embeddings."""
    layers: int = config_field(3, ge=1)
    """Number of TypedGINConv layers."""
    decisions: Literal["non_delay", "reserve"] = "non_delay"
    """The simulator's decision model the policy acts in (``envs/jobshop/sim.py``):
    non_delay (a free machine takes a waiting job at once) or reserve (it may also be kept
    for a job still in process elsewhere). Saved with the policy; evaluation runs a policy
    in its own model."""
    machine_load: bool = False
    """Append each machine's remaining work to the node features
    (``MACHINE_LOAD_FEATURES``). Read off a policy file's weights."""


class JobShopGNNPolicy(nn.Module):
    """Actor-critic over the disjunctive graph (implements ``rlsys.rl.policy.ActorCritic``)."""

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 3,
        imitation_coef: float = 0.0,
        decisions: str = "non_delay",
        machine_load: bool = False,
    ) -> None:
        super().__init__()
        self.config = PolicyConfig(
            hidden=hidden, layers=layers, decisions=decisions, machine_load=machine_load
        )
        if imitation_coef > 0:
            # training with a planning teacher (``rlsys/jobshop/teacher.py``): PPO's learner
            # adds ``auxiliary_loss()`` to its loss; without a teacher the hook is absent and
            # PPO runs exactly as before
            self.imitation_coef = float(imitation_coef)
            self.auxiliary_loss = self._imitation_term
            self._imitation: Tensor | None = None
        in_features = IN_FEATURES + (len(MACHINE_LOAD_FEATURES) if machine_load else 0)
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.convs = nn.ModuleList(
            TypedGINConv(2 * hidden, hidden, num_edge_types=2, hidden=hidden) for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.actor = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.critic = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    @property
    def device(self) -> torch.device:
        return self.encoder[0].weight.device

    def collate(self, obs: list[dict]) -> Batch:
        """Observations -> one PyG ``Batch`` on the policy's device."""
        batch = collate(obs, self.config.machine_load)
        return batch if self.device.type == "cpu" else batch.to(self.device)

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Returns (logits [B, n_max], mask [B, n_max], values [B])."""
        h = self.encoder(batch.x)
        n_graphs = batch.num_graphs
        # one id per (graph, machine): the groups of the disjunctive cliques
        n_machines = int(batch.op_machine.max()) + 1
        n_groups = n_graphs * n_machines
        machine = batch.batch * n_machines + batch.op_machine
        # the machine means of every layer share the group sizes: count them once (the same
        # sum and division as PyG's scatter mean, so the same floats)
        count = h.new_zeros(n_groups).scatter_add_(0, machine, h.new_ones(h.size(0)))
        count = count.clamp(min=1).unsqueeze(-1)
        machine_rows = machine.unsqueeze(-1).expand_as(h)
        # job chains: one predecessor and one successor per node, so a gather, not a scatter
        chain = TypedGINConv.single_neighbours(batch.edge_index, batch.edge_type, h.size(0), 2)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            rivals = h.new_zeros(n_groups, h.size(-1)).scatter_add_(0, machine_rows, h) / count
            if chain is None:
                h_in = torch.cat([h, rivals[machine]], dim=-1)
                out = conv(h_in, batch.edge_index, batch.edge_type)
            else:
                out = conv.forward_grouped(h, rivals, machine, chain)
            h = norm(h + out.relu_())  # in place: ``out`` is not needed after
        g = torch.cat(
            [
                global_mean_pool(h, batch.batch, n_graphs),
                global_max_pool(h, batch.batch, n_graphs),
            ],
            dim=-1,
        )  # [B, 2H]
        cand_graph = batch.cand_index_batch
        scores = self.actor(torch.cat([h[batch.cand_index], g[cand_graph]], dim=-1)).squeeze(-1)
        width = scores.size(0) // n_graphs
        if bool((batch.cand_index_ptr.diff() == width).all()):
            # as many jobs in every graph (one instance: greedy schedules, planners): the
            # dense [B, n] layout is a view, nothing to pad
            logits, mask = scores.view(n_graphs, width), batch.cand_mask.view(n_graphs, width)
        else:
            logits, _ = to_dense_batch(scores, cand_graph, batch_size=n_graphs)
            mask, _ = to_dense_batch(
                batch.cand_mask, cand_graph, fill_value=False, batch_size=n_graphs
            )
        values = self.critic(g).squeeze(-1)
        return logits, mask, values

    @torch.no_grad()
    def act(
        self,
        obs: list[dict],
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        logits, mask, values = self(self.collate(obs))
        dist = MaskedCategorical(logits, mask)
        actions = dist.mode() if deterministic else dist.sample(generator)
        return (
            actions.cpu().numpy(),
            dist.log_prob(actions).cpu().numpy(),
            values.cpu().numpy(),
            {},
        )

    def evaluate(
        self, obs: list[dict], actions: Tensor, extras: dict | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        logits, mask, values = self(self.collate(obs))
        dist = MaskedCategorical(logits, mask)
        if hasattr(self, "imitation_coef"):
            from rlsys.jobshop.teacher import imitation_loss

            self._imitation = imitation_loss(logits, mask, obs)
        return dist.log_prob(actions), dist.entropy(), values

    def _imitation_term(self) -> Tensor:
        """``imitation_coef`` x the last ``evaluate`` batch's cross-entropy to the teacher
        (0 when none of its decisions was labelled)."""
        if self._imitation is None:
            return torch.zeros((), device=self.device)
        return self.imitation_coef * self._imitation

    # -------------------------------------------------------------- files
    def save(self, path: str | Path, metadata: dict | None = None) -> Path:
        """The same layout as the trainer's final.pt: {"model": state_dict, "meta": ...}."""
        meta = {"policy_kwargs": asdict(self.config), **(metadata or {})}
        return save_policy_file(path, self, meta)

    @classmethod
    def load(cls, path: str | Path) -> JobShopGNNPolicy:
        """Rebuild a policy from a file with its weights: ``save``'s, the trainer's final.pt
        or a training checkpoint (the network's size, and whether it reads the machine-load
        features, are read off the weights)."""
        state, meta = read_policy_file(path)
        decisions = (meta.get("policy_kwargs") or {}).get("decisions", "non_delay")
        if getattr(state.get("encoder.0.weight"), "ndim", 0) != 2:
            raise ValueError(f"{path}: not a job-shop GNN policy file")
        hidden, in_features = state["encoder.0.weight"].shape
        machine_load = in_features == IN_FEATURES + len(MACHINE_LOAD_FEATURES)
        layers = len({key.split(".")[1] for key in state if key.startswith("convs.")})
        try:
            policy = cls(
                hidden=int(hidden), layers=layers, decisions=decisions, machine_load=machine_load
            )
            policy.load_state_dict(state)
        except (RuntimeError, ValueError) as exc:  # no convs; missing or misshapen weights
            detail = str(exc).splitlines()[-1].strip()
            raise ValueError(f"{path}: weights do not fit the GNN policy ({detail})") from None
        policy.eval()
        return policy
