"""What happens to a trained run after training, one module per concern.

Example::

    from jointsed.pipeline import evaluate_checkpoint, tune_run

    result = tune_run("runs/gl", "data")                  # RUN_DIR/postprocess.json
    metrics = evaluate_checkpoint("runs/gl", "data")      # RUN_DIR/eval/validation/

- :mod:`.splits`: where a split is (the recipe's ``validation`` / ``synthetic``, or any strongly
  labelled (tsv, audio, durations) triple): :func:`resolve_split`;
- :mod:`.scoring`: the model's raw clip and frame scores of a split, kept in and reused from the
  run folder's raw-score cache (:mod:`jointsed.runs.score_cache`): :func:`score_split`;
- :mod:`.tuning`: event-specific post-processing tuned on a split, saved as
  ``RUN_DIR/postprocess.json``: :func:`tune_run`;
- :mod:`.evaluation`: post-process and score with every DCASE metric, write
  ``RUN_DIR/eval/<split>/``: :func:`evaluate_checkpoint`;
- :mod:`.demo`: ``jointsed demo`` (synthesize, train, tune, evaluate, report):
  :func:`run_demo`.

Which post-processing a model uses is decided in one place,
:func:`jointsed.runs.postprocess.choose_postprocess` (shared with ``jointsed predict``).
"""

from jointsed.pipeline.demo import DEMO_FALLBACK_RECIPE, DEMO_RECIPE, demo_recipe, run_demo
from jointsed.pipeline.demo_summary import DemoResult, DemoStep, format_demo_summary
from jointsed.pipeline.errors import PipelineError
from jointsed.pipeline.evaluation import evaluate_checkpoint, evaluate_scores, resolve_postprocess
from jointsed.pipeline.scoring import SplitScores, checkpoint_of, score_split
from jointsed.pipeline.splits import CONFIG_SPLITS, SplitSource, resolve_split
from jointsed.pipeline.tuning import tune_run
from jointsed.runs.checkpoint import run_dir_of
from jointsed.runs.postprocess import default_params

__all__ = [
    "CONFIG_SPLITS",
    "DEMO_FALLBACK_RECIPE",
    "DEMO_RECIPE",
    "DemoResult",
    "DemoStep",
    "PipelineError",
    "SplitScores",
    "SplitSource",
    "checkpoint_of",
    "default_params",
    "demo_recipe",
    "evaluate_checkpoint",
    "evaluate_scores",
    "format_demo_summary",
    "resolve_postprocess",
    "resolve_split",
    "run_demo",
    "run_dir_of",
    "score_split",
    "tune_run",
]
