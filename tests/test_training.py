"""Kept only for ``tests/test_predict.py``, which imports its recipes from here: the training tests
are in tests/training/, the shared constants in tests/helpers.py. Delete this file once
test_predict.py imports from ``helpers``."""

from helpers import GL_RECIPE, MT_RECIPE, TINY_GL, TINY_MT  # noqa: F401  (re-exported)
