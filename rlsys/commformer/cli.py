"""`rlsys commformer train|eval`."""

from __future__ import annotations

import argparse
import dataclasses

from rlsys.paths import resolve_path


def add_commands(sub: argparse._SubParsersAction) -> None:
    cf = sub.add_parser("commformer", help="CommFormer: learned sparse communication graphs")
    cmds = cf.add_subparsers(dest="commformer_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("train", help="train on Ray rollout actors (PPO + bilevel graph)")
    p.add_argument(
        "--config",
        type=resolve_path,
        help="YAML config (configs/commformer/*.yaml); flags override it",
    )
    p.add_argument("--env", help="predator_prey | capture | simple_spread (default predator_prey)")
    p.add_argument("--dim", type=int, help="grid side (default 10)")
    p.add_argument("--agents", type=int, help="agents in the team (default 5)")
    p.add_argument("--vision", type=int, help="window radius (default 1)")
    p.add_argument("--max-steps", type=int, help="episode length limit (default 4 x dim)")
    p.add_argument("--sparsity", type=float, help="S in (0, 1]: k = max(int(N*S), 1) (0.4)")
    p.add_argument("--graph", help="learned | full | none | random (default learned)")
    p.add_argument("--gating", action="store_true", help="temporal gating of messages")
    p.add_argument("--steps", type=int, help="env-step budget (sets the number of updates)")
    p.add_argument(
        "--init-weights", help="start from this final.pt's weights, or 'pretrained' (fine-tune)"
    )
    p.add_argument("--seed", type=int, help="root seed: model init, rollouts, evaluation")
    p.add_argument("--actors", type=int, help="rollout actors (default 2)")
    p.add_argument("--resume", help="continue a run from its directory")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--runs-dir", help="root of run directories (default runs/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = cmds.add_parser("eval", help="success rate, steps to capture, return, messages/step")
    p.add_argument("--checkpoint", required=True, help="final.pt / checkpoint .pt or 'pretrained'")
    p.add_argument("--episodes", type=int, default=100, help="evaluation episodes (default 100)")
    p.add_argument("--env", help="env name (default: the checkpoint's own)")
    p.add_argument("--dim", type=int, help="grid side (default: the checkpoint's own)")
    p.add_argument("--agents", type=int, help="agents (must match the checkpoint)")
    p.add_argument("--gif", help="also write an animated GIF of the first episode here")
    p.set_defaults(func=cmd_eval)


def _apply_flags(cfg, args) -> None:
    """Command-line flags over the config (each validated by its dataclass)."""
    from rlsys.commformer.train import EnvConfig, ModelConfig

    env = {
        k: v
        for k, v in {
            "name": args.env,
            "dim": args.dim,
            "agents": args.agents,
            "vision": args.vision,
            "max_steps": args.max_steps,
        }.items()
        if v is not None
    }
    if ("dim" in env or "name" in env) and "max_steps" not in env:
        env["max_steps"] = None  # the episode limit follows the new size (4 x dim)
    if env:
        cfg.env = EnvConfig(**{**dataclasses.asdict(cfg.env), **env})
    model = {"sparsity": args.sparsity, "graph": args.graph, "gating": args.gating or None}
    model = {k: v for k, v in model.items() if v is not None}
    if model:
        cfg.model = ModelConfig(**{**dataclasses.asdict(cfg.model), **model})
    if args.init_weights is not None:
        cfg.init_weights = args.init_weights
    from rlsys.commformer.train import updates_for_steps
    from rlsys.runtime import apply_train_flags

    cfg.train = apply_train_flags(cfg.train, args, lambda steps: updates_for_steps(cfg, steps))


def cmd_train(args) -> int:
    from rlsys.commformer.report import write_report
    from rlsys.commformer.train import CommFormerTrainConfig, train
    from rlsys.runtime import print_training_summary, start_training_run

    def flags(cfg, args):
        _apply_flags(cfg, args)
        return cfg

    cfg, run_dir, resume = start_training_run("commformer", CommFormerTrainConfig, args, flags)
    summary = train(cfg, run_dir, resume=resume, progress=not args.no_progress)
    print_training_summary(summary, run_dir, write_report(run_dir, cfg))
    return 0


def cmd_eval(args) -> int:
    from rlsys.commformer.evaluate import run_episodes
    from rlsys.commformer.model import CommFormerPolicy
    from rlsys.commformer.train import EnvConfig, checkpoint_path, make_team_env

    if args.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {args.episodes}")
    path = checkpoint_path(args.checkpoint)
    policy = CommFormerPolicy.load(path)
    import torch

    meta = torch.load(path, map_location="cpu", weights_only=True).get("meta", {})
    saved = meta.get("env") or {}
    env_cfg = EnvConfig(
        **{
            **saved,
            **{k: v for k, v in {"name": args.env, "dim": args.dim}.items() if v is not None},
            "agents": args.agents if args.agents is not None else policy.config.n_agents,
        }
    )
    env = make_team_env(env_cfg)
    n = len(env.possible_agents)
    obs_dim = int(env.observation_space(env.possible_agents[0]).shape[0])
    if n != policy.config.n_agents or obs_dim != policy.config.obs_dim:
        raise ValueError(
            f"{path}: checkpoint is for {policy.config.n_agents} agents with "
            f"{policy.config.obs_dim}-d observations, the env has {n} agents with "
            f"{obs_dim}-d observations"
        )
    torch.set_num_threads(1)
    result = run_episodes(
        policy,
        lambda render_mode=None: make_team_env(env_cfg, render_mode),
        args.episodes,
        record=1 if args.gif else 0,
    )
    print(
        f"{env_cfg.name} {env_cfg.dim}x{env_cfg.dim} N={n} graph={policy.config.graph} "
        f"S={policy.config.sparsity:g}{' gated' if policy.config.gating else ''}, "
        f"{args.episodes} episodes:"
    )
    print(
        f"  success rate {result['success_rate']:.3f}, steps {result['steps']:.2f}, "
        f"return {result['return']:.3f}, messages/step {result['messages_per_step']:.2f}"
    )
    if args.gif:
        from envs.predator_prey.render import save_episode

        save_episode(result["frames"][0], args.gif)
        print(f"episode GIF -> {args.gif}")
    return 0
