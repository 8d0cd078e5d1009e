"""LabelEncoder: weak/strong encoding, frame convention and encode/decode round trips."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.evaluate.io import merge_overlaps

from jointsed.data.annotations import AnnotationError, Event
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.label_encoder import LabelEncoder


def test_encode_weak():
    enc = LabelEncoder(DESED_CLASSES)
    target = enc.encode_weak(["Speech", "Dog", "Speech"])
    assert target.shape == (10,) and target.dtype == np.float32
    assert target.sum() == 2 and target[DESED_CLASSES.index("Dog")] == 1
    with pytest.raises(AnnotationError, match="Doge"):
        enc.encode_weak(["Doge"])


def test_frame_convention():
    enc = LabelEncoder(["a", "b"], frame_hop=0.02, n_frames=500)
    target = enc.encode_strong([Event("x.wav", 0.3, 0.5, "a"), Event("x.wav", 9.99, 10.5, "b")])
    assert target.shape == (500, 2) and target.dtype == np.float32
    assert np.flatnonzero(target[:, 0]).tolist() == list(range(15, 25))
    # clipped to the grid: 9.99 s rounds to frame 500, outside the 500-frame grid
    assert target[:, 1].sum() == 0
    # an event shorter than a frame still covers one frame
    short = enc.encode_strong([Event("x.wav", 1.0, 1.001, "b")])
    assert np.flatnonzero(short[:, 1]).tolist() == [50]


def test_decode_runs():
    enc = LabelEncoder(["a", "b"], frame_hop=0.5, n_frames=6)
    active = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [0, 1], [0, 1]], dtype=bool)
    events = enc.decode_strong(active, "x.wav")
    assert events == [
        Event("x.wav", 0.0, 1.0, "a"),
        Event("x.wav", 1.0, 3.0, "b"),
        Event("x.wav", 1.5, 2.0, "a"),
    ]
    assert enc.decode_strong(np.zeros((6, 2), bool), "x.wav") == []
    with pytest.raises(ValueError):
        enc.decode_strong(np.zeros((6, 3), bool), "x.wav")


def _random_clip(rng, classes, duration, hop):
    """Random events whose per-class unions are separated by clear gaps (> 1.5 frames), so the
    expected decoding (the union, clipped to the clip) is unambiguous."""
    while True:
        events = []
        for _ in range(rng.integers(0, 8)):
            onset = rng.uniform(0, duration - 2 * hop)  # offsets may pass the end
            events.append(
                Event("c.wav", onset, onset + rng.uniform(0.001, 3.0), str(rng.choice(classes)))
            )
        expected = []
        ok = True
        for label in classes:
            labels = [(e.onset, e.offset, label) for e in events if e.event_label == label]
            union = [(on, off) for on, off, _ in merge_overlaps(labels)[0]]
            gaps = [b[0] - a[1] for a, b in zip(union, union[1:])]
            if any(g < 1.5 * hop for g in gaps):
                ok = False
            expected += [Event("c.wav", on, min(off, duration), label) for on, off in union]
        if ok:
            return events, expected


@pytest.mark.parametrize("hop", [0.02, 0.064, 0.1, 0.5])
def test_encode_decode_round_trip(hop):
    rng = np.random.default_rng(int(hop * 1000))
    classes = ["a", "b", "c"]
    n_frames = int(round(10.0 / hop))
    duration = n_frames * hop
    enc = LabelEncoder(classes, frame_hop=hop, n_frames=n_frames)
    for _ in range(200):
        events, expected = _random_clip(rng, classes, duration, hop)
        decoded = enc.decode_strong(enc.encode_strong(events), "c.wav")
        key = lambda e: (e.event_label, e.onset)  # noqa: E731
        decoded, expected = sorted(decoded, key=key), sorted(expected, key=key)
        assert [e.event_label for e in decoded] == [e.event_label for e in expected]
        for got, want in zip(decoded, expected):
            # half a frame, or one frame for events shorter than a frame
            onset_tolerance = hop / 2 if want.offset - want.onset >= hop else hop
            assert abs(got.onset - want.onset) <= onset_tolerance + 1e-9
            assert abs(got.offset - want.offset) <= hop + 1e-9
            assert 0 <= got.onset < got.offset <= duration + 1e-9


def test_overlapping_events_merge():
    enc = LabelEncoder(["a"], frame_hop=0.1, n_frames=100)
    events = [Event("x.wav", 1.0, 3.0, "a"), Event("x.wav", 2.0, 4.0, "a")]
    assert enc.decode_strong(enc.encode_strong(events), "x.wav") == [
        Event("x.wav", 1.0, 4.0, "a")
    ]
