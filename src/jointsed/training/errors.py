"""Errors of the training engine."""

from jointsed.errors import JointsedError


class TrainingError(JointsedError):
    """A training run cannot start (run folder conflicts, missing checkpoint to resume...)."""
