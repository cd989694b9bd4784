"""The central tuner: Ray Tune searches over any workload's configuration."""
