"""Errors of the synthesizer (a light module: the CLI's parser imports the presets, which raise it)."""

from jointsed.errors import JointsedError


class SynthError(JointsedError):
    """Synthesis cannot run: bad sizes, a bad source folder, an output that exists, ..."""
