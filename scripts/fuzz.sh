#!/usr/bin/env bash
# scripts/fuzz.sh: run every fuzz target of the repository for a given time
# each (issue 6; docs/fuzzing.md).
#
#   scripts/fuzz.sh                      # every target, 60s each
#   scripts/fuzz.sh -t 5m                # every target, 5 minutes each
#   scripts/fuzz.sh -t 2m FuzzCallSites  # only the targets named
#   PARALLEL=2 scripts/fuzz.sh           # fuzzing workers per target (default 1)
#   MINIMIZE=60s scripts/fuzz.sh         # -fuzzminimizetime (default 10s)
#
# The targets are found with `grep "func Fuzz"` in the *_test.go files.
# FuzzCallSites runs once per architecture (HVCICHECK_FUZZ_ARCH=x64, x86,
# arm64: the seeds are that architecture's fixtures), each for the given
# time. A target that finds a failure stops there: go writes the input to
# <package>/testdata/fuzz/<target>/ and prints the command that replays it;
# once the bug is fixed, commit that file as a regression seed (plain `go
# test` runs it). The script goes on with the other targets, prints one
# line per run (target, time, executions as in go's last status line: a
# lower bound, the workers report in batches) and exits 1 if any failed.
# go minimizes every new input that reaches new code; on the large seeds of
# FuzzCallSites and FuzzParse that took most of the time at go's default of
# 60s per input, hence MINIMIZE.
# Logs are kept in $FUZZ_LOGS (default: a new directory under /tmp).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIME=60s
while getopts "t:h" opt; do
	case $opt in
	t) TIME=$OPTARG ;;
	*)
		sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
PARALLEL=${PARALLEL:-1}
MINIMIZE=${MINIMIZE:-10s}
LOGS=${FUZZ_LOGS:-$(mktemp -d /tmp/hvcicheck-fuzz.XXXXXX)}
mkdir -p "$LOGS"
cd "$ROOT"

# package<TAB>target, for every fuzz target (or those named).
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . |
	sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz.*)$#\1\t\2#' | sort -u)
if [ $# -gt 0 ]; then
	want=$(printf '%s\n' "$@")
	targets=$(printf '%s\n' "$targets" | awk -F'\t' 'NR==FNR { w[$1]=1; next } w[$2]' <(echo "$want") -)
fi
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz target matches" >&2
	exit 2
fi

failed=0
printf '%-28s %-8s %-6s %12s  %s\n' target variant time execs result
run() { # package target variant [env...]
	local pkg=$1 name=$2 variant=$3
	shift 3
	local log="$LOGS/${pkg//\//_}-$name-$variant.log"
	local rc=0
	env "$@" go test "./$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$TIME" -fuzzminimizetime "$MINIMIZE" -parallel "$PARALLEL" >"$log" 2>&1 || rc=$?
	local execs
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	local result=ok
	if [ $rc -ne 0 ]; then
		result="FAIL ($(grep -o 'testdata/fuzz/[^ ]*' "$log" | head -1 || true)) log: $log"
		failed=1
	fi
	printf '%-28s %-8s %-6s %12s  %s\n' "$pkg.$name" "$variant" "$TIME" "${execs:-?}" "$result"
}
while IFS=$'\t' read -r pkg name; do
	if [ "$name" = FuzzCallSites ]; then
		for arch in x64 x86 arm64; do
			run "$pkg" "$name" "$arch" HVCICHECK_FUZZ_ARCH=$arch
		done
	else
		run "$pkg" "$name" all
	fi
done <<<"$targets"
echo "logs: $LOGS"
exit $failed
