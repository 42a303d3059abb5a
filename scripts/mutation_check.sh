#!/usr/bin/env bash
# Mutation check: break the gradient on purpose (double it, flip its sign) in a scratch copy of
# qsense, and confirm that both the unit tests and chapter 1's hidden checks fail.
# The working tree is never modified. Usage: scripts/mutation_check.sh [path/to/python]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-$root/.venv/bin/python}
py="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
line='    return (2.0 / operator.m) * operator._adjoint_apply(res, U)'
grep -qF "$line" "$root/qsense/descent.py" || { echo "gradient line not found in qsense/descent.py"; exit 2; }
# Run from the scratch folder: python puts the current folder first on sys.path, so the mutated
# copy is the one imported, in pytest and (through PYTHONPATH) in the notebook kernels.
status=0
# The first pass is a control: the unmutated copy must pass, or the harness itself is broken.
for mutant in '(2.0 / operator.m)' '(4.0 / operator.m)' '(-2.0 / operator.m)'; do
  rm -rf "$tmp/qsense" && cp -r "$root/qsense" "$tmp/qsense"
  python3 - "$tmp/qsense/descent.py" "$line" "$mutant" <<'PY'
import sys
path, line, mutant = sys.argv[1:]
src = open(path).read()
open(path, "w").write(src.replace(line, line.replace("(2.0 / operator.m)", mutant)))
PY
  (cd "$tmp" && PYTHONPATH="$tmp" "$py" -c "import qsense, sys; sys.exit(not qsense.__file__.startswith('$tmp'))") \
    || { echo "the scratch copy of qsense is not the one imported"; exit 2; }
  for target in "$root/tests/test_descent.py" "--nbval-lax $root/chapters/01_matrix_sensing.ipynb"; do
    (cd "$tmp" && PYTHONPATH="$tmp" "$py" -m pytest -x -q -p no:cacheprovider -c "$root/pyproject.toml" \
          --rootdir "$root" $target > "$tmp/log" 2>&1)
    passed=$?
    name=${target#--nbval-lax }
    if [ "$mutant" = '(2.0 / operator.m)' ]; then
      [ $passed -eq 0 ] && echo "control:    the unmutated copy passes $name" \
        || { echo "CONTROL FAILED: the unmutated copy fails $name"; tail -20 "$tmp/log"; status=1; }
    elif [ $passed -eq 0 ]; then
      echo "NOT CAUGHT: gradient scaled by $mutant still passes $name"; status=1
    else
      echo "caught:     gradient scaled by $mutant fails $name"
    fi
  done
done
exit $status
