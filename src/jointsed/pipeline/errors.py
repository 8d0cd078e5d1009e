"""Errors of the pipeline."""

from jointsed.errors import JointsedError


class PipelineError(JointsedError):
    """A split, run folder or demo folder the pipeline cannot use."""
