"""The plan of a comparison (``jointsed compare PLAN``): which systems ("rows"), trained with
which seeds, on which data, scored on which held-out sets, and which differences ("effects")
to report with confidence intervals. A typed YAML file, validated on load like a recipe.

Packaged plans live in ``jointsed/plans/`` and are addressed by name (``jointsed compare
proof_cpu``); any YAML path works too, and a plan may start from another (``base: proof_cpu.yaml``,
merged like recipes). A plan::

    description: the joint framework vs its ablations on the CPU recipes
    data: {synth: {preset: demo, seed: 0, args: [--n-eval, "692"]}}
    seeds: [42, 1, 2]
    rows:
      gl_baseline: {recipe: cpu/gl_baseline, label: "GL baseline (Lin et al.)"}
      joint: {recipe: cpu/joint}
      joint_lin_pp: {runs_of: joint, postprocess: default}
    effects:
      event_specific_pp: {treatment: joint, control: joint_lin_pp}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from jointsed.config import ConfigError, from_dict

#: how a row's runs are post-processed before scoring: tuned on the validation split (event-
#: specific, ``jointsed tune``), or Lin's defaults stored in the checkpoint
PostprocessChoice = Literal["tuned", "default"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class SynthSpec:
    """Synthesise the dataset (``jointsed synth``) into ``OUT/data`` when it is not there."""

    preset: str = "demo"
    seed: int = 0
    args: list[str] = field(default_factory=list)  # more `jointsed synth` arguments, e.g. [--n-eval, "692"]


@dataclass
class DataSpec:
    """Where the training data is: an existing dataset folder (``root``) or a synthesis."""

    root: Optional[str] = None  # a DESED-layout folder (relative to the plan's folder or absolute)
    synth: Optional[SynthSpec] = None

    def validate(self) -> None:
        if (self.root is None) == (self.synth is None):
            raise ConfigError("data: give exactly one of root (a dataset folder) or synth")


@dataclass
class TestSet:
    """A held-out set every run is scored on: files (relative to the data folder or absolute),
    or one split of another synthesised dataset (``synth``: other seeds, other layouts)."""

    tsv: Optional[str] = None
    audio: Optional[str] = None
    durations: Optional[str] = None
    synth: Optional[SynthSpec] = None  # synthesised into OUT/test_sets/<name>
    split: str = "validation"  # with synth: the split scored (validation or public_eval)

    def validate(self) -> None:
        files = (self.tsv, self.audio, self.durations)
        if self.synth is None and None in files:
            raise ConfigError("give tsv, audio and durations, or synth")
        if self.synth is not None and any(f is not None for f in files):
            raise ConfigError("give tsv/audio/durations or synth, not both")
        if self.split not in ("validation", "public_eval"):
            raise ConfigError(f"split: validation or public_eval, got {self.split!r}")


def _default_test_sets() -> dict[str, TestSet]:
    """The held-out split ``jointsed synth`` writes with ``--n-eval`` (DESED's public-eval layout)."""
    from jointsed.data.synth.dataset_files import EVAL_DURATIONS_TSV, EVAL_TSV
    from jointsed.data.synth.generate import SPLIT_BY_NAME

    return {"eval": TestSet(EVAL_TSV, SPLIT_BY_NAME["public_eval"].audio_dir, EVAL_DURATIONS_TSV)}


@dataclass
class RowSpec:
    """One system of the comparison: a recipe with overrides, or another row's runs scored
    with another post-processing (``runs_of``)."""

    recipe: Optional[str] = None  # packaged recipe name or YAML path
    set: list[str] = field(default_factory=list)  # recipe overrides (KEY=VALUE, as jointsed train --set)
    runs_of: Optional[str] = None  # reuse that row's trained runs instead of training
    postprocess: PostprocessChoice = "tuned"
    seeds: Optional[list[int]] = None  # default: the plan's seeds
    label: str = ""  # the table's name of the row (default: its key)
    skip: bool = False  # leave the row (and the effects that name it) out: a plan with `base:` drops rows so

    def validate(self) -> None:
        if (self.recipe is None) == (self.runs_of is None):
            raise ConfigError("give exactly one of recipe or runs_of")
        if self.runs_of is not None and self.set:
            raise ConfigError("set: a row that reuses other runs (runs_of) trains nothing")


@dataclass
class EffectSpec:
    """A difference to report: ``treatment - control`` (two rows scored on the same sets)."""

    treatment: str
    control: str
    label: str = ""


@dataclass
class ComparisonPlan:
    """A comparison: rows trained with every seed, tuned on the validation split, scored on the
    held-out sets; effects with 95 % intervals (:mod:`jointsed.evaluate.bootstrap`)."""

    rows: dict[str, RowSpec]
    data: DataSpec
    description: str = ""
    seeds: list[int] = field(default_factory=lambda: [42, 1, 2])
    set: list[str] = field(default_factory=list)  # overrides for every trained row (before the row's own)
    test_sets: dict[str, TestSet] = field(default_factory=_default_test_sets)
    effects: dict[str, EffectSpec] = field(default_factory=dict)
    bootstrap: int = 2000  # bootstrap replicates of each count-metric interval

    def validate(self) -> None:
        skipped = {name for name, row in self.rows.items() if row.skip}
        self.rows = {name: row for name, row in self.rows.items() if not row.skip}
        self.effects = {name: e for name, e in self.effects.items() if not {e.treatment, e.control} & skipped}
        for name, row in self.rows.items():
            if row.runs_of in skipped:
                raise ConfigError(f"rows.{name}.runs_of: row {row.runs_of!r} is skipped")
        if not self.rows:
            raise ConfigError("rows: at least one row is needed")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: a non-empty list of distinct seeds, got {self.seeds}")
        if not self.test_sets:
            raise ConfigError("test_sets: at least one held-out set is needed")
        if not 0 <= self.bootstrap <= 100_000:
            raise ConfigError(f"bootstrap: 0..100000 replicates, got {self.bootstrap}")
        for kind, names in (("row", self.rows), ("test set", self.test_sets), ("effect", self.effects)):
            for name in names:
                if not _NAME.match(name):
                    raise ConfigError(f"{kind} name {name!r}: letters, digits and _ only, starting with a letter")
        for name, row in self.rows.items():
            if row.runs_of is not None:
                source = self.rows.get(row.runs_of)
                if source is None:
                    raise ConfigError(f"rows.{name}.runs_of: no row {row.runs_of!r}")
                if source.runs_of is not None:
                    raise ConfigError(f"rows.{name}.runs_of: {row.runs_of!r} reuses runs itself; name the trained row")
                if row.seeds is not None and not set(row.seeds) <= set(self.seeds_of(row.runs_of)):
                    raise ConfigError(f"rows.{name}.seeds: {row.runs_of!r} is not trained with all of {row.seeds}")
        for name, effect in self.effects.items():
            for side in ("treatment", "control"):
                if getattr(effect, side) not in self.rows:
                    raise ConfigError(f"effects.{name}.{side}: no row {getattr(effect, side)!r}")
            if effect.treatment == effect.control:
                raise ConfigError(f"effects.{name}: treatment and control are the same row")

    def seeds_of(self, row: str) -> list[int]:
        """The seeds row ``row`` is trained (or scored) with."""
        spec = self.rows[row]
        if spec.seeds is not None:
            return list(spec.seeds)
        if spec.runs_of is not None:
            return self.seeds_of(spec.runs_of)
        return list(self.seeds)

    def trained_row(self, row: str) -> str:
        """The row whose runs ``row`` scores (itself, or its ``runs_of``)."""
        return self.rows[row].runs_of or row

    def label(self, row: str) -> str:
        return self.rows[row].label or row


def plans_root() -> Path:
    """The folder of the packaged comparison plans."""
    return Path(__file__).resolve().parents[1] / "plans"


def list_plans() -> list[str]:
    return sorted(p.stem for p in plans_root().glob("*.yaml"))


def resolve_plan(name_or_path: str) -> Path:
    """A plan file from a packaged plan's name or a path."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = plans_root() / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if packaged.is_file():
        return packaged
    raise ConfigError(f"{name_or_path}: neither a plan file nor a packaged plan ({', '.join(list_plans()) or 'none'})")


def load_plan(name_or_path: str, seeds: Optional[list[int]] = None) -> ComparisonPlan:
    """Read and validate a plan (``seeds`` replaces the plan's seeds, e.g. for a quick look)."""
    from jointsed.training.config import load_recipe_dict

    path = resolve_plan(name_or_path)
    data = load_recipe_dict(path)  # a plan may inherit from another (``base: proof_cpu.yaml``)
    if seeds is not None:
        data["seeds"] = list(seeds)
    try:
        plan = from_dict(ComparisonPlan, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if plan.data.root is not None and not Path(plan.data.root).is_absolute():
        plan.data.root = str((path.parent / plan.data.root).resolve())
    return plan
