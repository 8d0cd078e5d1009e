"""Report analysis (jointsed.report.analysis): clip selection, frame confusion."""

from __future__ import annotations

import numpy as np

from fake_run import CLASSES
from jointsed.report import read_eval_folder
from jointsed.report.analysis import events_to_frames, frame_confusion, select_clips


def test_select_clips_is_deterministic_and_covers_classes(fake_run):
    from jointsed.evaluate import load_reference

    evaluation = read_eval_folder(fake_run / "eval" / "validation")
    reference = load_reference(evaluation.info["ground_truth"], evaluation.info["durations"], CLASSES)
    chosen = select_clips(reference, 3)
    assert chosen == select_clips(reference, 3) and len(set(chosen)) == 3
    n_labels = {k: len({e[2] for e in evs}) for k, evs in reference.events.items()}
    assert n_labels[chosen[0]] == max(n_labels.values())


def test_frame_confusion_counts():
    classes = ["A", "B"]
    truth = events_to_frames([(0.0, 1.0, "A"), (1.0, 2.0, "B")], classes, 150, 0.02)
    predicted = events_to_frames([(0.0, 0.5, "A"), (0.5, 1.0, "B"), (2.0, 2.4, "B")], classes, 150, 0.02)
    conf = frame_confusion(truth, predicted, classes, 0.02)
    # A: 25 frames right, 25 confused with B; B: 50 missed; none: 20 inserted B, 30 empty frames
    np.testing.assert_array_equal(conf.counts, [[25, 25, 0], [0, 0, 50], [0, 20, 30]])
    np.testing.assert_allclose(conf.normalized().sum(axis=1), 1.0)
