"""The Optuna search over kernel parameters."""
