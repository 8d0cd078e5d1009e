"""The metric libraries import without dcase_util's pkg_resources deprecation warning (which
``jointsed report`` and ``evaluate`` used to print; issue 21 item 6), other warnings kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIBRARIES = ["sed_eval", "psds_eval", "sed_scores_eval"]


def _stderr(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_the_plain_import_warns():
    # what the filter is for: without jointsed.evaluate, importing the libraries warns here
    err = _stderr("import sed_scores_eval")
    if "pkg_resources" not in err:
        pytest.skip("this dcase_util / setuptools does not warn")


@pytest.mark.parametrize("library", LIBRARIES)
def test_no_pkg_resources_warning_under_jointsed_evaluate(library):
    err = _stderr(f"import jointsed.evaluate\nimport {library}\n"
                  "import warnings; warnings.warn('kept', UserWarning)\n")
    assert "pkg_resources" not in err
    assert "UserWarning: kept" in err
