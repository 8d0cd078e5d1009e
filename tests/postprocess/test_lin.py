"""Lin et al.'s class-wise median windows and default parameters (jointsed.postprocess.lin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jointsed.data.annotations import Event, StrongAnnotations, read_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.postprocess import lin_default_params, lin_median_windows


SHARED_SYNTHETIC = Path("/work/shared/desed_meta/synthetic2019.tsv")


# ----------------------------------------------------------------------------- Lin's windows
@pytest.mark.skipif(not SHARED_SYNTHETIC.is_file(), reason="/work/shared/desed_meta/synthetic2019.tsv not available")
def test_lin_windows_reproduce_published_table():
    strong = read_strong_tsv(SHARED_SYNTHETIC)
    windows = lin_median_windows(strong, DESED_CLASSES, frame_hop=0.02)
    published = [17, 42, 17, 9, 16, 74, 85, 64, 18, 87]  # DESIGN §1, DESED_CLASSES order
    assert windows == published


def test_lin_windows_formula_and_defaults():
    events = [Event("x.wav", 0.0, 1.0, "a"), Event("y.wav", 2.0, 2.5, "a"), Event("x.wav", 1.0, 1.01, "b")]
    strong = StrongAnnotations(path=None, events=events, filenames=["x.wav", "y.wav"])
    with pytest.warns(UserWarning, match="c"):
        windows = lin_median_windows(strong, ["a", "b", "c"], frame_hop=0.02)
    # a: mean 0.75 s = 37.5 frames -> 37 -> floor(37 * 0.333) = 12; b: 0.5 frame -> 0 -> 1; c: none -> 1
    assert windows == [12, 1, 1]
    params = lin_default_params(["a", "b", "c"], windows)
    assert params.tag_threshold == [0.5] * 3 and params.frame_threshold == [0.5] * 3
    assert params.median_window == windows and params.min_duration == [0.0] * 3 and params.max_gap == [0.0] * 3
