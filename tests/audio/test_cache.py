"""On-disk feature cache (jointsed.audio.cache): keys, hits/misses, invalidation, parallel build, error reporting."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from jointsed.audio import AudioError, CacheError, CacheReport, FeatureCache, FeatureConfig, extract_logmel
from jointsed.audio import cache as cache_module
from helpers import write_clip

CONFIG = FeatureConfig(clip_duration=2.0)  # 100 frames: keeps the tests fast


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes that were not cleaned up."""
    return [p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_get_computes_stores_then_hits(tmp_path, clips, monkeypatch):
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    assert not cache.has(clips[0])
    first = cache.get(clips[0])
    assert first.shape == (100, 64) and first.dtype == np.float32
    entry = cache.entry_path(clips[0])
    assert entry.parent == tmp_path / "cache" / CONFIG.config_hash()
    assert entry.is_file() and cache.has(clips[0])
    assert np.load(entry).dtype == np.float16
    assert (entry.parent / "config.json").is_file()
    # float16 storage is close to the float32 computation
    assert np.max(np.abs(first - extract_logmel(clips[0], CONFIG))) < 0.02

    def no_compute(*args, **kwargs):
        raise AssertionError("a cache hit must not recompute")

    monkeypatch.setattr(cache_module, "_compute_entry", no_compute)
    again = FeatureCache(tmp_path / "cache", CONFIG).get(clips[0])  # a new instance: read from disk
    np.testing.assert_array_equal(first, again)


def test_changed_file_is_recomputed(tmp_path, clips):
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    old = cache.get(clips[1])
    old_entry = cache.entry_path(clips[1])
    # same size, different content and modification time
    write_clip(clips[1], 3000.0, sr=44100, channels=2)
    st = clips[1].stat()
    os.utime(clips[1], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert cache.entry_path(clips[1]) != old_entry
    assert not cache.has(clips[1])
    new = cache.get(clips[1])
    assert np.abs(new - old).max() > 1.0
    np.testing.assert_allclose(new, extract_logmel(clips[1], CONFIG), atol=0.02)
    # touching alone (mtime) also invalidates
    os.utime(clips[1], ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    assert not cache.has(clips[1])


def test_config_change_gives_a_different_key(tmp_path, clips):
    a = FeatureCache(tmp_path / "cache", CONFIG)
    b = FeatureCache(tmp_path / "cache", FeatureConfig(clip_duration=2.0, n_mels=40))
    assert a.folder != b.folder
    assert a.get(clips[0]).shape == (100, 64)
    assert not b.has(clips[0])
    assert b.get(clips[0]).shape == (100, 40)


def test_truncated_entry_is_recomputed(tmp_path, clips):
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    good = cache.get(clips[2])
    entry = cache.entry_path(clips[2])
    entry.write_bytes(entry.read_bytes()[:300])
    assert not cache.has(clips[2])
    np.testing.assert_array_equal(cache.get(clips[2]), good)


@pytest.mark.parametrize("workers", [1, 2])
def test_build_reports_built_then_reused(tmp_path, clips, workers):
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    report = cache.build(clips + [clips[0]], workers=workers, progress=False)  # duplicate counted once
    assert isinstance(report, CacheReport) and report.ok
    assert report.built == clips and report.reused == [] and report.failed == []
    assert report.audio_seconds == pytest.approx(12.0, abs=0.01)
    assert report.realtime_factor > 0 and "built 6" in report.summary()
    for p in clips:
        np.testing.assert_allclose(cache.get(p), extract_logmel(p, CONFIG), atol=0.02)
    again = cache.build(clips, workers=workers, progress=False)
    assert again.built == [] and again.reused == clips
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_files_skipped_by_name(tmp_path, clips, bad_files, capsys, workers):
    corrupt, empty = bad_files
    missing = tmp_path / "audio" / "missing.wav"
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    report = cache.build([clips[0], corrupt, clips[1], empty, missing], workers=workers, on_error="skip",
                         progress=False)
    assert report.built == [clips[0], clips[1]]
    failed = dict(report.failed)
    assert set(failed) == {corrupt, empty, missing}
    assert "empty" in failed[empty] and "not found" in failed[missing]
    err = capsys.readouterr().err
    for p in (corrupt, empty, missing):
        assert str(p) in err
    assert not report.ok and "failed 3" in report.summary()
    assert leftovers(tmp_path / "cache") == []
    assert len(list(cache.folder.glob("*.npy"))) == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_file_raises_in_fail_mode(tmp_path, clips, bad_files, workers):
    corrupt, empty = bad_files
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    for bad in (corrupt, empty):
        with pytest.raises(AudioError) as info:
            cache.build([clips[0], bad, clips[1]], workers=workers, on_error="fail", progress=False)
        assert str(bad) in str(info.value)
    with pytest.raises(AudioError, match="corrupt.wav"):
        cache.get(corrupt)
    assert leftovers(tmp_path / "cache") == []


def test_failed_write_leaves_no_partial_file(tmp_path, clips, monkeypatch):
    cache = FeatureCache(tmp_path / "cache", CONFIG)

    def broken_save(fh, arr, allow_pickle=False):
        fh.write(b"\x93NUMPY half")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):  # not an audio problem: never skipped
        cache.build(clips[:2], workers=1, progress=False)
    assert list(cache.folder.glob("*.npy")) == []
    assert leftovers(tmp_path / "cache") == []


def test_load_stack(tmp_path, clips, bad_files):
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    order = [clips[3], clips[0], clips[5]]
    stack = cache.load_stack(order, workers=2)
    assert stack.shape == (3, 100, 64) and stack.dtype == np.float32
    for i, p in enumerate(order):
        np.testing.assert_array_equal(stack[i], cache.get(p))
    with pytest.raises(AudioError, match="corrupt.wav"):  # a dataset never drops a clip silently
        cache.load_stack([clips[0], bad_files[0]], workers=1)


def test_unwritable_cache_is_a_clear_error(tmp_path, clips):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    cache = FeatureCache(blocker, CONFIG)
    with pytest.raises(CacheError, match="not_a_folder"):
        cache.build(clips[:1], workers=1, progress=False)
    with pytest.raises(CacheError, match="not_a_folder"):
        cache.get(clips[0])


def test_an_entry_holding_nan_is_blamed_on_the_cache_and_recomputed(tmp_path, clips, capsys):
    """Issue 22: NaN written into a cache entry was reported as the audio's fault (downstream,
    "probabilities contain NaN"); it is a damaged entry, said so and computed again."""
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    good = cache.get(clips[0])
    entry = cache.entry_path(clips[0])
    damaged = np.load(entry)
    damaged[3, 5] = np.nan
    np.save(entry, damaged)  # same size: the entry looks complete
    assert cache.has(clips[0])
    stack = cache.load_stack([clips[0], clips[1]])
    err = capsys.readouterr().err
    assert str(entry) in err and "damaged" in err and str(clips[0]) not in err  # the cache, not the audio
    np.testing.assert_array_equal(stack[0], good)
    assert np.isfinite(np.load(entry)).all()
