"""Command-line interface: ``jointsed <command> ...``.

Each command lives in its own module of this package exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported lazily so that
``jointsed --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys

from jointsed import __version__
from jointsed.errors import Interrupted, JointsedError
from jointsed.utils.signals import Terminated, install_sigterm_handler

# command name -> module under jointsed.cli, in the order shown by --help
COMMANDS: dict[str, str] = {
    "synth": "synth",
    "import-labels": "import_labels",
    "features": "features",
    "train": "train",
    "predict": "predict",
    "tune": "tune",
    "evaluate": "evaluate",
    "report": "report",
    "demo": "demo",
    "compare": "compare",
    "recipes": "recipes",
    "export": "export",
    "stream": "stream",
}


#: OSErrors that come from the user's files or machine: printed as messages (exit 2), no traceback
_ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EISDIR,
                       errno.ENOTDIR, errno.ENAMETOOLONG}
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


#: what a command's exit status means (shown by ``jointsed --help``)
EXIT_CODES = """exit status: 0 done; 1 done with skipped inputs it lists (features); 2 refused (bad input, a full
disk, a locked or unfinished run: one line names the file and why, nothing is written half-way);
130 / 143 stopped by SIGINT / SIGTERM (jointsed train says where, and that --resume continues it;
the run stays unfinished for tune, evaluate and predict)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jointsed",
        description="Joint audio tagging and sound event detection (DCASE Task 4 / DESED).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jointsed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"jointsed.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    previous = signal.getsignal(signal.SIGTERM)
    install_sigterm_handler()  # a SIGTERM unwinds like Ctrl-C: temporaries, locks are cleaned up
    try:
        return _run_command(args)
    finally:
        if previous is not None:  # main() may be called in-process (tests, notebooks)
            signal.signal(signal.SIGTERM, previous)


def _run_command(args: argparse.Namespace) -> int:
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:
        # the reader of our output went away (``jointsed recipes | head -1``): not an error;
        # point stdout at devnull so that Python's exit flush does not raise again
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout is not a file (tests, notebooks)
            pass
        return 0
    except Interrupted as exc:  # a signal, with where the command stopped and how to go on
        print(f"jointsed {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except JointsedError as exc:
        print(f"jointsed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # the user's environment, not a bug: a folder that cannot be written, a full disk...
        # (commands check their outputs up front; this catches what changes while they run)
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        full = "the disk is full (free some space, or write elsewhere): " if exc.errno in _DISK_FULL_ERRNOS else ""
        print(f"jointsed {args.command}: error: {full}{exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jointsed {args.command}: interrupted (SIGINT)", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated:
        print(f"jointsed {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
