#!/usr/bin/env bash
# Runs every Go fuzz target of xlgo, one after another, each for FUZZTIME
# (default 2m). A target's seed corpus (its f.Add seeds and
# testdata/fuzz/NAME/) also runs in `make test`; an input that fails is
# written to the package's testdata/fuzz/NAME/ and the run stops.
#
#   scripts/fuzz.sh                  every target
#   scripts/fuzz.sh Frontend Parse   the targets whose names contain a word
#
# FUZZTIME, FUZZPARALLEL (workers per target, default 2) and
# FUZZMINIMIZETIME (default 10s) tune it.
set -euo pipefail

cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-2m}
FUZZPARALLEL=${FUZZPARALLEL:-2}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}

# Every "func FuzzXxx(" in a test file, as "package-dir name".
targets=$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+\(' . |
    sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#\1 \2#' | sort -u)

want() {
    local name=$1; shift
    [ $# -eq 0 ] && return 0
    for w in "$@"; do
        case "$name" in *"$w"*) return 0 ;; esac
    done
    return 1
}

ran=0
while read -r dir name; do
    [ -n "$dir" ] || continue
    want "$name" "$@" || continue
    echo "== ./$dir $name for $FUZZTIME"
    go test "./$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" \
        -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$FUZZPARALLEL"
    ran=$((ran + 1))
done <<< "$targets"
if [ "$ran" -eq 0 ]; then
    echo "fuzz: no target matches: $*" >&2
    exit 1
fi
echo "fuzz: $ran targets ran for $FUZZTIME each"
