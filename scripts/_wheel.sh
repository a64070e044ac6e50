# Shared by scripts/demo.sh and scripts/test.sh (sourced, not run): make a venv, build the wheel
# with `maturin build --release`, install that wheel (not an editable install) into the venv.
#
#   BETTIMATCH_VENV  the venv to create or reuse (default: .venv in the repository root)
#   PYTHON           the interpreter that creates it (default: python3)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${BETTIMATCH_VENV:-$ROOT/.venv}

say() { printf '\n==> %s\n' "$*"; }

checksum() {  # stdin -> 16 hex digits
    if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -c1-16
}

need_cargo() {
    command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
}

# make_venv REQUIREMENTS_FILE...: create $VENV if missing, install the files' requirements into it
# (skipped when a stamp says the same files were installed before), and put it first on PATH.
make_venv() {
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        say "creating venv $VENV"
        local clear=()
        [ -f "$VENV/pyvenv.cfg" ] && clear=(--clear)  # a venv whose interpreter is gone: start over
        "${PYTHON:-python3}" -m venv ${clear[@]+"${clear[@]}"} "$VENV"
    fi
    VENV=$(cd "$VENV" && pwd)
    export VIRTUAL_ENV=$VENV PATH="$VENV/bin:$PATH"
    local stamp="$VENV/.bettimatch-requirements" want
    want=$( (python -VV; cat "$@") | checksum)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing $* into $VENV"
        local args=(install)
        [ -n "${CI:-}" ] && args+=(--progress-bar off)
        python -m pip "${args[@]}" --upgrade pip
        for f in "$@"; do args+=(-r "$f"); done
        python -m pip "${args[@]}"
        echo "$want" >"$stamp"
    fi
}

# build_and_install_wheel: maturin build --release into a fresh folder, pip install that wheel.
build_and_install_wheel() {
    need_cargo
    local out
    out=$(mktemp -d "${TMPDIR:-/tmp}/bettimatch-wheel.XXXXXX")
    say "building the wheel (maturin build --release)"
    (cd "$ROOT" && maturin build --release --out "$out")
    local wheel
    wheel=$(ls "$out"/bettimatch-*.whl)
    say "installing $(basename "$wheel")"
    python -m pip uninstall --yes --quiet bettimatch 2>/dev/null || true
    python -m pip install "$wheel"
    rm -rf "$out"
}
