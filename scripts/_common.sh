# Shared by scripts/demo and scripts/test: find Python 3.11 and keep .venv in step with
# pyproject.toml (reinstalled only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "$candidate"
        return
    fi
  done
  echo "Agora needs Python 3.11 (python3.11 was not found)." >&2
  exit 1
}

# ensure_venv SPEC NAME: pip-install SPEC (".", ".[dev]") unless NAME's stamp is newer
# than pyproject.toml.
ensure_venv() {
  local spec=$1 stamp=".venv/.installed-$2"
  if [[ ! -x .venv/bin/python ]]; then
    "$(find_python)" -m venv .venv
  fi
  if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$spec"
    touch "$stamp"
  fi
}
