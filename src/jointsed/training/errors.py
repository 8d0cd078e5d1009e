"""Errors of the training engine."""

from jointsed.errors import JointsedError


class TrainingError(JointsedError):
    """A training run cannot start (run folder conflicts, missing checkpoint to resume...)."""


class DataError(JointsedError):
    """A dataset cannot be used for training (missing set, empty set, missing audio...)."""
