"""Gymnasium environment ``rlsys/ISBJSSP-v0`` over the event-driven simulator.

    import gymnasium as gym, envs.jobshop
    env = gym.make("rlsys/ISBJSSP-v0", instance="ta01", shutdown_prob=0.05, seed=0)

Action: a job index (``Discrete(n_jobs)``): send that job to its next machine
(``decisions="reserve"``: a job still in process may be chosen too, which keeps its next
machine free for it; see ``envs/jobshop/sim.py``).
``info["action_mask"]`` (and ``obs["action_mask"]``) is the boolean mask of jobs that
may move now. An illegal action is replaced by the first legal job and flagged with
``info["illegal_action"] = True`` (``illegal_action="raise"`` raises instead), so that
generic tools that sample unmasked actions (gymnasium's ``check_env``) still run.

An episode that needs no decision at all (possible on tiny instances) takes one no-op step.

Reward: minus the time advanced by the step (time units) times ``reward_scale``, so the
undiscounted return is ``-makespan * reward_scale``.

Observation (a ``Dict``), the dynamic disjunctive graph with N = n_jobs * n_ops
operation nodes, node ``j * n_ops + k`` = job j's k-th operation. Topology arrays are
static; finished operations leave the graph through ``alive``, so a PyG policy builds
its ``Data`` with tensor ops only (``x = cat(op_features, machine_features[op_machine])``,
``subgraph(alive, conj_edge_index)``). The disjunctive arcs (a clique per machine) are
not in the observation: ``op_machine`` says which operations share a machine, and
``env.topology.disj_edge_index`` has the arcs for a policy that wants them as edges.

- ``op_features`` (N, 11) float32: status one-hot (waiting, ready, processing,
  blocking = finished but still on its machine, done), processing time, job work from
  this operation on, fraction of the job's operations from this one on, time since ready,
  remaining processing (of an operation in progress: its end time minus now, which
  counts the downtime that will interrupt it before it ends, future included: a peek
  that a real scheduler would not have; replacing it with the work left changes the
  shipped policy's mean makespan by +0.15 % at p = 0.05 and +0.45 % at p = 0.1 on
  la01-la10, `bench/jobshop_obs_peek.py`),
  is a candidate now. Times are divided
  by the instance's largest processing time (work by that times n_ops).
- ``machine_features`` (n_machines, 5) float32: down, remaining repair, occupied,
  occupant is blocked, waiting jobs / n_jobs.
- ``op_machine``, ``op_job`` (N,) int64: static maps node -> machine, node -> job.
- ``conj_edge_index`` (2, n_jobs * (n_ops - 1)) int32: job order arcs k -> k+1.
- ``alive`` (N,) int8: 1 until the operation is done (has left its machine).
- ``job_op`` (n_jobs,) int64: node of each job's next operation (the one an action
  starts; the last node for finished jobs): gather per-node scores here for the actor.
- ``action_mask`` (n_jobs,) int8.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.jobshop import kernels
from envs.jobshop.instance import Instance, load_instance
from envs.jobshop.shutdowns import RepairTime
from envs.jobshop.sim import OP_READY, OP_WAITING, Simulator

OP_FEATURES = (
    "waiting",
    "ready",
    "processing",
    "blocking",
    "done",
    "processing_time",
    "job_work_from_here",
    "job_ops_from_here",
    "time_since_ready",
    "remaining_processing",
    "candidate",
)
MACHINE_FEATURES = ("down", "remaining_repair", "occupied", "occupant_blocked", "n_waiting")
# Per node status: the one-hot (columns 0-4) and 1 in "remaining processing" (column 9)
# for operations not started yet (waiting or ready), where it is their processing time
# (``GraphTopology.status_weight`` holds that time; processing operations are set apart).
_STATUS_FEATURES = np.zeros((5, len(OP_FEATURES)), dtype=np.float32)
_STATUS_FEATURES[:, :5] = np.eye(5)
_STATUS_FEATURES[[OP_WAITING, OP_READY], 9] = 1
_ALIVE = np.array([1, 1, 1, 1, 0], dtype=np.int8)  # every status but done


class GraphTopology:
    """Static arrays of one instance's disjunctive graph (shared, read-only)."""

    def __init__(self, inst: Instance) -> None:
        n, K = inst.n_jobs, inst.n_ops
        N = n * K
        self._inst = inst
        self.op_job = np.repeat(np.arange(n), K)
        self.op_index = np.tile(np.arange(K), n)
        self.op_machine = inst.machines.reshape(-1).astype(np.int64)
        nodes = np.arange(N).reshape(n, K)
        self.conj_edge_index = np.stack([nodes[:, :-1].ravel(), nodes[:, 1:].ravel()]).astype(
            np.int32
        )
        scale = max(1, int(inst.times.max()))
        self.time_scale = float(scale)
        times = inst.times.astype(np.float64)
        work_from_here = np.cumsum(times[:, ::-1], axis=1)[:, ::-1]
        static = np.zeros((N, len(OP_FEATURES)), dtype=np.float32)
        static[:, 5] = (times / scale).ravel()
        static[:, 6] = (work_from_here / (scale * K)).ravel()
        static[:, 7] = ((K - np.arange(K)) / K)[None, :].repeat(n, 0).ravel()
        self.static_op_features = static
        # multiplies the per-status row: keeps the one-hot, turns the not-started flag
        # into the operation's (scaled) processing time
        weight = np.zeros((N, len(OP_FEATURES)), dtype=np.float32)
        weight[:, :5] = 1
        weight[:, 9] = (times / scale).ravel()
        self.status_weight = weight
        self.job_first_op = np.arange(n) * K
        for arr in (
            self.op_job,
            self.op_machine,
            self.conj_edge_index,
            self.static_op_features,
            self.status_weight,
        ):
            arr.setflags(write=False)

    @functools.cached_property
    def disj_edge_index(self) -> np.ndarray:
        """(2, E) int32: both directions between operations that share a machine.

        Not part of the observation: it is a clique per machine, O(n^2 m) arcs (17,400 on
        30x20, 198,000 on 100x20), static, and the GNN reads the same relation from a
        per-machine mean pool; copying it into every observation cost more than the rest
        of the graph. Built on first use."""
        order = np.argsort(self.op_machine, kind="stable")
        srcs, dsts = [], []
        bounds = np.searchsorted(self.op_machine[order], np.arange(self._inst.n_machines + 1))
        for i in range(self._inst.n_machines):
            ops = order[bounds[i] : bounds[i + 1]]
            a, b = np.meshgrid(ops, ops, indexing="ij")
            keep = a != b
            srcs.append(a[keep])
            dsts.append(b[keep])
        out = np.stack([np.concatenate(srcs), np.concatenate(dsts)]).astype(np.int32)
        out.setflags(write=False)
        return out


