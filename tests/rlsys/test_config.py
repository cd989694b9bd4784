"""The project's configs through the one strict reader (rlsys.config = envs.config_io)."""

import dataclasses

import pytest

from rlsys.calibration.config import DEFAULT_CONFIG, BOHBConfig, CalibrationConfig
from rlsys.config import ConfigError, load_config
from rlsys.jobshop.policy import PolicyConfig
from rlsys.jobshop.train import InstanceDistribution, JobshopTrainConfig, ValidationConfig
from rlsys.rl.ppo import PPOConfig
from rlsys.rl.trainer import RolloutConfig, TrainConfig
from rlsys.run import JobshopRulesConfig, SuiteConfig, TransportConfig

CONFIGS = DEFAULT_CONFIG.parents[1]  # the shipped configs/ (package data)


@dataclasses.dataclass
class Inner:
    depth: int = 2


@dataclasses.dataclass
class Outer:
    lr: float = 1e-3
    name: str = "x"
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1\ninner:\n  depth: 5\n")
    cfg = load_config(Outer, path, name="y")
    assert cfg == Outer(lr=1.0, name="y", inner=Inner(depth=5))


def test_unknown_key_and_wrong_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1\nbogus: 2\n")
    with pytest.raises(ConfigError, match="unknown key 'bogus' \\(valid: lr, name, inner\\)"):
        load_config(Outer, path)
    path.write_text("inner:\n  depth: deep\n")
    with pytest.raises(ConfigError, match="inner.depth must be an integer, got 'deep'"):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "missing.yaml")


@dataclasses.dataclass
class WithOptional:
    inner: Inner | None = dataclasses.field(default_factory=Inner)


def test_optional_nested_dataclass(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  depth: 7\n")
    assert load_config(WithOptional, path).inner == Inner(depth=7)
    path.write_text("inner: null\n")
    assert load_config(WithOptional, path).inner is None


def test_malformed_yaml_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(Outer, path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


# --- the issue's examples and the project's configs ------------------------------------


def load_error(cls, tmp_path, text: str) -> str:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(cls, path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: ") :]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train:\n  ppo:\n    minibatch_size: 0\n", "train.ppo.minibatch_size must be >= 1, got 0"),
        ("train:\n  ppo:\n    learning_rate: -1\n", "train.ppo.learning_rate must be > 0, got -1"),
        (
            "train:\n  ppo:\n    vloss_type: l1\n",
            "train.ppo.vloss_type must be one of 'mse', 'huber', got 'l1'",
        ),
    ],
)
def test_issue_examples_fail_at_load_time(tmp_path, text, expected):
    assert load_error(JobshopTrainConfig, tmp_path, text) == expected


@pytest.mark.parametrize(
    "cls, text, expected",
    [
        (JobshopTrainConfig, "train:\n  rollout:\n    mode: parallel\n", "train.rollout.mode"),
        (CalibrationConfig, "method: grid\n", "method must be one of 'auto', 'bohb', 'random'"),
        (
            SuiteConfig,
            "calibration:\n  methods: [bohb, annealing]\n",
            "calibration.methods[1] must be one of 'auto', 'bohb', 'random', 'fixed-point', "
            "'hybrid'",
        ),
    ],
)
def test_unknown_choices_are_rejected(tmp_path, cls, text, expected):
    assert expected in load_error(cls, tmp_path, text)


@pytest.mark.parametrize(
    "cls, text, expected",
    [
        (JobshopTrainConfig, "train:\n  ppo:\n    gamma: 1.5\n", "train.ppo.gamma must be <= 1"),
        (JobshopTrainConfig, "train:\n  ppo:\n    target_kl: 0\n", "target_kl must be > 0"),
        (JobshopTrainConfig, "train:\n  seed: -1\n", "train.seed must be >= 0, got -1"),
        (JobshopTrainConfig, "train:\n  seed: 4294967296\n", "train.seed must be < 4294967296"),
        (JobshopTrainConfig, "train:\n  log_every: 0\n", "train.log_every must be >= 1"),
        (JobshopTrainConfig, "train:\n  rollout:\n    num_workers: 0\n", "num_workers must be"),
        (JobshopTrainConfig, "train:\n  total_updates: .nan\n", "must be an integer, got nan"),
        (JobshopTrainConfig, "train:\n  ppo:\n    clip_coef: .inf\n", "must be finite, got inf"),
        (JobshopTrainConfig, "policy:\n  hidden: 0\n", "policy.hidden must be >= 1, got 0"),
        (JobshopTrainConfig, "instances:\n  jobs: [5, 2]\n", "instances.jobs must be [low, high]"),
        (JobshopTrainConfig, "instances:\n  jobs: [5]\n", "instances.jobs must have 2 entries"),
        (JobshopTrainConfig, "instances:\n  low: 5\n  high: 4\n", "instances.high must be >= low"),
        (
            JobshopTrainConfig,
            "instances:\n  shutdown_probs: [0.1, 1.0]\n",
            "instances.shutdown_probs[1] must be < 1, got 1",
        ),
        (JobshopTrainConfig, "validation:\n  sizes: [[10, 0]]\n", "validation.sizes[0][1] must be"),
        (JobshopTrainConfig, "validation:\n  sizes: [[10]]\n", "validation.sizes[0] must be [jobs"),
        (JobshopTrainConfig, "validation:\n  seeds: 0\n", "validation.seeds must be >= 1"),
        (CalibrationConfig, "workers: -1\n", "workers must be >= 0, got -1"),
        (CalibrationConfig, "eta: 1\n", "eta must be >= 2, got 1"),
        (CalibrationConfig, "min_budget: 50\n", "min_budget must be <= max_iterations (18)"),
        (CalibrationConfig, "bounds: [1, -1]\n", "bounds must be [low, high] with low < high"),
        (CalibrationConfig, "bohb:\n  random_fraction: 2\n", "bohb.random_fraction must be <= 1"),
        (CalibrationConfig, "bohb:\n  num_samples: 1.5\n", "bohb.num_samples must be an integer"),
        (CalibrationConfig, "bohb:\n  bandwith: 2\n", "unknown key 'bohb.bandwith'"),
        (CalibrationConfig, "time_targets:\n  car: 0\n", "time_targets.car must be > 0"),
        (SuiteConfig, "transport:\n  iterations: 0\n", "transport.iterations must be >= 1"),
        (SuiteConfig, "transport:\n  seeds: many\n", "transport.seeds: bad seeds 'many'"),
        (SuiteConfig, "jobshop_rules:\n  repair: soon\n", "jobshop_rules.repair: bad repair time"),
        (SuiteConfig, "jobshop_rules:\n  policies: []\n", "policies must have at least 1"),
        (SuiteConfig, "calibration:\n  evaluations: 0\n", "calibration.evaluations must be >= 1"),
    ],
)
def test_out_of_range_values_name_the_key_path(tmp_path, cls, text, expected):
    assert expected in load_error(cls, tmp_path, text)


