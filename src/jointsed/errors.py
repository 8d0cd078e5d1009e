"""User-facing errors. The CLI prints these as one clear message (no traceback) and exits 2."""


class JointsedError(Exception):
    """Base class of errors caused by the user's input (files, configs, arguments)."""
