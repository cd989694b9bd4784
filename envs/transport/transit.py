"""Transit skims: stop-to-stop routes and zone-to-zone access/egress choices.

Lines run on their own right of way at a fixed commercial speed, so transit routes are
static and computed once per scenario:

1. A transit graph has one *platform* node per stop node and one *on-board* node per
   (line, stop). Boarding costs ``wait_weight * headway / 2`` generalised minutes plus a
   transfer penalty, riding costs the in-vehicle minutes, alighting is free; a transfer
   is alighting and boarding another line at a shared stop. One Dijkstra per platform
   gives every stop-to-stop route; walking its predecessor tree sums in-vehicle time per
   line, wait, boardings and fares (fare is charged per boarding).
2. For every zone pair the best (access stop, egress stop) is chosen by generalised
   time, separately for walk access (stops within ``max_access_walk_km``) and for
   park-and-ride access (drive or ride-hail to a stop listed in ``park_and_ride``,
   judged on free-flow drive time). Egress is always a walk. Trips inside one zone
   have no transit option.

The dynamic parts (congested drive to the park-and-ride stop, crowding) are added by
the simulator from ``ivt_by_line`` / ``boardings_by_line``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass(frozen=True)
class Line:
    """A resolved transit line (stops are road node ids)."""

    name: str
    stops: np.ndarray  # [k] road nodes, in order
    segment_km: np.ndarray  # [k-1]
    headway_min: float
    speed_kmh: float
    fare: float
    vehicle_capacity: float  # per vehicle, already times the sample factor
    park_and_ride: np.ndarray  # road nodes


@dataclass(frozen=True)
class TransitOption:
    """One access variant (walk or park-and-ride) for every zone pair ``od = o * Z + d``."""

    available: np.ndarray  # [OD] bool
    access_node: np.ndarray  # [OD] road node of the boarding stop (-1 if unavailable)
    access_walk_km: np.ndarray  # [OD] walk to the boarding stop (0 for park-and-ride)
    access_drive_km: np.ndarray  # [OD] drive to the park-and-ride stop (0 for walk access)
    egress_walk_km: np.ndarray  # [OD]
    wait_min: np.ndarray  # [OD] sum of headway/2 over boardings
    ivt_min: np.ndarray  # [OD] uncrowded in-vehicle minutes
    transfers: np.ndarray  # [OD] transit-to-transit transfers
    fare: np.ndarray  # [OD] $
    ivt_by_line: np.ndarray  # [OD, lines] in-vehicle minutes on each line
    boardings_by_line: np.ndarray  # [OD, lines]


@dataclass(frozen=True)
class TransitSkims:
    lines: list[Line]
    walk: TransitOption
    park_and_ride: TransitOption

    @property
    def n_lines(self) -> int:
        return len(self.lines)


def stop_routes(lines: list[Line], wait_weight: float, transfer_penalty_min: float) -> dict:
    """Best route between every two stop nodes (see the module docstring, step 1)."""
    stop_nodes = np.unique(np.concatenate([ln.stops for ln in lines]))
    n_plat = len(stop_nodes)
    plat_of = {int(v): i for i, v in enumerate(stop_nodes)}
    tails, heads, weight, kind, line_id, minutes = [], [], [], [], [], []

    def edge(a: int, b: int, w: float, k: int, li: int, m: float) -> None:
        tails.append(a), heads.append(b), weight.append(w)
        kind.append(k), line_id.append(li), minutes.append(m)

    BOARD, RIDE = 0, 1
    nxt = n_plat
    for li, ln in enumerate(lines):
        onboard = np.arange(nxt, nxt + len(ln.stops))
        nxt += len(ln.stops)
        wait = ln.headway_min / 2.0
        for i, node in enumerate(ln.stops):
            p = plat_of[int(node)]
            edge(p, onboard[i], wait_weight * wait + transfer_penalty_min, BOARD, li, wait)
            edge(onboard[i], p, 0.0, 2, li, 0.0)
        for i, km in enumerate(ln.segment_km):
            ivt = km / ln.speed_kmh * 60.0
            edge(onboard[i], onboard[i + 1], ivt, RIDE, li, ivt)
            edge(onboard[i + 1], onboard[i], ivt, RIDE, li, ivt)
    n_v = nxt
    tails, heads = np.array(tails), np.array(heads)
    # zero-cost alighting edges must survive as explicit entries: shift all weights by eps
    w = np.array(weight) + 1e-9
    graph = csr_matrix((w, (tails, heads)), shape=(n_v, n_v))
    gen, pred = dijkstra(graph, directed=True, indices=np.arange(n_plat), return_predecessors=True)
    edge_of = np.full((n_v, n_v), -1, dtype=np.int64)
    edge_of[tails, heads] = np.arange(len(tails))
    kind, line_id, minutes = np.array(kind), np.array(line_id), np.array(minutes)
    fares = np.array([ln.fare for ln in lines])

    n_lines = len(lines)
    ivt_by_line = np.zeros((n_plat, n_plat, n_lines))
    board_by_line = np.zeros((n_plat, n_plat, n_lines))
    wait = np.zeros((n_plat, n_plat))
    # walk every (origin platform, destination platform) route back to its origin at once
    o, d = np.divmod(np.arange(n_plat * n_plat), n_plat)
    ok = (o != d) & np.isfinite(gen[o, d])
    o, d = o[ok], d[ok]
    cur = d.copy()
    while o.size:
        prev = pred[o, cur]
        e = edge_of[prev, cur]
        k, li = kind[e], line_id[e]
        ride, board = k == RIDE, k == BOARD
        np.add.at(ivt_by_line, (o[ride], d[ride], li[ride]), minutes[e[ride]])
        np.add.at(board_by_line, (o[board], d[board], li[board]), 1.0)
        np.add.at(wait, (o[board], d[board]), minutes[e[board]])
        keep = prev != o
        o, d, cur = o[keep], d[keep], prev[keep]
    gen = gen[:, :n_plat].copy()
    np.fill_diagonal(gen, np.inf)
    boardings = board_by_line.sum(axis=2)
    return {
        "stop_nodes": stop_nodes,
        "gen_min": gen - transfer_penalty_min,  # one boarding is not a transfer
        "ivt_by_line": ivt_by_line,
        "boardings_by_line": board_by_line,
        "wait_min": wait,
        "transfers": np.maximum(boardings - 1.0, 0.0),
        "fare": board_by_line @ fares,
    }


def _pick(
    access_cost: np.ndarray, egress_cost: np.ndarray, gen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For cost arrays access [Z, P] and egress [P, Z], the best (s1, s2) per zone pair.

    Returns (total [Z, Z], s1 [Z, Z], s2 [Z, Z]); loops over origin zones only.
    """
    n_z = access_cost.shape[0]
    total = np.full((n_z, n_z), np.inf)
    s1 = np.zeros((n_z, n_z), dtype=np.int64)
    s2 = np.zeros((n_z, n_z), dtype=np.int64)
    for o in range(n_z):
        via = access_cost[o][:, None] + gen  # [s1, s2]
        best1 = np.argmin(via, axis=0)
        reach = via[best1, np.arange(via.shape[1])]  # [s2]
        full = reach[:, None] + egress_cost  # [s2, d]
        best2 = np.argmin(full, axis=0)
        total[o] = full[best2, np.arange(n_z)]
        s2[o] = best2
        s1[o] = best1[best2]
    return total, s1, s2