class ISBJSSPEnv(gym.Env):
    """Interrupting swap-allowed blocking job shop; see the module docstring."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        instance: str | Instance = "ft06",
        shutdown_prob: float = 0.0,
        seed: int | None = None,
        swaps: bool = True,
        repair: str | RepairTime = "uniform:1:10",
        resume: bool = True,
        reward_scale: float = 1.0,
        illegal_action: str = "first",
        decisions: str = "non_delay",
    ) -> None:
        if illegal_action not in ("first", "raise"):
            raise ValueError("illegal_action must be 'first' or 'raise'")
        if not 0.0 <= float(shutdown_prob) < 1.0:
            raise ValueError(f"shutdown_prob must be in [0, 1), got {shutdown_prob}")
        self.instance = load_instance(instance)
        self.shutdown_prob = float(shutdown_prob)
        self.swaps = swaps
        self.repair = RepairTime.parse(repair) if isinstance(repair, str) else repair
        self.resume = resume
        self.reward_scale = float(reward_scale)
        self.illegal_action = illegal_action
        self.decisions = decisions
        self._first_seed = seed
        self.topology = GraphTopology(self.instance)
        n, K, m = self.instance.n_jobs, self.instance.n_ops, self.instance.n_machines
        N = n * K
        topo = self.topology
        f32 = np.float32
        self.observation_space = spaces.Dict(
            {
                "op_features": spaces.Box(-np.inf, np.inf, (N, len(OP_FEATURES)), f32),
                "machine_features": spaces.Box(-np.inf, np.inf, (m, len(MACHINE_FEATURES)), f32),
                "op_machine": spaces.Box(0, m - 1, (N,), np.int64),
                "op_job": spaces.Box(0, n - 1, (N,), np.int64),
                "conj_edge_index": spaces.Box(0, N - 1, topo.conj_edge_index.shape, np.int32),
                "alive": spaces.Box(0, 1, (N,), np.int8),
                "job_op": spaces.Box(0, N - 1, (n,), np.int64),
                "action_mask": spaces.Box(0, 1, (n,), np.int8),
            }
        )
        self.action_space = spaces.Discrete(n)
        self.sim: Simulator | None = None

    # ----------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self.sim is None:
            seed = self._first_seed
        super().reset(seed=seed)
        # The shutdown path of an episode is fixed by its seed (common random numbers):
        # reset(seed=s) sees the same disruptions as `rlsys jobshop schedule --seed s`.
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        options = options or {}
        if "instance" in options:
            inst = load_instance(options["instance"])
            if inst.shape != self.instance.shape or inst.n_ops != self.instance.n_ops:
                raise ValueError("options['instance'] must have the env's shape")
            self.instance = inst
            self.topology = GraphTopology(inst)
        self.sim = Simulator(
            self.instance,
            options.get("shutdown_prob", self.shutdown_prob),
            episode_seed,
            swaps=self.swaps,
            repair=self.repair,
            resume=self.resume,
            decisions=self.decisions,
        )
        obs = self._observation()
        # An episode can need no decision at all (every machine only ever has one waiting
        # job). The agent then takes one no-op step that collects the whole makespan.
        self._noop_pending = self.sim.done
        if self._noop_pending:
            obs["action_mask"][0] = 1
            self._mask[0] = True
        return obs, self._info()

    def step(self, action):
        sim = self.sim
        if sim is None:
            raise RuntimeError("call reset() before step()")
        if self._noop_pending:
            self._noop_pending = False
            obs = self._observation()
            info = self._info()
            info["illegal_action"] = False
            return obs, -sim.t * self.reward_scale, True, False, info
        job = int(action)
        illegal = not (0 <= job < sim.n_jobs) or not self._mask[job]
        if illegal:
            if self.illegal_action == "raise":
                raise ValueError(f"job {job} cannot move now (mask {self._mask.nonzero()[0]})")
            job = int(np.flatnonzero(self._mask)[0])
        dt = sim.step(job)
        obs = self._observation()
        info = self._info()
        info["illegal_action"] = illegal
        return obs, -dt * self.reward_scale, sim.done, False, info

    # ----------------------------------------------------------------- helpers
    def _info(self) -> dict:
        sim = self.sim
        info = {"action_mask": self._mask.astype(bool), "time": sim.t}
        if sim.done:
            info["makespan"] = sim.makespan
            info["deadlock"] = sim.deadlock
        return info

    def _observation(self) -> dict:
        obs = observe(self.sim, self.topology)
        self._mask = obs["action_mask"].astype(bool)
        return obs


def observe(sim: Simulator, topo: GraphTopology) -> dict:
    """The graph observation of ``sim`` now (see the module docstring); also used by
    policies that drive a ``Simulator`` directly.

    One compiled pass fills the arrays (``kernels.observe_into``): the per-status part is
    float32 arithmetic as numpy would do it, the time features are float64 rounded to
    float32, so the values are those of the numpy version it replaced, bit for bit."""
    n, K, m = sim.n_jobs, sim.n_ops, sim.n_machines
    N = n * K
    feats = np.empty((N, len(OP_FEATURES)), dtype=np.float32)
    machine_features = np.empty((m, len(MACHINE_FEATURES)), dtype=np.float32)
    mask = np.empty(n, dtype=np.int8)
    alive = np.empty(N, dtype=np.int8)
    job_op = np.empty(n, dtype=np.int64)
    sp = sim.shutdowns
    kernels.observe_into(
        sim._js, sim._ms, sim._ops, sim._status, sim._sc, sim._mach,
        sp.starts, sp.ends, sp.count, sp.ptr,
        _STATUS_FEATURES, topo.status_weight, topo.static_op_features, 1.0 / topo.time_scale,
        feats, machine_features, mask, alive, job_op, _ALIVE,
    )  # fmt: skip
    return {
        "op_features": feats,
        "machine_features": machine_features,
        # Static topology, copied: gymnasium's contract is fresh data on every call.
        "op_machine": topo.op_machine.copy(),
        "op_job": topo.op_job.copy(),
        "conj_edge_index": topo.conj_edge_index.copy(),
        "alive": alive,
        "job_op": job_op,
        "action_mask": mask,
    }
