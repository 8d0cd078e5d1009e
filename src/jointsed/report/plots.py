"""Matplotlib figures of the report (object-oriented API on the Agg canvas: no pyplot state, no
display needed). Every function returns a :class:`matplotlib.figure.Figure`; each class keeps
the same colour in every figure (:func:`class_colors`)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from jointsed.report.analysis import PSDROC, EventCounts, FrameConfusion
from jointsed.report.training_logs import GROUPS, TrainingLog, curve_group, display_name

Events = Sequence[tuple[float, float, str]]

DPI = 100
FONT_SIZE = 9
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def class_colors(classes: Sequence[str]) -> dict[str, str]:
    """One distinct colour per class (hex), fixed by the class order: tab10 for up to 10 classes
    (the 10 DESED classes), tab20 up to 20, evenly spaced hues beyond."""
    n = len(classes)
    if n <= 10:
        cmap = colormaps["tab10"]
        return {c: to_hex(cmap(i)) for i, c in enumerate(classes)}
    if n <= 20:
        cmap = colormaps["tab20"]
        return {c: to_hex(cmap(i)) for i, c in enumerate(classes)}
    cmap = colormaps["hsv"]
    return {c: to_hex(cmap(i / n)) for i, c in enumerate(classes)}


def text_color(color: str, darken: float = 0.3) -> str:
    """A darker shade of a class colour for text (light colours such as tab10's olive and cyan
    are hard to read on white)."""
    rgb = np.array(to_rgb(color))
    return to_hex(rgb * (1 - darken))


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def _style(ax) -> None:
    ax.tick_params(labelsize=FONT_SIZE - 1)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# ------------------------------------------------------------------------ training curves


def training_curves_figure(logs: Sequence[TrainingLog], best_epoch: int | None = None) -> Figure | None:
    """Per-epoch curves of every CSV log, one panel per group (losses, validation, schedules,
    other). Several logs (stages) are drawn one after the other on a common epoch axis,
    separated by dashed lines. ``best_epoch`` (of the run's own log) is marked if given.

    Returns ``None`` when there is nothing to plot.
    """
    groups: dict[str, list[str]] = {}
    for log in logs:
        for name in log.curves.columns:
            names = groups.setdefault(curve_group(name), [])
            if name not in names:
                names.append(name)
    groups = {g: groups[g] for g in GROUPS if g in groups}
    if not groups:
        return None
    n_panels = len(groups)
    n_cols = 1 if n_panels == 1 else 2
    n_rows = (n_panels + n_cols - 1) // n_cols
    fig = _figure(6.0 * n_cols, 3.4 * n_rows)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False).ravel())
    offsets = np.cumsum([0] + [log.n_epochs for log in logs])
    many_stages = len(logs) > 1
    cmap = colormaps["tab10"]
    for ax, (group, names) in zip(axes, groups.items()):
        labelled: set[str] = set()
        colors = {name: cmap(i % 10) for i, name in enumerate(names)}
        # distinct line styles and markers too: curves often coincide (val/score = val/event_f1)
        styles = {name: _LINESTYLES[i % len(_LINESTYLES)] for i, name in enumerate(names)}
        markers = {name: _MARKERS[i % len(_MARKERS)] for i, name in enumerate(names)}
        for log, offset in zip(logs, offsets):
            for name in names:
                if name not in log.curves.columns:
                    continue
                series = log.curves[name].dropna()
                if series.empty:
                    continue
                x = series.index.to_numpy() + offset
                marker = markers[name] if len(series) <= 40 else None
                label = display_name(name) if name not in labelled else None
                labelled.add(name)
                ax.plot(x, series.to_numpy(), color=colors[name], marker=marker, markersize=4,
                        linestyle=styles[name], linewidth=1.4, label=label)
        if many_stages:
            for log, offset in zip(logs, offsets):
                if offset > 0:
                    ax.axvline(offset - 0.5, color="#888888", linestyle="--", linewidth=0.8)
                # clipped: a panel whose curves start at a later stage (e.g. the guided-learning
                # schedules) must not draw an earlier stage's label outside itself, over its neighbour
                ax.annotate(log.label or "run", xy=(offset, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(2, -2), textcoords="offset points", va="top", annotation_clip=True,
                            fontsize=FONT_SIZE - 1, color="#555555")
        if best_epoch is not None and group == "validation" and logs and logs[0].label == "":
            ax.axvline(best_epoch, color="#d62728", linestyle=":", linewidth=1.0, label=f"best epoch ({best_epoch})")
        title, ylabel = GROUPS[group]
        ax.set_title(title, fontsize=FONT_SIZE + 1)
        ax.set_xlabel("epoch", fontsize=FONT_SIZE)
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
        _style(ax)
        values = np.concatenate([log.curves[n].dropna().to_numpy() for log in logs for n in names
                                 if n in log.curves.columns] or [np.zeros(0)])
        if (group == "learning_rate" and values.size and values.min() > 0) or (
                group == "losses" and values.size and values.min() > 0 and values.max() / values.min() > 100):
            ax.set_yscale("log")
            # plain tick labels: the report draws with math text off (class names may hold "$"),
            # and the default log labels are math text ("$\\mathdefault{10^{-3}}$")
            for axis_ticks in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                axis_ticks(FuncFormatter(lambda value, _: f"{value:g}"))
        elif group == "validation" and values.size and values.min() >= 0 and values.max() <= 1:
            ax.set_ylim(0, 1.02)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=FONT_SIZE - 1, loc="best", frameon=False)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig


# ------------------------------------------------------------------------ PSD-ROC


def psd_roc_figure(rocs: Mapping[str, PSDROC], colors: Mapping[str, str]) -> Figure:
    """One panel per PSDS variant: each class's ROC (TPR vs eFPR, thin, class colour) and the
    combined effective PSD-ROC (thick black) up to the variant's maximum eFPR."""
    n = len(rocs)
    fig = _figure(6.2 * n, 4.2 + 0.2 * ((len(next(iter(rocs.values())).per_class_roc) + 3) // 3))
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False).ravel())
    for ax, (name, roc) in zip(axes, rocs.items()):
        max_efpr = roc.settings.max_efpr
        for c, (tpr, efpr) in roc.per_class_roc.items():
            keep = efpr <= max_efpr
            ax.step(np.append(efpr[keep], max_efpr), np.append(tpr[keep], tpr[keep][-1] if keep.any() else 0),
                    where="post", color=colors.get(c, "#999999"), linewidth=1.0, alpha=0.85,
                    label=f"{c} ({roc.per_class_value.get(c, float('nan')):.3f})")
        tpr, efpr = roc.roc
        keep = efpr <= max_efpr
        ax.step(np.append(efpr[keep], max_efpr), np.append(tpr[keep], tpr[keep][-1] if keep.any() else 0),
                where="post", color="black", linewidth=2.4, label=f"PSD-ROC ({roc.value:.3f})")
        s = roc.settings
        ax.set_title(
            f"{name.upper()} = {roc.value:.3f}   (DTC {s.dtc_threshold:g}, GTC {s.gtc_threshold:g}, "
            f"α_ct {s.alpha_ct:g}, α_st {s.alpha_st:g})",
            fontsize=FONT_SIZE + 1,
        )
        ax.set_xlim(0, max_efpr)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("effective false positive rate (per hour)", fontsize=FONT_SIZE)
        ax.set_ylabel("true positive rate", fontsize=FONT_SIZE)
        _style(ax)
        # below the panel: ROCs fill the whole plot area
        ax.legend(fontsize=FONT_SIZE - 1, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3,
                  frameon=False, columnspacing=1.2, handlelength=1.6)
    return fig


# ------------------------------------------------------------------------ example clip


def _timeline(ax, events: Events, classes: Sequence[str], colors: Mapping[str, str], duration: float,
              title: str) -> None:
    """One row per class (first class on top), a coloured bar per event."""
    n = len(classes)
    row = {c: n - 1 - i for i, c in enumerate(classes)}
    for i in range(n):
        if i % 2 == 0:
            ax.axhspan(i - 0.5, i + 0.5, color="#f3f3f3", linewidth=0)
    for onset, offset, label in events:
        if label in row:
            ax.broken_barh([(onset, offset - onset)], (row[label] - 0.38, 0.76),
                           facecolors=colors[label], edgecolors="black", linewidth=0.4)
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(reversed(classes)), fontsize=FONT_SIZE - 1)
    for tick, c in zip(ax.get_yticklabels(), reversed(classes)):
        tick.set_color(text_color(colors[c]))
        tick.set_fontweight("bold")
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlim(0, duration)
    ax.set_ylabel(title, fontsize=FONT_SIZE)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", labelsize=FONT_SIZE - 1)


