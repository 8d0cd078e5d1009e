"""Issue 22: the raw scores kept in ``RUN_DIR/scores/<split>`` (:mod:`jointsed.pipeline.scoring`)
are reused only for the audio they were computed from."""

from __future__ import annotations

import numpy as np

from helpers import VALIDATION_TSV
from jointsed.pipeline import score_split


def test_audio_replaced_in_place_is_scored_again(trained_run, tiny_dataset, tmp_path, monkeypatch):
    """Issue 22: validation audio replaced under the same names reused the stale kept scores
    (the metrics described the old audio). The kept scores are keyed by each file's size and
    modification time too."""
    import shutil

    import soundfile as sf

    audio = tmp_path / "audio"
    shutil.copytree(tiny_dataset / "audio" / "validation", audio)
    split = dict(tsv=tiny_dataset / VALIDATION_TSV, audio=audio, split="replaced_audio")
    first = score_split(trained_run, **split, progress=False, reuse=False)
    assert score_split(trained_run, **split, progress=False).reused  # unchanged audio: reused

    name = first.filenames[0]
    wav, rate = sf.read(audio / name, dtype="float32")
    sf.write(audio / name, np.zeros_like(wav), rate)  # silence, same name, same size
    again = score_split(trained_run, **split, progress=False)
    assert not again.reused
    assert not np.allclose(again.frame_scores[name], first.frame_scores[name])
    other = first.filenames[1]
    np.testing.assert_allclose(again.frame_scores[other], first.frame_scores[other], atol=1e-6)
