#!/usr/bin/env bash
# The README's second command, and what CI runs (.ci/run): build the wheel, install it into a venv
# with the test dependencies, then run every test against the installed wheel:
#   1. cargo test --workspace   (the Rust tests; they need no Python)
#   2. mypy stubtest            (python/bettimatch/_core.pyi against the built module)
#   3. pytest tests             (against the installed wheel, never the source tree)
#
#   bash scripts/test.sh [PYTEST ARGS...]     e.g.  bash scripts/test.sh -x -k matching
#   (pytest runs in tests/: name test files relative to it, e.g. test_matching.py)
#
# Needs Rust (cargo) and Python >= 3.10 (the reference implementation, topolosses, needs it). The
# venv is .venv in the repository root unless BETTIMATCH_VENV names another one; requirements-test.txt
# lists what goes into it (torch among them: a large first download).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_wheel.sh"
need_cargo

make_venv "$ROOT/requirements-test.txt"
python -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    { echo "scripts/test.sh needs Python >= 3.10 (set PYTHON=python3.11, say)" >&2; exit 1; }

say "cargo test --workspace"
(cd "$ROOT" && cargo test --workspace)

build_and_install_wheel

# From here on, Python runs in tests/, so that `import bettimatch` can only find the installed wheel
# (the source tree's python/ is never on sys.path). Check that it does.
[ -d "$ROOT/tests" ] || { echo "no tests/ folder in $ROOT" >&2; exit 1; }
cd "$ROOT/tests"
where=$(python -c 'import bettimatch; print(bettimatch.__file__)')
case "$where" in
    "$VENV"/*) echo "testing the installed bettimatch at $where" ;;
    *) echo "import bettimatch found $where, not the wheel installed in $VENV" >&2; exit 1 ;;
esac

say "stubtest bettimatch._core"
MYPY_CACHE_DIR="$VENV/.mypy_cache" python -m mypy.stubtest bettimatch._core

say "pytest tests"
status=0
python -m pytest -ra "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