def clip_figure(
    clip_id: str,
    logmel: np.ndarray | None,
    truth: Events,
    predicted: Events,
    frame_scores: np.ndarray,
    classes: Sequence[str],
    colors: Mapping[str, str],
    frame_hop: float,
    *,
    f_max_hz: float | None = None,
    logmel_hop: float | None = None,
    note: str | None = None,
    score_floor: float = 0.2,
    frame_thresholds: Sequence[float] | None = None,
) -> Figure:
    """Log-mel spectrogram, ground-truth and predicted events (one row per class) and the frame
    scores of one clip, on a shared time axis.

    Args:
        logmel: ``(T', n_mels)`` log-mel with ``logmel_hop`` seconds per frame (default
            ``frame_hop``), or ``None`` (panel replaced by ``note``).
        truth, predicted: ``[(onset, offset, label), ...]`` in seconds.
        frame_scores: ``(T, C)`` probabilities, frame ``t`` covering ``[t, t+1) * frame_hop``.
        score_floor: classes whose score never reaches it (and that are in neither event list)
            are left out of the score panel, to keep it readable.
        frame_thresholds: the post-processing's frame threshold per class (tuned ones differ
            per class): drawn as short ticks in each plotted class's colour at the right edge;
            ``None`` draws one dotted line at 0.5 (Lin's default).
    """
    n_frames = frame_scores.shape[0]
    duration = n_frames * frame_hop
    logmel_hop = logmel_hop or frame_hop
    if logmel is not None:
        duration = max(duration, logmel.shape[0] * logmel_hop)
    timeline_height = 0.2 * len(classes) + 0.4
    heights = [2.4, timeline_height, timeline_height, 2.2]
    fig = _figure(12.0, sum(heights) + 0.8)
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    ax_spec, ax_truth, ax_pred, ax_scores = axes
    fig.suptitle(clip_id, fontsize=FONT_SIZE + 2, fontweight="bold")

    if logmel is not None:
        n_mels = logmel.shape[1]
        ax_spec.imshow(
            logmel.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
            extent=(0, logmel.shape[0] * logmel_hop, 0, n_mels),
            vmin=np.percentile(logmel, 5), vmax=logmel.max(),
        )
        ax_spec.set_ylabel("mel band", fontsize=FONT_SIZE)
        ax_spec.tick_params(labelsize=FONT_SIZE - 1)
        if f_max_hz:
            ax_spec.set_title(f"log-mel spectrogram ({n_mels} bands, 0–{f_max_hz / 1000:g} kHz)",
                              fontsize=FONT_SIZE, loc="left")
    else:
        ax_spec.set_facecolor("#f5f5f5")
        ax_spec.set_yticks([])
        ax_spec.text(0.5, 0.5, note or "spectrogram not available", transform=ax_spec.transAxes,
                     ha="center", va="center", fontsize=FONT_SIZE + 1, color="#a00000", wrap=True)

    _timeline(ax_truth, truth, classes, colors, duration, "ground truth")
    _timeline(ax_pred, predicted, classes, colors, duration, "predicted")

    times = (np.arange(n_frames) + 0.5) * frame_hop
    shown = {label for _, _, label in truth} | {label for _, _, label in predicted}
    plotted = False
    for i, c in enumerate(classes):
        if c in shown or frame_scores[:, i].max() >= score_floor:
            if c in shown:
                ax_scores.plot(times, frame_scores[:, i], color=colors[c], linewidth=1.4, label=c)
            else:
                ax_scores.plot(times, frame_scores[:, i], color=colors[c], linewidth=0.9, linestyle="--",
                               alpha=0.75, label=c)
            plotted = True
            if frame_thresholds is not None:
                ax_scores.axhline(frame_thresholds[i], xmin=0.97, xmax=1.0, color=colors[c], linewidth=2.5)
    if frame_thresholds is None:
        ax_scores.axhline(0.5, color="#999999", linestyle=":", linewidth=0.8)
    else:
        ax_scores.text(1.0, -0.16, "ticks at the right: frame thresholds", transform=ax_scores.transAxes,
                       ha="right", va="top", fontsize=FONT_SIZE - 2, color="#666666")
    ax_scores.set_ylim(-0.02, 1.02)
    ax_scores.set_xlim(0, duration)
    ax_scores.set_ylabel("frame score", fontsize=FONT_SIZE)
    ax_scores.set_xlabel("time (s)", fontsize=FONT_SIZE)
    _style(ax_scores)
    if plotted:
        ax_scores.legend(fontsize=FONT_SIZE - 1, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


# ------------------------------------------------------------------------ confusions


def confusion_figure(confusion: FrameConfusion, colors: Mapping[str, str]) -> Figure:
    """Row-normalised frame-level confusion matrix (ground truth rows, predictions columns,
    both with ``none``), percentages written in the cells of at least 1 %."""
    matrix = confusion.normalized()
    labels = confusion.labels
    seconds = confusion.row_seconds()
    n = len(labels)
    size = 1.6 + 0.55 * n
    fig = _figure(size + 1.8, size)
    ax = fig.subplots()
    empty_rows = confusion.counts.sum(axis=1) == 0
    cmap = colormaps["Blues"].with_extremes(bad="#e6e6e6")
    masked = np.ma.masked_array(matrix, mask=np.repeat(empty_rows[:, None], n, axis=1))
    image = ax.imshow(masked, cmap=cmap, vmin=0, vmax=1)
    for i in np.flatnonzero(empty_rows):
        ax.text((n - 1) / 2, i, "no ground-truth frames", ha="center", va="center",
                fontsize=FONT_SIZE - 1, color="#777777", style="italic")
    for i in range(n):
        for j in range(n):
            value = matrix[i, j]
            if value >= 0.01:
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=FONT_SIZE - 1,
                        color="white" if value > 0.55 else "black")
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=40, ha="right", fontsize=FONT_SIZE)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{label} ({s:.0f} s)" for label, s in zip(labels, seconds)], fontsize=FONT_SIZE)
    for tick, label in zip(ax.get_xticklabels(), labels):
        tick.set_color(text_color(colors.get(label, "#000000")))
    for tick, label in zip(ax.get_yticklabels(), labels):
        tick.set_color(text_color(colors.get(label, "#000000")))
    ax.set_xlabel("predicted class", fontsize=FONT_SIZE + 1)
    ax.set_ylabel("ground-truth class (total duration)", fontsize=FONT_SIZE + 1)
    ax.set_title("Frame-level confusions, % of each row", fontsize=FONT_SIZE + 1)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.ax.tick_params(labelsize=FONT_SIZE - 1)
    return fig


