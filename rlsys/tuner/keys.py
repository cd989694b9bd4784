"""Config keys of the trainable contract (see ``rlsys.tuner.searchers``).

A module of its own, with no imports, so that a trainable running on a Ray worker can
read them without importing the driver's side (ConfigSpace, hpbandster, the experiment
runner): that cost every worker ~1 s of start-up.
"""

BUDGET_KEY = "_budget"
"""Config key: the budget (in the trainable's own unit) this job must reach."""
PARENT_KEY = "_parent_checkpoint"
"""Config key: checkpoint path of the same configuration at a smaller budget, or None."""
PARENT_BUDGET_KEY = "_parent_budget"
"""Config key: the budget of that parent run (0 when there is none)."""
JOB_KEY = "_job"
"""Config key: job name ``"<iteration>.<stage>.<index>@<budget>"``."""
PICK_KEY = "_model_based_pick"
"""Config key: True when hpbandster's KDE model proposed the configuration."""
PROPOSAL_PICK_KEY = "_proposal_pick"
"""Config key: True when the configuration is a trainable's proposal (see searchers)."""
PROPOSAL_KEY = "proposal"
"""Result key: a configuration the trainable expects to be better (see searchers)."""
CHECKPOINT_EVERY_KEY = "_checkpoint_every"
"""Config key: checkpoint every this many budget units (PBT: its perturbation interval)."""
PRIVATE_KEYS = (
    BUDGET_KEY, PARENT_KEY, PARENT_BUDGET_KEY, JOB_KEY, PICK_KEY, PROPOSAL_PICK_KEY,
    CHECKPOINT_EVERY_KEY,
)  # fmt: skip
