"""Road network: links, shortest paths per time bin, path loading and the BPR function.

Agents are many and the network is small, so everything here works on *pairs*
(time bin, origin zone, target node), never on agents:

- :class:`BinnedRouter` runs one scipy Dijkstra per time bin from every zone centroid
  on that bin's link times; the predecessor trees give each pair's route.
- :func:`walk_paths` follows the predecessor trees of many pairs at once (one numpy
  step per link of the longest route), returning the route incidence as two flat
  arrays (pair, link). Volumes are then one ``np.bincount`` over links and route
  times one ``np.bincount`` over pairs.
- :func:`bpr` is the volume-delay function t = t0 (1 + alpha (v/c)^beta).

Link ids are ``0..L-1``; per-bin quantities are arrays ``[bins, L]`` and a "global"
link id is ``bin * L + link``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass(frozen=True)
class RoadNetwork:
    """Directed road links between nodes (km, minutes, real-population veh/h)."""

    xy_km: np.ndarray  # [N, 2] node coordinates
    tail: np.ndarray  # [L] int, node a link leaves
    head: np.ndarray  # [L] int, node a link enters
    length_km: np.ndarray  # [L]
    free_flow_min: np.ndarray  # [L]
    capacity_vph: np.ndarray  # [L], real population (multiply by the sample factor)

    @property
    def n_nodes(self) -> int:
        return int(self.xy_km.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.tail.shape[0])

    def link_lookup(self) -> np.ndarray:
        """Dense [N, N] table: link id from tail to head, -1 where there is none."""
        table = np.full((self.n_nodes, self.n_nodes), -1, dtype=np.int64)
        table[self.tail, self.head] = np.arange(self.n_links)
        return table

    def graph(self, weight: np.ndarray) -> csr_matrix:
        """The network as a sparse matrix with the given per-link weight."""
        n = self.n_nodes
        return csr_matrix((weight, (self.tail, self.head)), shape=(n, n))


def grid_network(
    rows: int,
    cols: int,
    spacing_km: float,
    speed_kmh: float,
    capacity_vph: float,
    arterial_every: int,
    arterial_speed_kmh: float,
    arterial_capacity_vph: float,
) -> RoadNetwork:
    """A grid of two-way streets; every ``arterial_every``-th row and column is faster."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    xy = np.stack([c * spacing_km, r * spacing_km], axis=1).astype(np.float64)
    node = np.arange(rows * cols).reshape(rows, cols)
    east = np.stack([node[:, :-1].ravel(), node[:, 1:].ravel()], axis=1)
    south = np.stack([node[:-1, :].ravel(), node[1:, :].ravel()], axis=1)
    # a horizontal street is an arterial if its row is; a vertical one if its column is
    east_art = (
        (r[east[:, 0]] % arterial_every == 0) if arterial_every else np.zeros(len(east), bool)
    )
    south_art = (
        (c[south[:, 0]] % arterial_every == 0) if arterial_every else np.zeros(len(south), bool)
    )
    pairs = np.concatenate([east, east[:, ::-1], south, south[:, ::-1]])
    arterial = np.concatenate([east_art, east_art, south_art, south_art])
    speed = np.where(arterial, arterial_speed_kmh, speed_kmh)
    capacity = np.where(arterial, arterial_capacity_vph, capacity_vph)
    length = np.full(len(pairs), float(spacing_km))
    return RoadNetwork(
        xy_km=xy,
        tail=pairs[:, 0].astype(np.int64),
        head=pairs[:, 1].astype(np.int64),
        length_km=length,
        free_flow_min=length / speed * 60.0,
        capacity_vph=capacity.astype(np.float64),
    )


class BinnedRouter:
    """Shortest paths from the zone centroids, one Dijkstra per time bin.

    The CSR structure is built once; each call only refills its data with the bin's
    link times, so a call costs ``bins`` Dijkstra runs on an N-node graph.
    """

    def __init__(self, net: RoadNetwork, source_nodes: np.ndarray):
        self.net = net
        self.sources = np.asarray(source_nodes, dtype=np.int64)
        template = net.graph(np.arange(1, net.n_links + 1, dtype=np.float64))
        template.sort_indices()
        self._indptr = template.indptr.copy()
        self._indices = template.indices.copy()
        self._order = template.data.astype(np.int64) - 1  # CSR slot -> link id
        self.link_of = net.link_lookup()

    def shortest(self, link_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Route times [bins, S, N] (min) and predecessors [bins, S, N] for ``link_time``
        [bins, L] (min); predecessor -9999 marks the source itself or an unreachable node."""
        n = self.net.n_nodes
        bins = link_time.shape[0]
        dist = np.empty((bins, len(self.sources), n))
        pred = np.empty((bins, len(self.sources), n), dtype=np.int32)
        for b in range(bins):
            graph = csr_matrix(
                (link_time[b, self._order], self._indices, self._indptr), shape=(n, n)
            )
            dist[b], pred[b] = dijkstra(
                graph, directed=True, indices=self.sources, return_predecessors=True
            )
        return dist, pred


def walk_paths(
    pred: np.ndarray, link_of: np.ndarray, pair: np.ndarray, source_nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Route incidence of many pairs at once.

    ``pred`` is [bins, S, N] from :meth:`BinnedRouter.shortest`; ``pair`` holds flat
    indices into it, ``(bin * S + s) * N + target``. Returns ``(pair_pos, link)``: for
    every link on the route of ``pair[i]``, one entry with ``pair_pos = i`` and the
    *global* link id ``bin * L + link``. Targets must be reachable (validated when the
    scenario is built).
    """
    bins, n_src, n = pred.shape
    n_links = int(link_of.max()) + 1
    flat_pred = pred.reshape(-1)
    pos = np.arange(pair.size)
    row = pair // n  # bin * S + s
    cur = pair - row * n
    src = source_nodes[row % n_src]
    offset = (row // n_src) * n_links
    out_pos, out_link = [], []
    active = cur != src
    while True:
        pos, row, cur, src, offset = (
            pos[active],
            row[active],
            cur[active],
            src[active],
            offset[active],
        )
        if pos.size == 0:
            break
        prev = flat_pred[row * n + cur].astype(np.int64)
        if prev.min() < 0:  # the scenario check guarantees reachability; never loop forever
            raise RuntimeError("walk_paths: a target is not reachable from its source")
        out_pos.append(pos)
        out_link.append(link_of[prev, cur] + offset)
        cur = prev
        active = cur != src
    if not out_pos:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_pos), np.concatenate(out_link)


def bpr(
    free_flow_min: np.ndarray, volume: np.ndarray, capacity: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    """BPR volume-delay: t = t0 * (1 + alpha * (v / c)^beta); volume and capacity per bin."""
    return free_flow_min * (1.0 + alpha * (volume / capacity) ** beta)
