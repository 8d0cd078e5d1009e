#!/usr/bin/env python
"""Collect the metrics written by scripts/ablation.sh into one table (markdown) and results.json.

    python scripts/results_table.py runs/ablation
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = [
    ("GL baseline (Lin et al.)", "gl_baseline", "test_default"),
    ("GL baseline + tuned post-processing", "gl_baseline", "test_tuned"),
    ("CRNN mean teacher (DCASE baseline)", "crnn_mean_teacher", "test_default"),
    ("CRNN mean teacher + tuned post-processing", "crnn_mean_teacher", "test_tuned"),
    ("Joint framework (DFD + AFL two-stage + event-specific PP)", "joint", "test_tuned"),
    ("  without DFD", "joint_no_dfd", "test_tuned"),
    ("  without AFL / single stage", "joint_no_afl", "test_tuned"),
    ("  without event-specific PP (Lin's)", "joint", "test_default"),
]
COLUMNS = [
    ("AT F1", ("tagging", "macro_f1")),
    ("event F1", ("event_based", "macro_f1")),
    ("segment F1", ("segment_based", "macro_f1")),
    ("PSDS1", ("psds1", "value")),
    ("PSDS2", ("psds2", "value")),
]


def main(out: Path) -> int:
    table = ["| system | " + " | ".join(c for c, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    results = {}
    for label, run, split in ROWS:
        path = out / run / "eval" / split / "metrics.json"
        if not path.is_file():
            print(f"missing: {path}", file=sys.stderr)
            continue
        metrics = json.loads(path.read_text())
        values = {}
        for name, (family, key) in COLUMNS:
            value = (metrics.get(family) or {}).get(key)
            values[name] = value
        results[label] = {"run": run, "split": split, **values}
        cells = ["–" if v is None else (f"{100 * v:.1f} %" if "F1" in n else f"{v:.3f}") for n, v in values.items()]
        table.append(f"| {label} | " + " | ".join(cells) + " |")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/ablation")))
