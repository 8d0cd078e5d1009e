"""Upper bounds on post-processing files and tuning grids, checked on load (the ``BOUNDS`` of
their classes, applied by :func:`jointsed.config.from_dict`): a median window of 10^9 frames or a
grid of 10^15 candidates is a one-line error naming the key, not a MemoryError. The recipe's
bounds are :mod:`jointsed.training.config_bounds`; this module stays outside the training package
so that inference imports neither it nor Lightning."""

from __future__ import annotations

from jointsed.config import Bound

#: median filters and step filters: at most an hour of frames at the finest hop in use (20 ms);
#: the filter pads each row by the window, so 10^9 frames asked for 15 GiB
MAX_MEDIAN_WINDOW = 180_000
#: seconds of a post-processing duration (minimum event length, gap filling, merge gap): an hour
MAX_SECONDS = 3600.0
#: values of one list of a tuning grid; the search tries their product per class
MAX_GRID_VALUES = 1000
#: candidates one class of a tuning search may try (the product of the grid's lists): a few
#: minutes of search on the DESED validation set, not the 849 GiB a grid of 10^4-value lists asked for
MAX_GRID_CANDIDATES = 1_000_000
#: coordinate-ascent sweeps of a PSDS search
MAX_PSDS_ROUNDS = 100

#: upper bounds of the post-processing methods' per-class lists (their lower bounds and the
#: thresholds' ranges are each class's ``validate``, whose messages name the class)
POSTPROCESS_BOUNDS: dict[str, Bound] = {
    "median_window": Bound(hi=MAX_MEDIAN_WINDOW),
    "step_length": Bound(hi=MAX_MEDIAN_WINDOW),
    "min_duration": Bound(hi=MAX_SECONDS),
    "max_gap": Bound(hi=MAX_SECONDS),
    "merge_gap": Bound(hi=MAX_SECONDS),
}

#: ranges of the tuning grids' keys (Lin's TuningGrid, SEBB's SebbGrid); window and step factors
#: multiply a class's base window, so they are bounded too
GRID_BOUNDS: dict[str, Bound] = {
    "tag_thresholds": Bound(0, 1, max_items=MAX_GRID_VALUES),
    "frame_thresholds": Bound(0, 1, lo_open=True, max_items=MAX_GRID_VALUES),
    "detection_thresholds": Bound(0, 1, lo_open=True, max_items=MAX_GRID_VALUES),
    "change_thresholds": Bound(0, 1, lo_open=True, max_items=MAX_GRID_VALUES),
    "window_factors": Bound(0, 100, lo_open=True, max_items=MAX_GRID_VALUES),
    "step_factors": Bound(0, 100, lo_open=True, max_items=MAX_GRID_VALUES),
    "max_gaps": Bound(0, MAX_SECONDS, max_items=MAX_GRID_VALUES),
    "min_durations": Bound(0, MAX_SECONDS, max_items=MAX_GRID_VALUES),
    "merge_gaps": Bound(0, MAX_SECONDS, max_items=MAX_GRID_VALUES),
    "psds_rounds": Bound(1, MAX_PSDS_ROUNDS),
}


def check_grid_size(sizes: dict[str, int], what: str = "the grid") -> None:
    """Refuse a search whose candidates per class (the product of ``sizes``, each list's length
    with the base value added) exceed :data:`MAX_GRID_CANDIDATES`, before anything is allocated.

    Raises:
        ConfigError: naming the lists, their lengths and the limit.
    """
    from jointsed.config import ConfigError

    total = 1
    for n in sizes.values():
        total *= max(1, int(n))
    if total > MAX_GRID_CANDIDATES:
        shown = " x ".join(f"{n} {name}" for name, n in sizes.items())
        raise ConfigError(f"{what}: {shown} = {total:,} candidates per class, more than {MAX_GRID_CANDIDATES:,}; "
                          "use fewer values")
