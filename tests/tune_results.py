"""A Ray Tune callback that keeps every reported result per trial, for the trainables'
tests (Tune's own CSV/JSON loggers may be switched off process-wide by the calibration
tuner, so ``metrics_dataframe`` is not used)."""

from ray import tune


class TrialResults(tune.Callback):
    def __init__(self):
        self.by_trial = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.by_trial.setdefault(trial.trial_id, []).append(result)
