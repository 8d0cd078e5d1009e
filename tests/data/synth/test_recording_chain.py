"""The recording chain in ``jointsed synth`` (jointsed.data.synth.recording_chain): the real splits
change, the strong split and the labels do not, the chain-off output is the generator's output
from before the chain existed, distractors are mixed in and never labelled, events keep their
onsets through the room."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import SPLITS, RECORDED_SPLITS, synthesize_dataset
from jointsed.data.synth.chain_config import DISTRACTOR_KINDS, RecordingChainConfig
from jointsed.data.synth.mixer import PlacedEvent, Soundscape
from jointsed.data.synth.recording_chain import RecordingChain

REPO = Path(__file__).resolve().parents[3]
#: the last commit before the recording chain: its generator is the reference of the chain-off path
#: (if the clean mix is ever changed on purpose, move this to the commit of that change)
BEFORE_CHAIN = "657bb67cda92f322dcd4667c689c718da1b07f5b"
SR = 16000
#: a small, fast chain: 3 rooms of short reverberation, more distractors than the default
CHAIN = {"enabled": True, "rir_bank_size": 3, "rt60": [0.2, 0.4], "distractor_rate": 0.3}
TINY = dict(preset="tiny", seed=3, workers=1, progress=False)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("chain")
    synthesize_dataset(root / "off", **TINY)
    synthesize_dataset(root / "on", recording_chain=CHAIN, stems=True, **TINY)
    return {"off": root / "off", "on": root / "on"}


def _audio(root: Path, spec) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / spec.audio_dir).glob("*.wav"))}


def _tables(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "metadata").rglob("*.tsv"))}


def test_strong_split_and_labels_untouched_real_splits_recorded(datasets):
    for spec in SPLITS:
        off, on = _audio(datasets["off"], spec), _audio(datasets["on"], spec)
        assert off.keys() == on.keys() and len(off) == 6
        if spec.name == "synthetic":
            assert on == off  # byte for byte: the strong split stays a clean soundscape
        else:
            assert spec.name in RECORDED_SPLITS
            assert all(on[name] != off[name] for name in off), spec.name
    # every label table is the same: the chain never moves, adds or drops a label
    assert _tables(datasets["on"]) == _tables(datasets["off"])
    for path in (datasets["on"] / "audio").rglob("*.wav"):
        info = sf.info(path)
        assert (info.frames, info.samplerate, info.subtype) == (10 * SR, SR, "PCM_16")
        assert np.max(np.abs(sf.read(path)[0])) < 1.0


def test_description_records_the_chain(datasets):
    on = json.loads((datasets["on"] / "synth.json").read_text())
    off = json.loads((datasets["off"] / "synth.json").read_text())
    assert off["recording_chain"] is None and off["settings"]["recording_chain"]["enabled"] is False
    settings = on["settings"]["recording_chain"]
    assert settings["enabled"] is True and settings["rir_bank_size"] == 3 and settings["rt60"] == [0.2, 0.4]
    summary = on["recording_chain"]
    assert summary["splits"] == list(RECORDED_SPLITS) and summary["rir_bank"]["rooms"] == 3
    assert 0.15 < summary["rir_bank"]["rt60_measured_s"]["min"] <= summary["rir_bank"]["rt60_measured_s"]["max"] < 0.5
    assert sum(summary["reverberant_clips"].values()) > 12  # reverb_probability 0.9 of 24 clips
    rows = _distractor_rows(datasets["on"])
    assert sum(summary["distractors"].values()) == len(rows)
    assert "Recording chain on" in (datasets["on"] / "README.md").read_text()


def _distractor_rows(root: Path) -> list[dict]:
    rows = []
    for split in RECORDED_SPLITS:
        with open(root / "stems" / split / "distractors.tsv", newline="") as fh:
            rows += [dict(r, split=split) for r in csv.DictReader(fh, delimiter="\t")]
    return rows


def test_distractors_are_mixed_in_and_never_labelled(datasets):
    rows = _distractor_rows(datasets["on"])
    assert len(rows) > 10  # 0.3 per second over 24 clips of 10 s: ~72
    assert {r["kind"] for r in rows} <= set(DISTRACTOR_KINDS) and not set(DISTRACTOR_KINDS) & set(DESED_CLASSES)
    labels = "".join(p.read_text() for p in (datasets["on"] / "metadata").rglob("*.tsv"))
    assert not any(kind in labels for kind in DISTRACTOR_KINDS)
    assert not (datasets["on"] / "stems" / "synthetic" / "distractors.tsv").exists()
    for r in rows[:10]:  # the stem is the sound over its span, silent elsewhere
        stem, _ = sf.read(datasets["on"] / "stems" / r["split"] / r["stem"])
        start, stop = round(float(r["onset"]) * SR), round(float(r["offset"]) * SR)
        assert np.sqrt(np.mean(stem[start:stop] ** 2)) > 0 and not stem[:start].any() and not stem[stop:].any()


def test_same_seed_same_bytes_any_workers_other_seed_differs(datasets, tmp_path):
    again = tmp_path / "again"
    synthesize_dataset(again, recording_chain=CHAIN, stems=True, **{**TINY, "workers": 2})
    files = lambda root: {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}  # noqa: E731
    assert files(again) == files(datasets["on"])
    other = tmp_path / "other"
    synthesize_dataset(other, recording_chain=CHAIN, n_weak=2, n_synthetic=2, n_unlabelled=2, n_validation=2,
                       n_eval=2, **{**TINY, "seed": 4})
    for spec in SPLITS:
        assert not set(_audio(other, spec).values()) & set(_audio(datasets["on"], spec).values()), spec.name


def test_chain_off_is_the_generator_from_before_the_chain(datasets, tmp_path):
    """The chain-off path is the pre-chain generator: the code of BEFORE_CHAIN, run in a
    subprocess, writes the same audio bytes (tiny preset; and the proxy preset, chain on by
    default, switched off)."""
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{BEFORE_CHAIN}^{{commit}}"], capture_output=True).returncode:
        pytest.skip(f"no git history with {BEFORE_CHAIN[:10]} (a shallow clone or an sdist)")
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_CHAIN, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    small = dict(n_weak=2, n_synthetic=2, n_unlabelled=2, n_validation=2, n_eval=2, seed=5, progress=False, workers=1)
    script = (
        "import sys, jointsed; from jointsed.data.synth import synthesize_dataset\n"
        "print(jointsed.__file__)\n"
        f"synthesize_dataset(sys.argv[1], preset='tiny', seed=3, workers=1, progress=False)\n"
        f"synthesize_dataset(sys.argv[2], preset='proxy', **{small!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(old / "src")}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "old_tiny"), str(tmp_path / "old_proxy")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.splitlines()[0]).resolve().is_relative_to(old.resolve())  # the old code ran
    synthesize_dataset(tmp_path / "proxy_off", preset="proxy", recording_chain=False, **small)
    for ours, theirs in ((datasets["off"], tmp_path / "old_tiny"), (tmp_path / "proxy_off", tmp_path / "old_proxy")):
        for spec in SPLITS:
            assert _audio(ours, spec) == _audio(theirs, spec), spec.name


def _click_scape(n: int, start: int) -> Soundscape:
    background = 1e-4 * np.random.default_rng(0).standard_normal(n)
    click = np.zeros(2000)
    click[0] = 1.0
    event = PlacedEvent("Dishes", start, start + click.size, click, 40.0)
    mixture = background.copy()
    mixture[start:start + click.size] += click
    return Soundscape(mixture=mixture, background=background, events=[event])


def test_events_keep_their_onset_through_room_and_device():
    """A click labelled at 0.5 s is heard from 0.5 s in every room (the RIRs start at the direct
    path), and its reverberant tail follows it."""
    config = RecordingChainConfig(enabled=True, rir_bank_size=3, rt60=(0.4, 0.6), reverb_probability=1.0,
                                  distractor_rate=0.0, compression_probability=0.0, clipping_probability=0.0,
                                  sensor_noise_dbfs=(-120.0, -120.0), eq_bands=0)
    chain = RecordingChain.build(config, seed=1, sample_rate=SR)
    n, start = SR, SR // 2
    rooms = set()
    for index in range(12):
        recording = chain.record(_click_scape(n, start), split_id=4, index=index, sample_rate=SR, fade_duration=0.0)
        rooms.add(recording.room)
        envelope = np.abs(recording.mixture)
        onset = int(np.argmax(envelope > 0.2 * envelope.max()))
        assert abs(onset - start) <= 0.002 * SR, (index, onset - start)  # within 2 ms of the label
        tail = np.sqrt(np.mean(recording.mixture[start + int(0.05 * SR):start + int(0.15 * SR)] ** 2))
        before = np.sqrt(np.mean(recording.mixture[:start - int(0.01 * SR)] ** 2))
        assert tail > 30 * before  # the room's decay after the click, nothing before it
    assert len(rooms) > 1 and None not in rooms
