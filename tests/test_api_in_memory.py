"""The API in memory (issue 21 item 4): ``Detector.predict`` on waveforms, ``api.predict`` on
folders, ``Prediction.to_dataframe`` / ``scores_dataframe`` in sed_scores_eval's format, from
which sed_scores_eval's own PSDS equals what ``jointsed evaluate`` reports."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import fresh_run_copy, tone_file
from jointsed import api
from jointsed.data.annotations import read_durations_tsv
from jointsed.evaluate import PSDS1, audio_id, load_reference, read_frame_scores
from jointsed.inference import Detector
from jointsed.postprocess.params import PostProcessingParams
from jointsed.training.config import load_recipe


@pytest.fixture(scope="module")
def detector(gl_model):
    return Detector.from_checkpoint(gl_model)


def test_waveforms_in_memory_give_the_file_s_scores(detector, tmp_path):
    path = tone_file(tmp_path / "rec.flac", 7.0, 44100, 2, [(500.0, 1.0, 3.0)])
    from_file = detector.predict(path)
    samples, sr = sf.read(path, dtype="float32")  # (N, 2), as soundfile returns it
    for given in ((samples, sr), (samples.T, sr), (torch.from_numpy(samples.T.copy()), sr)):
        pred = detector.predict(given, name="rec.flac")
        np.testing.assert_array_equal(pred.frame_scores, from_file.frame_scores)
        np.testing.assert_array_equal(pred.clip_scores, from_file.clip_scores)
        assert pred.events == from_file.events and pred.duration == pytest.approx(from_file.duration)
    assert detector.predict(samples, sr).filename == "waveform"
    with pytest.raises(TypeError, match="needs its sample rate"):
        detector.predict(samples)
    with pytest.raises(TypeError, match="got list"):
        detector.predict([0.0, 0.1], 16000)
    with pytest.raises(TypeError, match="float array"):
        detector.predict(np.zeros(100, dtype=np.int16), 16000)
    with pytest.raises(TypeError, match="positive integer"):
        detector.predict(samples, 44100.5)


def test_dataframes(detector, tmp_path):
    path = tone_file(tmp_path / "a.wav", 5.0, 16000, 1, [(500.0, 1.0, 3.0)])
    pred = detector.predict(path)
    events = pred.to_dataframe()
    assert list(events.columns) == ["filename", "onset", "offset", "event_label"]
    assert len(events) == len(pred.events)
    scores = pred.scores_dataframe()
    assert list(scores.columns) == ["onset", "offset", *pred.classes]
    assert len(scores) == len(pred.frame_scores)
    np.testing.assert_allclose(scores["onset"].to_numpy()[:3], [0, pred.frame_hop, 2 * pred.frame_hop])
    np.testing.assert_allclose(scores["offset"].to_numpy(), scores["onset"].to_numpy() + pred.frame_hop, atol=1e-6)
    raw = pred.scores_dataframe(postprocessed=False)
    np.testing.assert_allclose(raw[pred.classes].to_numpy(), pred.frame_scores, atol=1e-7)
    # post-processed: the tag-gated, median-filtered scores, not the raw ones
    assert not np.allclose(scores[pred.classes].to_numpy(), raw[pred.classes].to_numpy())


def test_sed_scores_eval_psds_of_api_outputs_equals_jointsed_evaluate(gl_model, learnable_dataset, tmp_path):
    import sed_scores_eval

    run = fresh_run_copy(gl_model, tmp_path)  # evaluate writes RUN_DIR/eval/validation

    meta = learnable_dataset / "metadata" / "validation"
    gt, durations = meta / "validation.tsv", meta / "validation_durations.tsv"
    # no tag gating and a 3-frame median filter: this tiny model's clip scores are below the
    # default 0.5 tag thresholds, which would leave every score 0
    classes = load_recipe(gl_model / "config.yaml").data.classes
    pp = PostProcessingParams.uniform(classes, tag_threshold=0.0, frame_threshold=0.5, median_window=3)
    metrics = api.evaluate(run, learnable_dataset, postprocess=pp)
    predictions = api.predict(gl_model, learnable_dataset / "audio" / "validation",  # a folder, as the CLI
                              postprocess=pp)
    assert sorted(p.filename for p in predictions) == sorted(read_durations_tsv(durations))
    classes = metrics["psds_classes"]
    predictions_by_id = {audio_id(p.filename): p for p in predictions}
    scores = {audio_id(p.filename): p.scores_dataframe()[["onset", "offset", *classes]] for p in predictions}
    # the ground truth as the evaluation reads it (overlapping same-class events merged, which
    # sed_scores_eval requires)
    reference = load_reference(gt, durations, metrics["classes"])
    truth, lengths = reference.events, reference.durations
    psds, *_ = sed_scores_eval.intersection_based.psds(
        scores=scores, ground_truth=truth, audio_durations=lengths,
        dtc_threshold=PSDS1.dtc_threshold, gtc_threshold=PSDS1.gtc_threshold, cttc_threshold=None,
        alpha_ct=PSDS1.alpha_ct, alpha_st=PSDS1.alpha_st, max_efpr=PSDS1.max_efpr,
    )
    assert psds == pytest.approx(metrics["psds1"]["value"], abs=1e-9)
    # the inputs of that PSDS are the same: the evaluation's own score files (what its PSDS was
    # computed from) hold the API's DataFrames (this tiny model's PSDS1 is 0, so the equality
    # above alone would say little)
    written = read_frame_scores(run / "eval" / "validation" / "scores")
    assert set(written) == set(scores)
    for key, frame in scores.items():
        mine = predictions_by_id[key].scores_dataframe()
        assert list(mine.columns) == list(written[key].columns)
        np.testing.assert_allclose(mine.to_numpy(), written[key].to_numpy(), atol=1e-6)
    assert max(float(f[classes].to_numpy().max()) for f in scores.values()) > 0.1  # not all zero


def test_api_predict_folders_and_errors(gl_model, tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("b.wav", "a.wav"):
        tone_file(tmp_path / "clips" / name, 3.0, 16000, 1, [])
    single = tone_file(tmp_path / "c.wav", 3.0, 16000, 1, [])
    assert [p.filename for p in api.predict(gl_model, [tmp_path / "clips", single])] == ["a.wav", "b.wav", "c.wav"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(api.JointsedError, match="no audio file"):
        api.predict(gl_model, tmp_path / "empty")
