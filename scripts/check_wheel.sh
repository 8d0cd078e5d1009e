#!/usr/bin/env bash
# Release check (needs the package indexes): build the wheel, install it ALONE into a new venv with
# its dependencies from the index (pinned by constraints.txt), and run it from outside the
# repository: the CLI lists the packaged recipes and the API loads one by name.
#
#   bash scripts/check_wheel.sh [WORK_DIR]     # default: a temporary folder, removed afterwards
#
# torch comes first, by exact version, as scripts/setup_env.sh installs it; TORCH_INDEX picks the
# index: the CPU wheel index by default (small download; README "Two commands"), TORCH_INDEX=pypi
# for the default index (the CUDA build). tests/test_packaging.py is the offline version of this
# check (dependencies taken from the test environment instead of the index).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
if [ $# -ge 1 ]; then
    WORK="$1"; mkdir -p "$WORK"
else
    WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fi
started=$(date +%s)
PIP=(-m pip --disable-pip-version-check -q)

# 1. the wheel, from a clean copy of the sources (a build/ folder left in the checkout could add
#    files that no longer exist), with build isolation as a release build would do
echo "[check_wheel] building the wheel in $WORK"
rm -rf "$WORK/source" "$WORK/wheel" "$WORK/venv"
mkdir -p "$WORK/source"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/source/"
[ -f "$ROOT/LICENSE" ] && cp "$ROOT/LICENSE" "$WORK/source/"
cp -r "$ROOT/src" "$WORK/source/src"
find "$WORK/source" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
"$PY" "${PIP[@]}" wheel --no-deps "$WORK/source" -w "$WORK/wheel"
WHEEL="$(ls "$WORK"/wheel/jointsed-*.whl)"
"$PY" - "$WHEEL" <<'EOF'
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith("jointsed/recipes/") and n.endswith(".yaml")]
assert names, "the wheel holds no recipes (pyproject.toml package-data)"
print(f"[check_wheel] {sys.argv[1]}: {len(names)} recipes")
EOF

# 2. a new venv with only the wheel and its dependencies from the index
echo "[check_wheel] installing into a new venv (torch from ${TORCH_INDEX})"
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/python" "${PIP[@]}" install --upgrade "pip<26"
if [ "$TORCH_INDEX" = pypi ]; then
    "$V/python" "${PIP[@]}" install -c "$ROOT/constraints.txt" "torch==2.13.0"
else
    "$V/python" "${PIP[@]}" install -c "$ROOT/constraints.txt" "torch==2.13.0" --index-url "$TORCH_INDEX"
fi
"$V/python" "${PIP[@]}" install -c "$ROOT/constraints.txt" "$WHEEL"

# 3. from outside the repository: the recipes are found by name
cd /tmp
"$V/jointsed" --version
"$V/jointsed" demo --help > "$WORK/demo_help.txt"
for name in cpu/joint cpu/gl_baseline dcase2019/joint dcase2019/gl_baseline dcase2019/crnn_mean_teacher; do
    grep -q "$name" "$WORK/demo_help.txt" || { echo "[check_wheel] jointsed demo --help does not list $name"; exit 1; }
done
"$V/jointsed" recipes
"$V/python" - "$WORK/venv" <<'EOF'
import sys
from pathlib import Path

import jointsed
from jointsed import api

assert Path(jointsed.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), jointsed.__file__
config = api.load_recipe("dcase2019/joint")
assert config.system == "guided_learning" and config.joint.distillation.enabled, config.system
print(f"[check_wheel] api.load_recipe('dcase2019/joint'): {config.system} + DFD + AFL from {jointsed.__file__}")
EOF
echo "[check_wheel] OK in $(( $(date +%s) - started )) s"
