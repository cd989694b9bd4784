"""`rlsys transport ...` commands.

``rlsys transport simulate`` runs the agent-based transport simulation of
``envs.transport`` for a scenario (a shipped name or a YAML path) and an ASC file, and
writes every iteration's mode shares (percent), mean travel times per mode (min), VMT
(miles) and ride-hail wait (min) as JSON; ``--plot`` draws the shares over iterations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from envs.transport import (
    DEFAULT_SCENARIO,
    MODES,
    SimState,
    TransportSim,
    asc_vector,
    load_scenario,
    load_state,
    read_asc,
    save_state,
)
from rlsys.paths import check_writable


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `rlsys transport simulate`."""
    parser = sub.add_parser(
        "transport",
        help="agent-based transport simulation (eight-mode logit choice, congestion)",
        description="Agent-based transport simulation (MATSim/BEAM-style day loop).",
    )
    commands = parser.add_subparsers(dest="transport_command", required=True, metavar="COMMAND")
    sim = commands.add_parser(
        "simulate",
        help="run the simulation and write per-iteration mode shares",
        description="Run the day loop; write per-iteration outputs as JSON.",
    )
    sim.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"shipped scenario name or YAML path (default: {DEFAULT_SCENARIO})",
    )
    sim.add_argument(
        "--asc", type=Path, help="YAML map mode -> ASC ($); missing modes 0, car must be 0"
    )
    sim.add_argument("--iterations", type=int, default=20, help="iterations to run (default 20)")
    sim.add_argument(
        "--seed", type=int, help="simulation seed (default 1; with --state-in: the state's)"
    )
    sim.add_argument("--agents", type=int, help="override the scenario's number of agents")
    sim.add_argument("--out", type=Path, help="write the per-iteration outputs to this JSON file")
    sim.add_argument("--plot", type=Path, help="write a PNG of mode shares over iterations")
    sim.add_argument("--state-in", type=Path, help="continue from a state saved by --state-out")
    sim.add_argument("--state-out", type=Path, help="save the final state (.npz) to continue")
    sim.set_defaults(func=simulate)


def simulate(args: argparse.Namespace) -> int:
    """`rlsys transport simulate`: run, print a table, write JSON / PNG / state."""
    if args.iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {args.iterations}")
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    for option in ("out", "plot", "state_out"):
        if getattr(args, option) is not None:
            check_writable(getattr(args, option), "--" + option.replace("_", "-"))
    scenario = load_scenario(args.scenario, agents=args.agents)
    asc = read_asc(args.asc) if args.asc is not None else None
    sim = TransportSim(scenario)
    state = None
    if args.state_in is not None:
        if not args.state_in.is_file():
            raise ValueError(f"state file not found: {args.state_in}")
        state = load_state(args.state_in)
    seed = args.seed if args.seed is not None or state is not None else 1
    outputs, state = _run_with_progress(sim, asc, args.iterations, seed, state)

    result = {
        "scenario": scenario.name,
        "source": scenario.source,
        "agents": scenario.n_agents,
        "seed": state.seed,
        "iterations": len(outputs),
        "asc": dict(zip(MODES, (float(a) for a in asc_vector(asc)), strict=True)),
        "per_iteration": outputs,
    }
    _print_table(result)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
    if args.plot is not None:
        plot_shares(outputs, args.plot, title=f"{scenario.name}, seed {state.seed}")
        print(f"wrote {args.plot}")
    if args.state_out is not None:
        args.state_out.parent.mkdir(parents=True, exist_ok=True)
        save_state(state, args.state_out)
        print(f"wrote {args.state_out} (iteration {state.iteration})")
    return 0


def _run_with_progress(
    sim: TransportSim, asc: Any, iterations: int, seed: int | None, state: SimState | None
) -> tuple[list[dict], SimState]:
    """Run one iteration per call (a continued run equals an uninterrupted one)."""
    from rich.progress import Progress

    outputs: list[dict] = []
    with Progress(transient=True) as progress:
        task = progress.add_task(f"simulating {sim.scenario.name}", total=iterations)
        for _ in range(iterations):
            out, state = sim.run(asc, 1, seed=seed, state=state)
            outputs.extend(out)
            progress.advance(task)
    return outputs, state


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    last = result["per_iteration"][-1]
    table = Table(
        title=f"{result['scenario']}: {result['agents']} agents, iteration {last['iteration']}"
    )
    table.add_column("mode")
    table.add_column("share %", justify="right")
    table.add_column("mean time (min)", justify="right")
    for mode in MODES:
        minutes = last["mean_travel_time_min"][mode]
        table.add_row(
            mode,
            f"{last['mode_shares'][mode]:.2f}",
            "-" if minutes is None else f"{minutes:.1f}",
        )
    console = Console()
    console.print(table)
    wait = last["ride_hail_wait_min"]
    wait_text = "-" if wait is None else f"{wait:.1f} min"
    max_vc = last["link_volumes"]["max_vc"]
    console.print(f"VMT {last['vmt']:,.0f} miles; ride-hail wait {wait_text}; max v/c {max_vc:.2f}")


def plot_shares(outputs: list[dict], path: Path, title: str = "") -> None:
    """PNG of every mode's share (percent) over iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    iterations = [o["iteration"] for o in outputs]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for mode in MODES:
        ax.plot(iterations, [o["mode_shares"][mode] for o in outputs], label=mode)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("mode share (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
