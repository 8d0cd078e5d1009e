"""Run folders and their files (checkpoints: :mod:`jointsed.runs.checkpoint`)."""