def build_transit_skims(
    lines: list[Line],
    zone_stop_walk_km: np.ndarray,
    zone_stop_drive_min: np.ndarray,
    zone_stop_drive_km: np.ndarray,
    stop_nodes: np.ndarray,
    max_access_walk_km: float,
    walk_speed_kmh: float,
    wait_weight: float,
    walk_weight: float,
    transfer_penalty_min: float,
) -> TransitSkims:
    """Zone-to-zone transit options; ``zone_stop_*`` are [Z, P] over ``stop_nodes``.

    ``stop_nodes`` must be the sorted unique stop nodes of ``lines``.
    """
    n_z = zone_stop_walk_km.shape[0]
    n_l = len(lines)
    if not lines:
        empty = _empty_option(n_z, n_l)
        return TransitSkims(lines=[], walk=empty, park_and_ride=empty)
    routes = stop_routes(lines, wait_weight, transfer_penalty_min)
    assert np.array_equal(routes["stop_nodes"], stop_nodes)
    walk_min = zone_stop_walk_km / walk_speed_kmh * 60.0
    in_reach = zone_stop_walk_km <= max_access_walk_km
    walk_cost = np.where(in_reach, walk_weight * walk_min, np.inf)  # [Z, P]
    egress_cost = walk_cost.T  # walking is symmetric
    pnr_nodes = np.unique(np.concatenate([ln.park_and_ride for ln in lines] + [np.zeros(0)]))
    is_pnr = np.isin(stop_nodes, pnr_nodes)
    drive_cost = np.where(is_pnr[None, :], zone_stop_drive_min, np.inf)

    options = []
    for access in (walk_cost, drive_cost):
        total, s1, s2 = _pick(access, egress_cost, routes["gen_min"])
        ok = np.isfinite(total)
        np.fill_diagonal(ok, False)  # no transit inside a zone
        o = np.repeat(np.arange(n_z), n_z)
        s1f, s2f, okf = s1.ravel(), s2.ravel(), ok.ravel()
        d = np.tile(np.arange(n_z), n_z)

        def at(table: np.ndarray, s1f=s1f, s2f=s2f, okf=okf) -> np.ndarray:
            value = table[s1f, s2f]
            mask = okf.reshape((-1,) + (1,) * (value.ndim - 1))
            return np.where(mask, value, 0.0)

        is_walk = access is walk_cost
        options.append(
            TransitOption(
                available=okf,
                access_node=np.where(okf, stop_nodes[s1f], -1),
                access_walk_km=np.where(okf & is_walk, zone_stop_walk_km[o, s1f], 0.0),
                access_drive_km=np.where(okf & ~is_walk, zone_stop_drive_km[o, s1f], 0.0),
                egress_walk_km=np.where(okf, zone_stop_walk_km[d, s2f], 0.0),
                wait_min=at(routes["wait_min"]),
                ivt_min=at(routes["ivt_by_line"]).sum(axis=1),
                transfers=at(routes["transfers"]),
                fare=at(routes["fare"]),
                ivt_by_line=at(routes["ivt_by_line"]),
                boardings_by_line=at(routes["boardings_by_line"]),
            )
        )
    return TransitSkims(lines=lines, walk=options[0], park_and_ride=options[1])


def _empty_option(n_z: int, n_l: int) -> TransitOption:
    od = n_z * n_z
    zeros = np.zeros(od)
    return TransitOption(
        available=np.zeros(od, bool),
        access_node=np.full(od, -1),
        access_walk_km=zeros,
        access_drive_km=zeros,
        egress_walk_km=zeros,
        wait_min=zeros,
        ivt_min=zeros,
        transfers=zeros,
        fare=zeros,
        ivt_by_line=np.zeros((od, n_l)),
        boardings_by_line=np.zeros((od, n_l)),
    )