def event_errors_figure(counts: EventCounts, colors: Mapping[str, str]) -> Figure:
    """Two bar charts per class: ground-truth events found / missed, and predicted events
    correct / inserted (collar-based matching)."""
    classes = counts.classes
    n = len(classes)
    fig = _figure(12.0, 1.2 + 0.36 * n)
    ax_ref, ax_sys = fig.subplots(1, 2, sharey=True)
    y = np.arange(n)[::-1]
    face = [colors[c] for c in classes]
    panels = (
        (ax_ref, counts.correct, counts.missed, "found", "missed", "Ground-truth events"),
        (ax_sys, counts.correct, counts.inserted, "correct", "inserted", "Predicted events"),
    )
    for ax, good, bad, good_label, bad_label, title in panels:
        ax.barh(y, good, color=face, edgecolor="black", linewidth=0.4)
        ax.barh(y, bad, left=good, color="white", edgecolor=face, hatch="////", linewidth=0.8)
        for yi, g, b in zip(y, good, bad):
            if g + b:
                ax.text(g + b, yi, f" {b} of {g + b} {bad_label}", va="center", fontsize=FONT_SIZE - 1, color="#444444")
        ax.set_title(title, fontsize=FONT_SIZE + 1)
        ax.set_xlabel("events", fontsize=FONT_SIZE)
        _style(ax)
        ax.grid(False, axis="y")
        top = max(1, int((good + bad).max()) if n else 1)
        ax.set_xlim(0, top * 1.3)
        ax.legend(
            handles=[Patch(facecolor="#999999", edgecolor="black", linewidth=0.4, label=good_label),
                     Patch(facecolor="white", edgecolor="#555555", hatch="////", label=bad_label)],
            fontsize=FONT_SIZE - 1, loc="lower right", frameon=False,
        )
    ax_ref.set_yticks(y)
    ax_ref.set_yticklabels(classes, fontsize=FONT_SIZE)
    for tick, c in zip(ax_ref.get_yticklabels(), classes):
        tick.set_color(text_color(colors[c]))
        tick.set_fontweight("bold")
    return fig
