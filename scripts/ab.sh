#!/usr/bin/env bash
# scripts/ab.sh: compare variants of the hvcicheck command on the driver
# set, alternating, each run right after a run of the peer as in
# scripts/bench.sh (docs/performance.md, "Noise": on a shared VM only
# alternating runs compare).
#
#   scripts/ab.sh [-n ROUNDS] [-d DIR] VARIANT...
#
# A VARIANT is LABEL=BINARY or LABEL=BINARY:ENV, ENV being
# comma-separated NAME=VALUE settings for that variant's runs:
#
#   scripts/ab.sh -n 20 new=/tmp/hv-new old=/tmp/hv-old
#   scripts/ab.sh gogc400=/tmp/hv:GOGC=400 nothp=/tmp/hv:GODEBUG=disablethp=1 base=/tmp/hv
#
# Each round runs, for every variant in turn, `peer_pefile.py --no-code` on
# the files (untimed) and then `BINARY scan --format json` on them, timed by
# internal/benchrun. It prints per variant the median wall time, its
# quartiles and the median CPU time. DIR defaults to ../shared/corpus/byovd.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
ROUNDS=10
DIR=$SHARED/corpus/byovd
while getopts n:d: opt; do
	case $opt in
	n) ROUNDS=$OPTARG ;;
	d) DIR=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
	sed -n '2,20p' "$0" >&2
	exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$ROOT" && go build -o "$work/benchrun" ./internal/benchrun)
mapfile -t files < <(find "$DIR" -type f | sort)
[ ${#files[@]} -gt 0 ] || { echo "no files under $DIR" >&2; exit 2; }

for r in $(seq "$ROUNDS"); do
	for v in "$@"; do
		label=${v%%=*} spec=${v#*=}
		bin=${spec%%:*} envs=()
		[ "$spec" != "$bin" ] && IFS=, read -r -a envs <<<"${spec#*:}"
		/usr/bin/python3 "$SHARED/bench/peer_pefile.py" --no-code "${files[@]}" >/dev/null 2>&1 || true
		env "${envs[@]}" "$work/benchrun" -o "$work/t" -- "$bin" scan --format json "${files[@]}" >/dev/null 2>&1 || true
		echo "$label $(cat "$work/t")" >>"$work/results"
	done
	echo "round $r of $ROUNDS" >&2
done

# label wall_us user_s sys_s rss_kb exit → per label: median, quartiles, CPU
sort -k1,1 -k2,2n "$work/results" | awk '
function flush() {
	if (n == 0) return
	q3 = int(3 * n / 4) + 1
	if (q3 > n) q3 = n
	printf "%-16s median %7.1f ms   p25 %7.1f   p75 %7.1f   CPU %6.1f ms   n=%d\n", label, w[int((n + 1) / 2)], w[int(n / 4) + 1], w[q3], cpu_median(), n
}
function cpu_median(   i, j, t) {
	for (i = 2; i <= n; i++) { t = c[i]; for (j = i - 1; j >= 1 && c[j] > t; j--) c[j + 1] = c[j]; c[j + 1] = t }
	return c[int((n + 1) / 2)]
}
$1 != label { flush(); label = $1; n = 0 }
{ n++; w[n] = $2 / 1000; c[n] = ($3 + $4) * 1000 }
END { flush() }'
