#!/usr/bin/env bash
# Sets up the environment if needed, then runs the demo: synthesize a small dataset, train the
# joint system (both stages), tune post-processing, evaluate and write the report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec jointsed demo "$@"
