"""jointsed compare (jointsed.pipeline.compare): a tiny plan end to end on the ``tiny`` preset:
two rows, two seeds, an effect, through the real commands; a rerun reuses everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import DEMO_TINY
from jointsed.config import ConfigError
from jointsed.pipeline.compare import RESULTS_FILE, TABLES_FILE, run_comparison
from jointsed.pipeline.compare_plan import load_plan

TINY_PLAN = {
    "description": "tiny",
    "data": {"synth": {"preset": "tiny", "seed": 0}},
    "seeds": [1, 2],
    "bootstrap": 200,
    "rows": {
        "gl": {"recipe": "cpu/gl_baseline", "set": DEMO_TINY, "label": "GL tiny"},
        "gl_lin": {"runs_of": "gl", "postprocess": "default"},
    },
    "effects": {"tuning": {"treatment": "gl", "control": "gl_lin"}},
}


def _plan(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_a_tiny_comparison_trains_scores_and_reports_effects(tmp_path):
    plan = load_plan(str(_plan(tmp_path, TINY_PLAN)))
    out = tmp_path / "out"
    said: list[str] = []
    results = run_comparison(plan, out, jobs=2, echo=said.append)
    assert (out / RESULTS_FILE).is_file() and (out / TABLES_FILE).is_file()
    assert json.loads((out / RESULTS_FILE).read_text())["tables"] == results["tables"]
    rows = results["rows"]
    assert set(rows) == {"gl", "gl_lin"} and set(rows["gl"]["seeds"]) == {"1", "2"}
    for row in rows.values():
        for seed in row["seeds"].values():
            assert seed["budget"]["epochs"] == 1 and seed["budget"]["clip_presentations"] > 0
            metrics = seed["test_sets"]["eval"]
            assert 0.0 <= metrics["event_f1"] <= 1.0 and metrics["psds1"] is not None
        assert row["summary"]["eval"]["event_f1"]["n"] == 2
    # both rows score the same two runs (gl_lin reuses gl's): tuned vs Lin's post-processing
    assert (out / "runs" / "gl" / "s1" / "eval" / "eval_tuned").is_dir()
    assert (out / "runs" / "gl" / "s1" / "eval" / "eval_default").is_dir()
    assert not (out / "runs" / "gl_lin").exists()
    effect = results["effects"]["tuning"]["test_sets"]["eval"]
    for metric in ("event_f1", "segment_f1", "at_f1"):
        e = effect[metric]
        assert e["method"].startswith("paired clip bootstrap") and e["ci95"][0] <= e["ci95"][1]
        mean = rows["gl"]["summary"]["eval"][metric]["mean"] - rows["gl_lin"]["summary"]["eval"][metric]["mean"]
        assert e["estimate"] == pytest.approx(mean, abs=1e-9)  # the counts reproduce the evaluator's F1
    assert effect["psds1"]["method"] == "Welch t over seeds"
    assert "GL tiny" in results["tables"] and "95 % interval" in results["tables"]
    # a rerun trains nothing again
    said.clear()
    run_comparison(plan, out, jobs=1, echo=said.append)
    assert sum(line.endswith(": reused") for line in said) == 2 and "built 0" in said[0], said


def test_plans_are_validated_naming_the_key(tmp_path):
    bad = [
        ({"rows": {"a": {"runs_of": "b"}}}, "rows.a.runs_of"),
        ({"rows": {"a": {"recipe": "cpu/joint", "runs_of": "a"}}}, "exactly one of recipe or runs_of"),
        ({"effects": {"e": {"treatment": "gl", "control": "nope"}}}, "effects.e.control"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"rows": {"bad-name": {"recipe": "cpu/joint"}}}, "bad-name"),
        ({"data": {"root": "x", "synth": {"preset": "tiny"}}}, "data"),
        ({"colour": "red"}, "colour"),
    ]
    for change, message in bad:
        data = {**TINY_PLAN, **change}
        with pytest.raises(ConfigError, match=message):
            load_plan(str(_plan(tmp_path, data)))


def test_a_derived_plan_skips_rows_and_their_effects(tmp_path):
    _plan(tmp_path, TINY_PLAN)
    derived = tmp_path / "derived.yaml"
    derived.write_text(yaml.safe_dump({"base": "plan.yaml", "rows": {"gl_lin": {"skip": True}}}))
    plan = load_plan(str(derived))
    assert list(plan.rows) == ["gl"] and plan.effects == {}
    derived.write_text(yaml.safe_dump({"base": "plan.yaml", "rows": {"gl": {"skip": True}}}))
    with pytest.raises(ConfigError, match="skipped"):  # gl_lin scores gl's runs
        load_plan(str(derived))


def test_packaged_plans_load():
    from jointsed.pipeline.compare_plan import list_plans

    names = list_plans()
    assert {"proof_cpu", "proof_cpu_dry"} <= set(names)
    for name in names:
        plan = load_plan(name)
        assert len(plan.seeds) >= 3 and plan.effects  # every packaged comparison reports effects over 3+ seeds
