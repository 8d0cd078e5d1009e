"""The run folder and everything stored in it; every other package asks these modules.

- :mod:`.layout`: file and folder names, the best-else-last checkpoint rule;
- :mod:`.checkpoint`: the checkpoint format, the one safe reader, weights checksum, finding a
  run's checkpoint;
- :mod:`.settings`: the typed model and phase settings every checkpoint stores;
- :mod:`.state`: ``metrics.json`` / ``finished.json``, phase state, the "same run" rule, the
  files derived from a model;
- :mod:`.score_cache`: raw scores of a split, kept for reuse;
- :mod:`.postprocess`: which post-processing a model uses;
- :mod:`.predictor`: the predicting network without Lightning;
- :mod:`.precision`: the inference precisions (``fp32``, ``bf16``).

See docs/architecture.md.
"""
