#!/usr/bin/env bash
# Creates ./.venv (once) and installs jointsed with the exact versions of constraints.txt.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (it skips work already done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PY" -m venv "$VENV"
fi
# Reinstall only when the dependency spec changed.
STAMP="$VENV/.jointsed-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing jointsed and its pinned dependencies (first run: about 1-2 minutes)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip<26"
    # torch==2.13.0 first, by exact version; CPU or CUDA build depends on the index pip uses (docs/gpu.md).
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" -e "$ROOT[test]"
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
