#!/usr/bin/env bash
# Runs every native Go fuzz target of the repository (func FuzzXxx(f *testing.F)
# in any *_test.go), one at a time, each for $FUZZTIME (default 10s), and stops
# at the first failure. Plain `go test` (make test, CI) only replays the seed
# corpora; this explores beyond them.
#
#   scripts/fuzz.sh                    # every target, 10s each
#   FUZZTIME=2m scripts/fuzz.sh        # longer
#   FUZZTIME=20000x scripts/fuzz.sh    # a number of inputs per target (CI)
#   scripts/fuzz.sh ParseFile          # only targets whose name contains ParseFile
#
# A failing input is written to the package's testdata/fuzz/FuzzXxx/: fix the
# bug, and keep the file only if it is a meaningful regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"
GO="${GO:-go}"
only="${1:-}"

targets=()
while IFS= read -r file; do
  dir="$(dirname "$file")"
  while IFS= read -r name; do
    if [[ -z "$only" || "$name" == *"$only"* ]]; then
      targets+=("$dir $name")
    fi
  done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*\*testing\.F).*/\1/p' "$file")
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v -e '/testdata/' -e '/\.' | sort)

if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz target found${only:+ matching $only}" >&2
  exit 1
fi

start=$SECONDS
i=0
for t in "${targets[@]}"; do
  dir="${t% *}"
  name="${t#* }"
  i=$((i + 1))
  echo "== [$i/${#targets[@]}] $name in ${dir#./} for $FUZZTIME"
  # cd into the package so that nested modules (helm/test) work as well.
  log="$(mktemp)"
  if ! (cd "$dir" && "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" .) 2>&1 | tee "$log"; then
    # Go before 1.27 can fail a target with a bare "context deadline
    # exceeded" when a duration -fuzztime ends while a worker is busy
    # (golang/go#75804): no input failed. A count (FUZZTIME=20000x), as CI
    # uses, has no deadline to race.
    if grep -q 'context deadline exceeded' "$log" && ! grep -q -e 'Failing input written' -e 'panic:' "$log"; then
      echo "== $name: the Go fuzz coordinator's end-of-fuzztime race (golang/go#75804), no failing input; not a finding"
    else
      rm -f "$log"
      echo "FAIL: $name in ${dir#./}" >&2
      exit 1
    fi
  fi
  rm -f "$log"
done
echo "== all ${#targets[@]} fuzz targets passed in $((SECONDS - start))s"
