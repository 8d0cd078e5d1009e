"""User-facing errors. The CLI prints these as one clear message (no traceback) and exits 2."""


class JointsedError(Exception):
    """Base class of errors caused by the user's input (files, configs, arguments)."""


class Interrupted(JointsedError):
    """A command stopped by a signal (SIGTERM, SIGINT). The CLI prints the message and exits with
    the shell's code for that signal, 128 + its number (143 for SIGTERM, 130 for SIGINT), so that
    ``jointsed train ... && next-step`` does not go on with an unfinished result."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