def test_configs_built_in_python_are_checked_too():
    with pytest.raises(ConfigError, match="^PPOConfig: minibatch_size must be >= 1, got 0$"):
        PPOConfig(minibatch_size=0)
    with pytest.raises(ConfigError, match="^PPOConfig: learning_rate must be > 0, got -1"):
        PPOConfig(learning_rate=-1)
    with pytest.raises(ConfigError, match="PPOConfig: vloss_type must be one of 'mse', 'huber'"):
        PPOConfig(vloss_type="l2")
    with pytest.raises(ConfigError, match="RolloutConfig: num_workers must be >= 1, got 0"):
        dataclasses.replace(RolloutConfig(), num_workers=0)
    with pytest.raises(ConfigError, match="RolloutConfig: mode must be one of 'sync', 'async'"):
        RolloutConfig(mode="lockstep")
    with pytest.raises(ConfigError, match="TrainConfig: total_updates must be >= 1"):
        TrainConfig(total_updates=0)
    with pytest.raises(ConfigError, match="PolicyConfig: layers must be >= 1"):
        PolicyConfig(layers=0)
    with pytest.raises(ConfigError, match="InstanceDistribution: machines must be"):
        InstanceDistribution(machines=[9, 3])
    with pytest.raises(ConfigError, match="ValidationConfig: instances_per_size must be >= 1"):
        ValidationConfig(instances_per_size=0)
    with pytest.raises(ConfigError, match="BOHBConfig: top_n_percent must be <= 99"):
        BOHBConfig(top_n_percent=100)
    with pytest.raises(ConfigError, match="CalibrationConfig: short_budget must be <= max_it"):
        CalibrationConfig(short_budget=40)
    with pytest.raises(ConfigError, match="JobshopRulesConfig: seeds: bad seeds"):
        JobshopRulesConfig(seeds="9-1")
    with pytest.raises(ConfigError, match="TransportConfig: iterations must be >= 1"):
        TransportConfig(iterations=0)
    assert ConfigError.__mro__[1] is ValueError


def _config_files():
    out = [(p, JobshopTrainConfig) for p in sorted((CONFIGS / "jobshop").glob("*.yaml"))]
    out += [(p, SuiteConfig) for p in sorted((CONFIGS / "suites").glob("*.yaml"))]
    out.append((DEFAULT_CONFIG, CalibrationConfig))
    from rlsys.commformer.train import CommFormerTrainConfig
    from rlsys.parl.train import PARLConfig

    out += [(p, CommFormerTrainConfig) for p in sorted((CONFIGS / "commformer").glob("*.yaml"))]
    out += [(p, PARLConfig) for p in sorted((CONFIGS / "parl").glob("*.yaml"))]
    return out


@pytest.mark.parametrize("path, cls", _config_files(), ids=lambda x: getattr(x, "name", ""))
def test_every_shipped_config_is_valid(path, cls):
    assert isinstance(load_config(cls, path), cls)


def test_every_shipped_targets_and_scenario_file_is_valid():
    from envs.transport.config import load_scenario_config
    from envs.transport.scenario import SCENARIO_DIR
    from rlsys.calibration.objective import read_targets, read_time_targets

    for path in DEFAULT_CONFIG.parent.glob("*.yaml"):
        if path == DEFAULT_CONFIG:
            continue
        (read_time_targets if path.stem.endswith("-times") else read_targets)(path)
    scenarios = sorted(SCENARIO_DIR.glob("*.yaml"))
    assert scenarios and all(load_scenario_config(p).name for p in scenarios)


def test_default_calibration_config_matches_the_dataclass():
    assert load_config(CalibrationConfig, DEFAULT_CONFIG) == CalibrationConfig()


def test_resolved_run_config_reads_back(tmp_path):
    from rlsys.runtime import load_run_config, make_run_dir

    for cfg in (
        load_config(JobshopTrainConfig, CONFIGS / "jobshop/default.yaml"),
        CalibrationConfig(targets={"car": 100.0}, bohb=BOHBConfig(num_samples=8)),
        load_config(SuiteConfig, CONFIGS / "suites/quick.yaml"),
    ):
        run_dir = make_run_dir("cfg", cfg, root=tmp_path)
        assert load_run_config(type(cfg), run_dir) == cfg
