"""Schedule files (the JSON contract of the spec) and their validator.

A schedule is ``{"instance", "n_jobs", "n_machines", "makespan", "operations": [{"job",
"index", "machine", "start", "end", "leave"}], "downtime": [{"machine", "start", "end"}]}``.
Optional keys: ``resume`` (default true: interrupted work resumes after repair),
``swaps`` (default true), ``shutdown_prob``, ``seed``.

Validity (all intervals half-open):
1. every operation of the instance appears once, on the instance's machine;
2. start <= end <= leave; a job's operation k+1 starts when operation k leaves; the last
   operation leaves when it ends;
3. on each machine the occupancy intervals [start, leave) are disjoint;
4. nothing starts on a machine that is down;
5. processing time = (end - start) minus the downtime it overlapped (resume), or the
   uninterrupted stretch before end has the full time (restart);
6. downtime intervals are well formed and disjoint per machine;
7. makespan = max leave.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from pathlib import Path

from envs.jobshop.instance import Instance


class ScheduleError(ValueError):
    """A schedule that breaks the contract; the message names the first violation."""


def save_schedule(schedule: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schedule, indent=1))
    return path


def load_schedule(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ScheduleError(f"{path}: no such schedule file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScheduleError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{path}: a schedule is a JSON object")
    return data


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _malformed(schedule: dict) -> str | None:
    """The first value of the wrong type (the checks below compare numbers), or None."""
    if not isinstance(schedule, dict):
        return "a schedule is a JSON object"
    for key in ("operations", "downtime"):
        if not isinstance(schedule[key], list):
            return f"{key} must be a list, got {_show(schedule[key])}"
        for i, item in enumerate(schedule[key]):
            if not isinstance(item, dict):
                return f"{key}[{i}] must be an object, got {_show(item)}"
            for field in ("start", "end", "leave"):
                if field in item and not _is_number(item[field]):
                    return f"{key}[{i}].{field} must be a number, got {_show(item[field])}"
    if not _is_number(schedule["makespan"]):
        return f"makespan must be a number, got {_show(schedule['makespan'])}"
    return None


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _overlap(a: int, b: int, downs: list[tuple[int, int]]) -> int:
    return sum(max(0, min(b, e) - max(a, s)) for s, e in downs)


def violations(schedule: dict, instance: Instance, limit: int | None = None) -> list[str]:
    """All violations found (at most ``limit``), first one first; empty if valid."""
    out: list[str] = []

    def bad(msg: str) -> bool:
        out.append(msg)
        return limit is not None and len(out) >= limit

    for key in ("n_jobs", "n_machines", "makespan", "operations", "downtime"):
        if key not in schedule:
            bad(f"missing key {key!r}")
            return out
    if (schedule["n_jobs"], schedule["n_machines"]) != instance.shape:
        bad(
            f"shape {_show(schedule['n_jobs'])}x{_show(schedule['n_machines'])} does not match "
            f"instance {instance.name} ({instance.n_jobs}x{instance.n_machines})"
        )
        return out
    problem = _malformed(schedule)
    if problem is not None:
        bad(problem)
        return out
    resume = bool(schedule.get("resume", True))
    n, K, m = instance.n_jobs, instance.n_ops, instance.n_machines

    downs: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for d in schedule["downtime"]:
        i, s, e = d.get("machine"), d.get("start"), d.get("end")
        if not isinstance(i, int) or not 0 <= i < m or s is None or e is None or not s < e:
            if bad(f"malformed downtime interval {d}"):
                return out
            continue
        downs[i].append((s, e))
    for i in range(m):
        downs[i].sort()
        for (s0, e0), (s1, e1) in zip(downs[i], downs[i][1:], strict=False):
            if s1 < e0 and bad(f"machine {i}: downtime [{s0},{e0}) overlaps [{s1},{e1})"):
                return out
    down_starts = [[s for s, _ in d] for d in downs]

    ops: dict[tuple[int, int], dict] = {}
    for op in schedule["operations"]:
        key = (op.get("job"), op.get("index"))
        if not (isinstance(key[0], int) and isinstance(key[1], int)):
            if bad(f"operation without integer job/index: {op}"):
                return out
            continue
        if key in ops and bad(f"job {key[0]} op {key[1]}: listed twice"):
            return out
        ops[key] = op
    for j in range(n):
        for k in range(K):
            op = ops.get((j, k))
            where = f"job {j} op {k}"
            if op is None:
                if bad(f"{where}: missing"):
                    return out
                continue
            try:
                s, e, lv = op["start"], op["end"], op["leave"]
            except KeyError as exc:
                if bad(f"{where}: missing field {exc.args[0]!r}"):
                    return out
                continue
            mach = int(instance.machines[j, k])
            if op.get("machine") != mach and bad(
                f"{where}: on machine {op.get('machine')}, instance says {mach}"
            ):
                return out
            if not (0 <= s <= e <= lv) and bad(
                f"{where}: needs 0 <= start <= end <= leave, got {s}, {e}, {lv}"
            ):
                return out
            if k + 1 < K and (j, k + 1) in ops:
                nxt = ops[(j, k + 1)].get("start")
                if nxt != lv and bad(f"{where}: leaves at {lv} but op {k + 1} starts at {nxt}"):
                    return out
            if (
                k == K - 1
                and lv != e
                and bad(f"{where}: last operation leaves at {lv}, ends at {e}")
            ):
                return out
            d = downs[mach]
            idx = bisect_right(down_starts[mach], s) - 1
            if idx >= 0 and d[idx][0] <= s < d[idx][1]:
                if bad(
                    f"{where}: starts at {s} on machine {mach}, down over [{d[idx][0]},{d[idx][1]})"
                ):
                    return out
            p = int(instance.times[j, k])
            if resume:
                worked = (e - s) - _overlap(s, e, d)
                if worked != p and bad(
                    f"{where}: processed {worked} time units, instance says {p}"
                ):
                    return out
            else:
                last_up = max([s] + [b for a, b in d if s <= b <= e and a < e])
                if e - last_up != p and bad(f"{where}: uninterrupted run {e - last_up}, needs {p}"):
                    return out
    by_machine: list[list[tuple[int, int, int, int]]] = [[] for _ in range(m)]
    for (j, k), op in ops.items():
        if "start" not in op or "leave" not in op:
            continue  # reported above as a missing field
        if 0 <= j < n and 0 <= k < K and op["leave"] > op["start"]:
            by_machine[int(instance.machines[j, k])].append((op["start"], op["leave"], j, k))
    for i in range(m):
        occ = sorted(by_machine[i])
        for (s0, l0, j0, k0), (s1, l1, j1, k1) in zip(occ, occ[1:], strict=False):
            if s1 < l0 and bad(
                f"machine {i}: job {j0} op {k0} [{s0},{l0}) overlaps job {j1} op {k1} [{s1},{l1})"
            ):
                return out
    if len(ops) == n * K and all("leave" in op for op in ops.values()):
        mk = max(op["leave"] for op in ops.values())
        if schedule["makespan"] != mk:
            bad(f"makespan {schedule['makespan']} != max leave {mk}")
    return out


def validate(schedule: dict, instance: Instance) -> None:
    """Raise ScheduleError with the first violation, or return if the schedule is valid."""
    found = violations(schedule, instance, limit=1)
    if found:
        raise ScheduleError(f"{schedule.get('instance', instance.name)}: {found[0]}")
