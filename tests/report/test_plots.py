"""Report figures (jointsed.report.plots): plain-text tick labels, the thresholds drawn."""

from __future__ import annotations

import numpy as np

from jointsed.report.training_logs import read_training_logs


def test_log_scale_tick_labels_are_plain_text(fake_run):
    """The report draws with math text off (class names may hold "$"); the learning-rate panel's
    log axis then printed its default labels raw ("$\\mathdefault{10^{-3}}$")."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from jointsed.report.plots import training_curves_figure

    logs, _ = read_training_logs(fake_run)
    with matplotlib.rc_context({"text.parse_math": False}):
        figure = training_curves_figure(logs)
        FigureCanvasAgg(figure).draw()
        log_axes = [ax for ax in figure.axes if ax.get_yscale() == "log"]
        assert log_axes
        labels = [t.get_text() for ax in log_axes for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels()]
    assert any(labels) and not any("$" in label or "mathdefault" in label for label in labels), labels


def test_clip_figure_draws_the_frame_thresholds_used():
    """The score panel drew a 0.5 line even when the tuned frame thresholds were elsewhere."""
    from jointsed.report.build import _frame_thresholds
    from jointsed.report.plots import clip_figure

    classes, colors = ["Cat", "Dog"], {"Cat": "#ff0000", "Dog": "#0000ff"}
    metrics = {"postprocess": {"params": {"classes": classes, "frame_threshold": [0.15, 0.3]}}}
    thresholds = _frame_thresholds(metrics, classes)
    assert thresholds == [0.15, 0.3] and _frame_thresholds({"postprocess": {}}, classes) is None
    scores = np.full((50, 2), 0.25)
    figure = clip_figure("clip", None, [(0.1, 0.5, "Cat")], [], scores, classes, colors, 0.02,
                         frame_thresholds=thresholds)
    ax_scores = figure.axes[-1]
    levels = sorted({round(float(line.get_ydata()[0]), 3) for line in ax_scores.get_lines() if len(set(line.get_ydata())) == 1})
    assert 0.15 in levels and 0.3 in levels and 0.5 not in levels
