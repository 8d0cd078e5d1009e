"""Issue 22: every size and number of a recipe, a post-processing file and a tuning grid has a
bound checked on load (:mod:`jointsed.training.config_bounds`), and a
config text nested thousands of levels deep is refused before it is parsed. Each case was a
traceback (MemoryError, RecursionError, OverflowError, torch's or Lightning's) or was accepted."""

from __future__ import annotations

import json
import re
import time

import pytest

from helpers import GL_RECIPE
from jointsed.cli import main
from jointsed.config import ConfigError, from_dict, load_yaml, parse_override
from jointsed.training.config import load_recipe

DEEP = 3000


@pytest.mark.parametrize("override,words", [
    ("seed=99999999999999999999999", "seed: 99999999999999999999999 is out of range"),  # OverflowError
    ("optimizer.lr=.nan", "optimizer.lr: nan is out of range"),  # torch: "Invalid learning rate"
    ("optimizer.lr=.inf", "optimizer.lr: inf is out of range"),  # blamed on a healthy wav's NaN
    ("trainer.gradient_clip_val=.nan", "trainer.gradient_clip_val: nan"),  # MisconfigurationException
    ("mean_teacher.ema_decay=2", "mean_teacher.ema_decay: 2 is out of range (allowed: 0 <= x <= 1)"),
    ("batch.composition.synthetic=1000000000", "batch.composition.synthetic: 1000000000 is out of range"),
    ("batch.composition.synthetic=1000000", "batch.composition.synthetic: 1000000 is out of range"),
    ("postprocess.median_windows=[1000000000]", "postprocess.median_windows[0]: 1000000000 is out of range"),
    ("data.cache_dir=../../elsewhere", "data.cache_dir: '../../elsewhere' leads out of the data root"),
])
def test_out_of_range_recipe_values_are_one_line_errors(override, words, tmp_path, capsys):
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_recipe(GL_RECIPE, [override])
    out = tmp_path / "run"
    started = time.perf_counter()
    assert main(["train", str(GL_RECIPE), "--data-root", str(tmp_path), "--out", str(out),
                 f"--set={override}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jointsed train: error: ") and words in err[0]
    assert not out.exists() and time.perf_counter() - started < 30  # refused before anything is built


def test_a_batch_whose_parts_add_up_past_the_limit_is_refused():
    with pytest.raises(ConfigError, match="batch.composition: 6000 clips per batch in all, more than 4096"):
        load_recipe(GL_RECIPE, ["batch.composition={weak: 3000, synthetic: 3000, unlabelled: 0}"])


def test_values_in_range_still_load():
    config = load_recipe(GL_RECIPE, ["seed=4294967295", "optimizer.lr=0.001", "mean_teacher.ema_decay=0.999",
                                     "data.cache_dir=/tmp/cache", "data.cache_dir=features/../cache"])
    assert config.seed == 4294967295 and config.data.cache_dir == "features/../cache"


def test_deep_nesting_is_refused_before_parsing(tmp_path, capsys):
    recipe = tmp_path / "deep.yaml"
    recipe.write_text("seed: " + "[" * DEEP + "]" * DEEP + "\n")
    with pytest.raises(ConfigError, match=f"{recipe}: nested more than 64 levels deep"):
        load_yaml(recipe)
    block = tmp_path / "block.yaml"  # block style: one mapping per indented line
    block.write_text("".join(f"{' ' * i}k{i}:\n" for i in range(DEEP)) + " " * DEEP + "v\n")
    with pytest.raises(ConfigError, match="nested more than 64 levels"):
        load_yaml(block)
    with pytest.raises(ConfigError, match="override seed: nested more than 64 levels"):
        parse_override("seed=" + "[" * DEEP + "]" * DEEP)
    with pytest.raises(ConfigError, match="a key path of more than 64 parts"):
        parse_override("a." * DEEP + "b=1")
    assert main(["train", str(recipe), "--data-root", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert parse_override("model.student.channels=[[8, 8], [8]]") == {"model": {"student": {"channels": [[8, 8], [8]]}}}


def test_a_postprocess_file_out_of_range_or_too_deep_is_refused(tmp_path):
    from jointsed.postprocess.base import PARAMS_FORMAT, load_postprocessor
    from jointsed.postprocess.params import PostProcessingParams

    params = PostProcessingParams.uniform(["a", "b"], median_window=5)
    path = tmp_path / "postprocess.json"
    path.write_text(json.dumps({"format": PARAMS_FORMAT, **params.to_dict(), "median_window": [5, 10**9]}))
    with pytest.raises(ConfigError, match=r"postprocess.json: median_window\[1\]: 1000000000 is out of range "
                                          r"\(allowed: x <= 180_000\)"):  # was 14.9 GiB then MemoryError
        load_postprocessor(path)
    path.write_text(json.dumps({"format": PARAMS_FORMAT, **params.to_dict(), "max_gap": [0.0, float("inf")]}))
    with pytest.raises(ConfigError, match=r"max_gap\[1\]: inf is out of range"):
        load_postprocessor(path)
    path.write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(ConfigError, match="nested more than 64 levels"):  # was a RecursionError
        load_postprocessor(path)
    path.write_text(json.dumps({"format": PARAMS_FORMAT, **params.to_dict()}))
    assert load_postprocessor(path).median_window == [5, 5]


def test_tuning_grids_are_bounded_per_list_and_in_all():
    from jointsed.postprocess.tuning_sebb import SebbGrid
    from jointsed.postprocess.tuning_types import TuningGrid

    with pytest.raises(ConfigError, match="tag_thresholds: 2000 values, more than 1000"):
        from_dict(TuningGrid, {"tag_thresholds": [0.5] * 2000})
    with pytest.raises(ConfigError, match="16,483,608 candidates per class, more than 1,000,000"):  # was 849 GiB
        from_dict(TuningGrid, {"tag_thresholds": [0.5] * 200, "frame_thresholds": [0.5] * 200,
                               "window_factors": [1.0] * 100})
    with pytest.raises(ConfigError, match=r"window_factors\[0\]: 1000000000.0 is out of range"):
        from_dict(SebbGrid, {"window_factors": [1e9]})
    with pytest.raises(ConfigError, match="psds_rounds: 1000000000000 is out of range"):
        from_dict(TuningGrid, {"psds_rounds": 10**12})
    grid = from_dict(TuningGrid, {"window_factors": [100.0]})
    assert grid.windows_for(100_000)[-1] == 180_000  # a factor never makes a window past the bound


def test_the_config_reference_shows_the_ranges():
    from jointsed.config import reference_markdown
    from jointsed.training.config import RecipeConfig
    from jointsed.training.config_bounds import RECIPE_BOUNDS

    text = reference_markdown(RecipeConfig, "Recipe", RECIPE_BOUNDS)
    row = next(line for line in text.splitlines() if line.startswith("| `ema_decay`"))
    assert "Range: `0 <= x <= 1`" in row
    assert "leads out of" not in text and "absolute path" in text  # the cache_dir comment


def test_train_says_where_a_cache_outside_the_data_root_goes(monkeypatch, tmp_path, capsys):
    """An absolute ``data.cache_dir`` is allowed (on purpose), and said even without progress."""
    from jointsed.training import phases

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(phases, "load_training_set", stop)  # the note comes before the data loads
    config = load_recipe(GL_RECIPE, [f"data.cache_dir={tmp_path / 'elsewhere'}"])
    with pytest.raises(Stop):
        phases.train(config, tmp_path / "data", tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert f"feature cache: {tmp_path / 'elsewhere'}" in err and "outside the data root" in err
    inside = load_recipe(GL_RECIPE)  # the default cache, inside the data root: nothing said without progress
    with pytest.raises(Stop):
        phases.train(inside, tmp_path / "data", tmp_path / "run2", progress=False)
    assert "feature cache" not in capsys.readouterr().err
