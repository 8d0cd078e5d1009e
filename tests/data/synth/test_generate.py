"""End-to-end tests of ``jointsed synth``: a tiny dataset is generated and checked against its stems."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jointsed.data.annotations import (
    read_durations_tsv,
    read_filenames_tsv,
    read_strong_tsv,
    read_weak_tsv,
)
from jointsed.data.audio_files import check_audio_files, list_audio_files
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import SPLITS, SynthError, sources as synth_sources, synthesize_dataset


SR = 16000
HOP = 320  # 20 ms frames
REAL_META = Path("/work/shared/desed_meta")
TINY = dict(preset="tiny", seed=3, stems=True, progress=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "dataset"
    synthesize_dataset(root, workers=1, **TINY)
    return root


def _stem_rows(root: Path, split: str) -> list[dict]:
    with open(root / "stems" / split / "events.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _read(path: Path) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float64")
    assert sr == SR
    return audio


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tables_pass_the_validator_and_match_the_audio(tiny):
    meta = tiny / "metadata"
    weak = read_weak_tsv(meta / "train" / "weak.tsv")
    synthetic = read_strong_tsv(meta / "train" / "synthetic.tsv")
    validation = read_strong_tsv(meta / "validation" / "validation.tsv")
    unlabelled = read_filenames_tsv(meta / "train" / "unlabel_in_domain.tsv")
    public_eval = read_strong_tsv(meta / "eval" / "public.tsv")
    tables = {"weak": weak.filenames, "synthetic": synthetic.filenames,
              "unlabel_in_domain": unlabelled, "validation": validation.filenames,
              "public_eval": public_eval.filenames}
    for spec in SPLITS:
        folder = tiny / spec.audio_dir
        check_audio_files(tables[spec.name], folder, spec.name)
        assert [p.name for p in list_audio_files(folder)] == sorted(tables[spec.name])
        assert len(tables[spec.name]) == 6
    for name, table in (("synthetic", synthetic), ("validation", validation)):
        durations = read_durations_tsv(meta / ("train" if name == "synthetic" else "validation")
                                       / f"{name}_durations.tsv")
        assert durations == {f: 10.0 for f in table.filenames}
        # the strong tables are exactly the stems' events
        rows = _stem_rows(tiny, name)
        assert [(e.filename, e.onset, e.offset, e.event_label) for e in table.events] == [
            (r["filename"], float(r["onset"]), float(r["offset"]), r["event_label"]) for r in rows]
    # weak labels are the classes actually mixed into each weak clip
    mixed: dict[str, set[str]] = {f: set() for f in weak.filenames}
    for r in _stem_rows(tiny, "weak"):
        mixed[r["filename"]].add(r["event_label"])
    assert {f: set(labels) for f, labels in weak.labels.items()} == mixed
    assert all(mixed.values())


def test_every_file_has_the_exact_duration(tiny):
    wavs = list(tiny.rglob("*.wav"))
    assert len(wavs) > 24
    for path in wavs:
        info = sf.info(path)
        assert (info.frames, info.samplerate, info.channels, info.subtype) == (10 * SR, SR, 1, "PCM_16"), path


def test_labels_line_up_with_the_isolated_stems(tiny):
    checked = 0
    for spec in SPLITS:
        for r in _stem_rows(tiny, spec.name):
            stem = _read(tiny / "stems" / spec.name / r["stem"])
            energy = np.square(stem).reshape(-1, HOP).mean(axis=1)
            active = np.flatnonzero(energy > 1e-6 * energy.max())
            first_frame = round(float(r["onset"]) * SR) // HOP
            last_frame = (int(round(float(r["offset"]) * SR)) - 1) // HOP
            # the energy lies inside the labelled interval and fills it, within one 20 ms frame
            assert abs(active[0] - first_frame) <= 1, r
            assert abs(active[-1] - last_frame) <= 1, r
            checked += 1
    assert checked > 20


def test_event_to_background_ratio_is_on_target(tiny):
    for spec in SPLITS:
        for r in _stem_rows(tiny, spec.name):
            folder = tiny / "stems" / spec.name / Path(r["filename"]).stem
            stem, bg = _read(tiny / "stems" / spec.name / r["stem"]), _read(folder / "background.wav")
            start, stop = round(float(r["onset"]) * SR), round(float(r["offset"]) * SR)
            rms = lambda x: math.sqrt(np.mean(np.square(x)))  # noqa: E731
            ebr = 20 * math.log10(rms(stem[start:stop]) / rms(bg[start:stop]))
            assert ebr == pytest.approx(float(r["ebr_db"]), abs=1.0), r
            assert 6.0 <= float(r["ebr_db"]) <= 30.0


def test_mixture_is_background_plus_stems(tiny):
    spec = SPLITS[1]  # synthetic
    by_clip: dict[str, list[str]] = {}
    for r in _stem_rows(tiny, spec.name):
        by_clip.setdefault(r["filename"], []).append(r["stem"])
    for filename, stems in by_clip.items():
        mixture = _read(tiny / spec.audio_dir / filename)
        total = _read(tiny / "stems" / spec.name / Path(filename).stem / "background.wav")
        for s in stems:
            total = total + _read(tiny / "stems" / spec.name / s)
        assert np.max(np.abs(mixture - total)) <= (len(stems) + 2) / 2**15
        assert np.max(np.abs(mixture)) < 1.0


@pytest.mark.skipif(not (REAL_META / "validation.tsv").exists(), reason="real DESED metadata not available")
def test_validation_reuses_the_real_layout(tiny):
    real = read_strong_tsv(REAL_META / "validation.tsv").by_file()
    ours = read_strong_tsv(tiny / "metadata" / "validation" / "validation.tsv").by_file()
    for filename, events in ours.items():
        expected = [(e.event_label, round(e.onset, 3), round(min(e.offset, 10.0), 3)) for e in real[filename]]
        assert [(e.event_label, round(e.onset, 6), round(e.offset, 6)) for e in events] == expected


def test_same_seed_is_byte_identical_and_seeds_differ(tiny, tmp_path):
    again = tmp_path / "again"
    synthesize_dataset(again, workers=2, **TINY)  # two processes: same bytes as one
    assert _files(again) == _files(tiny)
    other = tmp_path / "other"
    synthesize_dataset(other, **{**TINY, "seed": 4, "stems": False})
    for spec in SPLITS:
        a = [p.read_bytes() for p in list_audio_files(tiny / spec.audio_dir)]
        b = [p.read_bytes() for p in list_audio_files(other / spec.audio_dir)]
        assert not set(a) & set(b), spec.name


SMALL = dict(preset="tiny", n_weak=2, n_synthetic=1, n_unlabelled=1, n_validation=1, clip_duration=2.0,
             progress=False, workers=1)


def test_existing_output_is_never_half_overwritten(tmp_path, monkeypatch):
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    (out / "synth.json").write_text("{}")  # an earlier dataset: --force may replace it (issue 11)
    with pytest.raises(SynthError, match="already exists"):
        synthesize_dataset(out, **SMALL)

    calls = {"n": 0}

    def failing(rng, n, sr):  # fails after a few clips were written
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("generator crashed")
        return rng.standard_normal(n)

    monkeypatch.setattr(synth_sources, "FOREGROUND_GENERATORS", {c: failing for c in DESED_CLASSES})
    with pytest.raises(RuntimeError, match="generator crashed"):
        synthesize_dataset(out, force=True, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]  # no temporary left behind
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "synth.json"] and (out / "keep.txt").read_text() == "old"

    monkeypatch.undo()
    synthesize_dataset(out, force=True, **SMALL)
    assert not (out / "keep.txt").exists() and (out / "metadata" / "train" / "weak.tsv").exists()


def test_size_overrides(tmp_path):
    """The preset's sizes, clip duration and sample rate overridden (``jointsed synth --n-weak ...``,
    tested as a command in tests/cli/test_cli_synth.py)."""
    out = tmp_path / "cli"
    kwargs = dict(preset="tiny", seed=1, n_weak=1, n_synthetic=2, n_unlabelled=1, n_validation=2, clip_duration=3,
                  sample_rate=22050, progress=False)
    report = synthesize_dataset(out, **kwargs)
    assert "synthetic" in report.summary()
    for path in out.rglob("*.wav"):
        info = sf.info(path)
        assert (info.frames, info.samplerate) == (3 * 22050, 22050)
    events = read_strong_tsv(out / "metadata" / "train" / "synthetic.tsv").events
    assert events and all(e.offset <= 3.0 for e in events)
    assert read_durations_tsv(out / "metadata" / "train" / "synthetic_durations.tsv") == {
        f: 3.0 for f in read_strong_tsv(out / "metadata" / "train" / "synthetic.tsv").filenames}
    with pytest.raises(SynthError, match="already exists"):
        synthesize_dataset(out, **kwargs)


def test_recorded_sources(tmp_path):
    bank = tmp_path / "soundbank"
    rng = np.random.default_rng(0)
    for i, label in enumerate(DESED_CLASSES):
        (bank / "foreground" / label).mkdir(parents=True)
        tone = np.sin(2 * np.pi * (200 + 100 * i) * np.arange(SR // 2) / 44100)  # shorter than events: looped
        sf.write(bank / "foreground" / label / "a.wav", 0.5 * tone, 44100)
    (bank / "background" / "home").mkdir(parents=True)
    sf.write(bank / "background" / "home" / "room.flac", 0.1 * rng.standard_normal(3 * SR), SR)
    out = tmp_path / "real"
    report = synthesize_dataset(out, sources=bank, stems=True, **SMALL)
    assert report.sources.startswith("recordings from")
    for r in _stem_rows(out, "synthetic"):
        stem = _read(out / "stems" / "synthetic" / r["stem"])
        bg = _read(out / "stems" / "synthetic" / Path(r["filename"]).stem / "background.wav")
        a, b = round(float(r["onset"]) * SR), round(float(r["offset"]) * SR)
        ebr = 20 * np.log10(np.sqrt(np.mean(stem[a:b] ** 2)) / np.sqrt(np.mean(bg[a:b] ** 2)))
        assert ebr == pytest.approx(float(r["ebr_db"]), abs=1.0)

    (bank / "foreground" / "Cat" / "a.wav").unlink()
    with pytest.raises(SynthError, match="Cat"):
        synthesize_dataset(tmp_path / "bad", sources=bank, **SMALL)
    assert not (tmp_path / "bad").exists()


def test_held_out_eval_split_uses_the_public_eval_layout_not_the_validation_one(tmp_path):
    """``n_eval``: a held-out test split laid out like DESED's public evaluation set, so that
    post-processing tuned on the validation split is never scored on the layouts it was tuned on."""
    from importlib import resources

    out = tmp_path / "with_eval"
    report = synthesize_dataset(out, preset="tiny", seed=3, n_eval=5, workers=1, progress=False)
    assert report.clips["public_eval"] == 5
    ours = read_strong_tsv(out / "metadata" / "eval" / "public.tsv")
    assert len(ours.filenames) == 5
    check_audio_files(ours.filenames, out / "audio" / "eval" / "public", out / "metadata" / "eval" / "public.tsv")
    assert read_durations_tsv(out / "metadata" / "eval" / "public_durations.tsv") == {f: 10.0 for f in ours.filenames}
    with resources.as_file(resources.files("jointsed") / "resources" / "public_eval.tsv") as bundled:
        real = read_strong_tsv(bundled).by_file()
    assert len(real) == 692
    if (REAL_META / "public_eval.tsv").is_file():  # the bundled copy is the real table
        assert read_strong_tsv(REAL_META / "public_eval.tsv").by_file().keys() == real.keys()
    for filename, events in ours.by_file().items():
        expected = [(e.event_label, round(e.onset, 3), round(min(e.offset, 10.0), 3)) for e in real[filename]]
        assert [(e.event_label, round(e.onset, 6), round(e.offset, 6)) for e in events] == expected
    validation = read_strong_tsv(out / "metadata" / "validation" / "validation.tsv").filenames
    assert not set(validation) & set(ours.filenames)
    # the other splits do not depend on whether an eval split is drawn
    plain = tmp_path / "plain"
    synthesize_dataset(plain, preset="tiny", seed=3, n_eval=0, workers=1, progress=False)
    for rel in ("metadata/train/synthetic.tsv", "metadata/validation/validation.tsv", "metadata/train/weak.tsv"):
        assert (out / rel).read_bytes() == (plain / rel).read_bytes()
    assert not (plain / "metadata" / "eval").exists()
    with pytest.raises(SynthError, match="n_eval"):
        synthesize_dataset(tmp_path / "too_many", preset="tiny", n_eval=693, progress=False)
