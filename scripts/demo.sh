#!/usr/bin/env bash
# The README's first command: build the wheel, install it into a venv, run the built-in example.
#   bash scripts/demo.sh
# Needs Rust (cargo) and Python >= 3.9. The venv is .venv in the repository root unless
# BETTIMATCH_VENV names another one.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_wheel.sh"

make_venv "$ROOT/requirements-demo.txt"
build_and_install_wheel
say "python -m bettimatch.demo"
cd "${TMPDIR:-/tmp}"  # import the installed wheel, not the source tree
python -m bettimatch.demo
