"""``jointsed train`` as a command: ``--stage 2`` without stage 1 is a message naming ``--init``
(exit 2). What ``stage=`` / ``force`` / ``init_checkpoint=`` do is tested in
tests/training/test_phases.py."""

from __future__ import annotations

from helpers import JOINT_RECIPE, TINY_JOINT
from jointsed.cli import main as cli_main


def test_stage_2_without_stage_1_names_init(learnable_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(run), "--no-progress",
            *[f"--set={o}" for o in TINY_JOINT + ["joint.distillation.enabled=false", "trainer.max_epochs=2",
                                                    "joint.two_stage.epochs=1", "validation.event_f1=false"]]]
    assert cli_main([*args, "--stage", "2"]) == 2  # stage 1 is missing
    assert "--init" in capsys.readouterr().err
    assert not (run / "stage2" / "finished.json").exists()
