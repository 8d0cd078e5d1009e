"""``build_report``: from a run folder and its evaluation folder to a static HTML page.

Reads ``RUN_DIR/eval/<split>/`` (:mod:`jointsed.report.eval_folder`), the ground truth and audio
it points to, and the CSV training logs of the run, then writes ``index.html`` and its PNG
figures into one folder (default ``RUN_DIR/report/``), atomically: the folder is complete or
untouched. The page opens offline (no script, no remote resource).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import matplotlib
from tqdm.auto import tqdm

from jointsed import __version__
from jointsed.audio.features import FeatureConfig, waveform_to_logmel
from jointsed.audio.io import AudioError, load_audio
from jointsed.config import ConfigError, from_dict
from jointsed.runs.layout import EVAL_DIR, METRICS_FILE, REPORT_DIR
from jointsed.data.audio_files import AUDIO_EXTENSIONS
from jointsed.evaluate.settings import PSDS1, PSDS2
from jointsed.evaluate.io import Reference, load_reference, read_detections
from jointsed.report import html as page
from jointsed.report.analysis import (
    event_counts,
    events_to_frames,
    frame_confusion,
    psd_roc,
    select_clips,
)
from jointsed.report.eval_folder import EvalFolder, ReportError, read_eval_folder
from jointsed.report.plots import (
    class_colors,
    clip_figure,
    confusion_figure,
    event_errors_figure,
    psd_roc_figure,
    training_curves_figure,
)
from jointsed.report.training_logs import read_training_logs
from jointsed.utils.atomic import atomic_dir, atomic_write_text

from jointsed.runs.layout import REPORT_INDEX_FILE as INDEX_FILE  # noqa: E402
DEFAULT_CLIPS = 6

#: what to run when a run folder has no evaluation folder yet
EVALUATE_HINT = "jointsed evaluate --run {run_dir} --data-root DIR"


def eval_folder_path(run_dir: str | os.PathLike, split: str = "validation") -> Path:
    """``RUN_DIR/eval/<split>``."""
    return Path(run_dir) / EVAL_DIR / split


def _check_run(run_dir: Path, split: str) -> Path:
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: run folder not found")
    folder = eval_folder_path(run_dir, split)
    if not folder.is_dir():
        evaluated = sorted(p.name for p in (run_dir / EVAL_DIR).glob("*") if p.is_dir() and not p.name.startswith("."))
        other = f" (evaluated splits: {', '.join(evaluated)})" if evaluated else ""
        raise ReportError(
            f"{run_dir}: no evaluation results for split '{split}' ({folder} not found){other}; "
            f"run `{EVALUATE_HINT.format(run_dir=run_dir)}` first"
        )
    return folder


def _check_output(out: Path) -> None:
    """Refuse to replace a folder that is not a previous report (it would be deleted)."""
    if out.exists():
        if not out.is_dir():
            raise ReportError(f"{out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / INDEX_FILE).is_file():
            raise ReportError(
                f"{out}: folder exists and is not a jointsed report (no {INDEX_FILE}); "
                "choose another --out"
            )


def _info_file(evaluation: EvalFolder, key: str) -> Path:
    path = evaluation.info_path(key)
    if path is None or not path.is_file():
        raise ReportError(
            f"{evaluation.path / 'info.json'}: {key} {evaluation.info.get(key)!r} not found "
            "(the report needs it; re-run the evaluation if the data moved)"
        )
    return path


def _find_audio(audio_dir: Path | None, clip_id: str) -> Path | None:
    if audio_dir is None:
        return None
    for candidate in [audio_dir / clip_id, *(audio_dir / f"{clip_id}{ext}" for ext in AUDIO_EXTENSIONS)]:
        if candidate.is_file():
            return candidate
    return None


def _frame_thresholds(metrics: Mapping[str, Any], classes: Sequence[str]) -> Optional[list[float]]:
    """The per-class frame thresholds the evaluation post-processed with (None if not recorded)."""
    params = (metrics.get("postprocess") or {}).get("params") or {}
    values, names = params.get("frame_threshold"), params.get("classes")
    if not isinstance(values, list) or names != list(classes) or len(values) != len(classes):
        return None
    return [float(v) for v in values]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80]


def _best_epoch(run_dir: Path) -> int | None:
    """``best_epoch`` of the training summary ``RUN_DIR/metrics.json``, if there is one."""
    try:
        value = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8")).get("best_epoch")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class _Writer:
    """Saves figures as PNG files in the output folder, or as data URIs (``embed``)."""

    folder: Path
    embed: bool

    def save(self, fig, name: str) -> str:
        if self.embed:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=fig.dpi)
            return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        fig.savefig(self.folder / name, format="png", dpi=fig.dpi)
        return name


def build_report(
    run_dir: str | os.PathLike,
    *,
    split: str = "validation",
    out: str | os.PathLike | None = None,
    n_clips: int = DEFAULT_CLIPS,
    embed_images: bool = False,
    progress: bool = True,
) -> Path:
    """Write the HTML report of a run's evaluation.

    Args:
        run_dir: the training run folder (holds ``eval/<split>/`` and ``logs/``).
        split: which evaluation folder (``RUN_DIR/eval/<split>``).
        out: output folder (default ``RUN_DIR/report``); an existing report there is replaced
            once the new one is complete, any other non-empty folder is refused.
        n_clips: example clips to draw (spectrogram, events, frame scores).
        embed_images: put the figures into ``index.html`` as data URIs (one self-contained
            file) instead of PNG files next to it.
        progress: show a progress bar.

    Returns:
        The path of ``index.html``.

    Raises:
        ReportError: no evaluation folder (with the command to run), malformed evaluation files,
            ground truth not found, output folder not a report.
    """
    run_dir = Path(run_dir)
    folder = _check_run(run_dir, split)
    out = Path(out) if out is not None else run_dir / REPORT_DIR
    _check_output(out)
    if n_clips < 0:
        raise ReportError(f"--clips must be >= 0, got {n_clips}")

    evaluation = read_eval_folder(folder)
    classes = evaluation.classes
    colors = class_colors(classes)
    reference = load_reference(
        _info_file(evaluation, "ground_truth"), _info_file(evaluation, "durations"), classes
    )
    notes: list[str] = []
    scored = [k for k in reference.events if k in evaluation.frame_scores]
    if not scored:
        raise ReportError(f"{folder}: no frame scores for any clip of {reference.path}")
    if len(scored) < len(reference.events):
        notes.append(
            f"{len(reference.events) - len(scored)} of {len(reference.events)} ground-truth clips "
            "have no frame scores; figures use the other clips."
        )
    reference = Reference(
        events={k: reference.events[k] for k in scored},
        durations={k: reference.durations[k] for k in scored},
        classes=reference.classes,
        path=reference.path,
        merged_events=reference.merged_events,
    )
    detections = read_detections(folder / "predictions.tsv", reference)
    outside = evaluation.metrics.get("clips_outside_ground_truth") or 0
    if outside:
        notes.append(f"{outside} clip(s) of the predictions are not in the ground truth: their detections "
                     "were not scored.")

    # class names are user text: a "$" in one must not start matplotlib math mode (it raised)
    with matplotlib.rc_context({"text.parse_math": False}), atomic_dir(out, overwrite=True) as tmp, tqdm(
        total=4 + max(n_clips, 1), desc="report", unit="figure", disable=not progress
    ) as bar:
        writer = _Writer(tmp, embed_images)
        sections = [_metrics_section(evaluation, colors)]
        bar.update(1)
        sections.append(_training_section(run_dir, writer, notes))
        bar.update(1)
        sections.append(_psd_section(evaluation, reference, colors, writer, notes))
        bar.update(1)
        sections.append(_errors_section(evaluation, reference, detections, colors, writer))
        bar.update(1)
        clips = _clips_section(evaluation, reference, detections, colors, n_clips, writer, notes, bar.update)
        if clips is not None:
            sections.append(clips)
        document = page.Page(
            title=f"jointsed report — {run_dir.resolve().name} ({evaluation.split})",
            info=_info_rows(run_dir, evaluation, reference, detections),
            sections=sections,
            notes=notes,
        )
        atomic_write_text(tmp / INDEX_FILE, page.render_page(document))
    return out / INDEX_FILE


# ------------------------------------------------------------------------ sections


def _info_rows(run_dir: Path, evaluation: EvalFolder, reference: Reference, detections) -> list[tuple[str, str]]:
    def code(value: Any) -> str:
        return "–" if value in (None, "") else f"<code>{escape(str(value))}</code>"

    n_events = sum(len(evs) for evs in reference.events.values())
    n_predicted = sum(len(evs) for evs in detections.values())
    return [
        ("Run folder", code(run_dir.resolve())),
        ("Split", escape(evaluation.split)),
        ("Checkpoint", code(evaluation.info.get("checkpoint"))),
        ("Post-processing", code(evaluation.info.get("postprocess")) if evaluation.info.get("postprocess")
         else "default (none given)"),
        ("Ground truth", code(evaluation.info.get("ground_truth"))),
        ("Clips", f"{len(reference.events)} ({n_events} ground-truth events, {n_predicted} predicted)"),
        ("Classes", ", ".join(escape(c) for c in evaluation.classes)),
        ("Generated by", f"jointsed {escape(__version__)}"),
    ]


def _metrics_section(evaluation: EvalFolder, colors: dict[str, str]) -> page.Section:
    metrics = evaluation.metrics
    body = (
        "<h3>Overall</h3>" + page.overall_table(metrics)
        + "<h3>Per class</h3>" + page.per_class_table(metrics, evaluation.classes, colors)
    )
    return page.Section("metrics", "Metrics", body)


def _training_section(run_dir: Path, writer: _Writer, notes: list[str]) -> page.Section:
    logs, log_notes = read_training_logs(run_dir)
    notes.extend(log_notes)
    if not logs:
        return page.Section("training", "Training curves",
                            page.note_html(f"No CSV training log (metrics.csv) found under {run_dir}."))
    fig = training_curves_figure(logs, _best_epoch(run_dir))
    src = writer.save(fig, "training_curves.png")
    sources = ", ".join(str(log.path.relative_to(run_dir)) for log in logs)
    caption = (
        f"Per-epoch values from the Lightning CSV logs ({escape(sources)}); values logged "
        "every step are averaged per epoch."
    )
    if len(logs) > 1:
        caption += " Several logs (stages) are drawn one after the other, separated by dashed lines."
    return page.Section("training", "Training curves", page.figure_html(src, caption, "training curves"))


def _psd_section(evaluation: EvalFolder, reference: Reference, colors: dict[str, str], writer: _Writer,
                 notes: list[str]) -> page.Section:
    rocs = {}
    for name, settings in (("psds1", PSDS1), ("psds2", PSDS2)):
        try:
            rocs[name] = psd_roc(reference, evaluation.score_frames, settings)
        except (ValueError, AssertionError, KeyError, IndexError, ZeroDivisionError) as exc:
            notes.append(f"{name.upper()} ROC could not be computed ({type(exc).__name__}: {exc}).")
    if not rocs:
        return page.Section("psd-roc", "PSD-ROC", page.note_html("PSD-ROC not available (see the notes)."))
    src = writer.save(psd_roc_figure(rocs, colors), "psd_roc.png")
    caption = (
        "PSD-ROC curves recomputed from the frame scores with sed_scores_eval (DCASE settings; the "
        "effective FPR is counted per hour, up to 100/h). Thin lines: each class's ROC (class PSDS "
        "in the legend); thick black: the combined effective curve whose normalised area is the "
        "PSDS."
    )
    left_out = next(iter(rocs.values())).left_out
    if left_out:
        caption += (
            f" Classes without any ground-truth event have no ROC and are left out "
            f"({escape(', '.join(left_out))}): these PSDS values are not the official ones."
        )
    for name, roc in rocs.items():
        table_value = (evaluation.metrics.get(name) or {}).get("value")
        if table_value is not None and abs(table_value - roc.value) > 1e-3:
            caption += (
                f" {name.upper()} in the metric table ({table_value:.3f}, "
                f"{escape(str(evaluation.metrics[name].get('source', '')))}) differs from the "
                f"frame-score value drawn here ({roc.value:.3f})."
            )
    return page.Section("psd-roc", "PSD-ROC", page.figure_html(src, caption, "PSD-ROC curves"))


def _errors_section(evaluation: EvalFolder, reference: Reference, detections, colors: dict[str, str],
                    writer: _Writer) -> page.Section:
    classes = evaluation.classes
    hop = evaluation.frame_hop
    truth, predicted = [], []
    for key in reference.events:
        n_frames = evaluation.frame_scores[key].shape[0]
        truth.append(events_to_frames(reference.events[key], classes, n_frames, hop))
        predicted.append(events_to_frames(detections.get(key, ()), classes, n_frames, hop))
    confusion = frame_confusion(truth, predicted, classes, hop)
    src_conf = writer.save(confusion_figure(confusion, colors), "confusion.png")
    counts = event_counts(reference, detections, classes)
    src_events = writer.save(event_errors_figure(counts, colors), "event_errors.png")
    caption_conf = (
        "Frame-level view of the post-processed predictions (20 ms frames). Each frame where a "
        "ground-truth class is active counts in that class's row: on the diagonal if the class is "
        "predicted there; otherwise under the classes wrongly predicted in that frame (a confusion, "
        "shared equally), or under <em>none</em> if nothing else is predicted (missed). Row "
        "<em>none</em>: classes predicted where they are not in the ground truth and nothing was "
        "missed (insertions); (none, none) = frames empty in both. Rows sum to 100 %."
    )
    caption_events = (
        "Collar-based event matching as in the event-based F1 (onset collar 200 ms, offset collar "
        "max(200 ms, 20 % of the event length), each event matched at most once). Left: "
        "ground-truth events found / missed; right: predicted events correct / inserted."
    )
    body = (
        page.figure_html(src_conf, caption_conf, "frame-level confusion matrix")
        + page.figure_html(src_events, caption_events, "missed and inserted events per class")
    )
    return page.Section("errors", "Missed and confused classes", body)


def _feature_config(evaluation: EvalFolder) -> FeatureConfig:
    """The front-end settings of info.json (defaults if absent); ConfigError naming the key."""
    features = evaluation.info.get("features")
    config = from_dict(FeatureConfig, dict(features), "features") if features else FeatureConfig()
    config.validate()
    return config


def _clips_section(evaluation: EvalFolder, reference: Reference, detections, colors: dict[str, str],
                   n_clips: int, writer: _Writer, notes: list[str],
                   advance: Callable[[int], Any]) -> page.Section | None:
    if n_clips == 0:
        return None
    chosen = select_clips(reference, n_clips)
    audio_dir = evaluation.info_path("audio_dir")
    try:
        config: FeatureConfig | None = _feature_config(evaluation)
    except ConfigError as exc:
        config = None
        notes.append(f"{evaluation.path / 'info.json'}: {exc}; spectrograms skipped.")
    parts = [
        "<p>Clips chosen for their number of classes (greedy, covering as many classes as possible). "
        "Top to bottom: log-mel spectrogram, ground-truth events, post-processed predictions (one "
        "row per class), frame scores (solid: classes in the ground truth or predictions; dashed: "
        "other classes scoring at least 0.2; dotted line at 0.5).</p>"
    ]
    missing_audio = 0
    for index, key in enumerate(chosen, start=1):
        logmel, note = None, None
        path = _find_audio(audio_dir, key)
        if config is None:
            note = "feature settings of info.json not usable: spectrogram skipped"
        elif path is None:
            note = f"audio of {key} not found in {audio_dir}: spectrogram skipped"
        else:
            try:
                logmel = waveform_to_logmel(load_audio(path, config.sample_rate), config)
            except AudioError as exc:
                note = f"{exc}: spectrogram skipped"
        if note:
            missing_audio += 1
        fig = clip_figure(
            key, logmel, reference.events[key], detections.get(key, []), evaluation.frame_scores[key],
            evaluation.classes, colors, evaluation.frame_hop, f_max_hz=config.f_max_hz if config else None,
            logmel_hop=config.frame_hop if config else None, note=note,
            frame_thresholds=_frame_thresholds(evaluation.metrics, evaluation.classes),
        )
        src = writer.save(fig, f"clip_{index:02d}_{_safe_name(key)}.png")
        labels = sorted({label for _, _, label in reference.events[key]}, key=evaluation.classes.index)
        caption = f"<strong>{escape(key)}</strong> — ground truth: " + (
            ", ".join(page.swatch(colors[c]) + escape(c) for c in labels) or "no event"
        )
        parts.append((page.note_html(note) if note else "") + page.figure_html(src, caption, f"clip {key}"))
        advance(1)
    if missing_audio and config is not None:
        notes.append(f"Spectrogram skipped for {missing_audio} example clip(s): audio not found or unreadable.")
    return page.Section("clips", "Example clips", "".join(parts))
