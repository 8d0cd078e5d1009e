"""Visual report of an evaluated run: ``jointsed report RUN_DIR`` -> ``RUN_DIR/report/index.html``.

* :mod:`.eval_folder`: the evaluation folder ``RUN_DIR/eval/<split>/`` (written by the
  evaluation pipeline with :func:`write_eval_folder`, read with :func:`read_eval_folder`);
* :mod:`.training_logs`: per-epoch curves from the Lightning CSV logs;
* :mod:`.analysis`: example-clip choice, frame-level confusions, missed / inserted events,
  PSD-ROC curves;
* :mod:`.plots`: the matplotlib figures; :mod:`.html`: the page; :mod:`.build`:
  :func:`build_report`, which ties them together.
"""

from typing import Any

from jointsed.report.eval_folder import EvalFolder, ReportError, read_eval_folder, write_eval_folder


def __getattr__(name: str) -> Any:
    # build_report pulls in matplotlib: imported on first use only, so that the evaluation
    # pipeline can write eval folders without it
    if name in ("build_report", "eval_folder_path"):
        from jointsed.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "EvalFolder",
    "ReportError",
    "build_report",
    "eval_folder_path",
    "read_eval_folder",
    "write_eval_folder",
]
