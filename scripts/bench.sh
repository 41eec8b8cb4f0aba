#!/usr/bin/env bash
# scripts/bench.sh: hvcicheck side by side with the pefile peer and the
# floors, on the same files, in one run (issue 6; docs/performance.md).
#
#   scripts/bench.sh                 # 5 rounds
#   ROUNDS=9 scripts/bench.sh
#
# It builds the throughput corpus (Wine's x64 PE images + EFI images carved
# from OVMF, ../shared/bench/get_corpus.sh) in $BENCH_DIR unless it is there,
# installs Debian's python3-pefile and python3-capstone if they are missing
# (apt-get, as root), builds hvcicheck, internal/benchfloor and
# internal/benchrun once, then times, alternating in each round, on each
# file set:
#
#   floor-headers   parse each file's headers, reading only them
#   floor-hash      read every byte of every file and SHA-256 it
#   floor-authcode  the same through SHA-256 + SHA-1 + SHA-256 (what the
#                   Authenticode hashes of the results cost on top)
#   hv-image        hvcicheck, image rules only, JSON Lines (the files are
#                   not hashed: only image rules are selected)
#   hv-image-hash   the same with --hash (every file hashed, for reference)
#   peer-image      peer_pefile.py --no-code
#   hv-full         hvcicheck, every rule, JSON
#   peer-full       peer_pefile.py (section checks and the capstone code check)
#
# The floors use as many goroutines as hvcicheck (one per CPU); the peer is
# single-threaded, as a user's script would be. Each run is timed by
# internal/benchrun (wall time from the command's start to its exit, CPU
# time and peak RSS from getrusage), nothing of the script's own counted.
# It prints, per set, the median wall time, files/s, MB/s of executable
# code, CPU time (user+sys), peak RSS, and the ratios against the targets of
# issue 6.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/hvcicheck-bench}
ROUNDS=${ROUNDS:-5}
PY=/usr/bin/python3 # Debian's, which has python3-pefile and python3-capstone
PEER=$SHARED/bench/peer_pefile.py
IMAGE_RULES=0x2003,0x2004,0x2005,page-crossing-relocation

mkdir -p "$BENCH_DIR/bin" "$BENCH_DIR/out"

# --- prerequisites -----------------------------------------------------------
need_apt=()
if ! "$PY" -c 'import pefile' 2>/dev/null; then need_apt+=(python3-pefile); fi
if ! "$PY" -c 'import capstone' 2>/dev/null; then need_apt+=(python3-capstone); fi
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "installing ${need_apt[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

if [ ! -s "$BENCH_DIR/corpus.txt" ]; then
	echo "building the throughput corpus in $BENCH_DIR/corpus" >&2
	(cd "$BENCH_DIR" && sh "$SHARED/bench/get_corpus.sh" "$BENCH_DIR/corpus" >&2)
fi
WINE_LIST=$BENCH_DIR/corpus.txt
BYOVD_LIST=$BENCH_DIR/byovd.txt
if [ -d "$SHARED/corpus/byovd" ]; then
	find "$SHARED/corpus/byovd" -type f | sort >"$BYOVD_LIST"
else
	echo "no $SHARED/corpus/byovd: the driver set is left out" >&2
	: >"$BYOVD_LIST"
fi
for list in "$WINE_LIST" "$BYOVD_LIST"; do
	if grep -q '[[:space:]]' "$list"; then
		echo "$list: a path holds white space; this script passes paths as words" >&2
		exit 2
	fi
done

echo "building hvcicheck, benchfloor and benchrun" >&2
(cd "$ROOT" && go build -o "$BENCH_DIR/bin/hvcicheck" ./cmd/hvcicheck &&
	go build -o "$BENCH_DIR/bin/benchfloor" ./internal/benchfloor &&
	go build -o "$BENCH_DIR/bin/benchrun" ./internal/benchrun)
HV=$BENCH_DIR/bin/hvcicheck
FLOOR=$BENCH_DIR/bin/benchfloor
TIMER=$BENCH_DIR/bin/benchrun

# --- measuring ---------------------------------------------------------------
RESULTS=$BENCH_DIR/results.txt # set name wall_us user_s sys_s maxrss_kb exit
: >"$RESULTS"

# run SET NAME LIST: one timed run of measurement NAME on the files of LIST.
run() {
	local set=$1 name=$2 list=$3 out=$BENCH_DIR/out/$1-$2 tf=$BENCH_DIR/out/$1-$2.time
	# shellcheck disable=SC2046 # paths are words (checked above)
	case $name in
	floor-headers) cmd=("$FLOOR" -mode headers -list "$list") ;;
	floor-hash) cmd=("$FLOOR" -mode hash -list "$list") ;;
	floor-authcode) cmd=("$FLOOR" -mode authenticode -list "$list") ;;
	hv-image) cmd=("$HV" scan --rules "$IMAGE_RULES" --format jsonl $(cat "$list")) ;;
	hv-image-hash) cmd=("$HV" scan --hash --rules "$IMAGE_RULES" --format jsonl $(cat "$list")) ;;
	peer-image) cmd=("$PY" "$PEER" --no-code $(cat "$list")) ;;
	hv-full) cmd=("$HV" scan --format json $(cat "$list")) ;;
	peer-full) cmd=("$PY" "$PEER" $(cat "$list")) ;;
	esac
	local status=0 wall_us user_s sys_s rss_kb
	rm -f "$tf"
	"$TIMER" -o "$tf" -- "${cmd[@]}" >"$out.out" 2>"$out.err" || status=$?
	if [ ! -s "$tf" ]; then
		echo "$set $name: not timed: $(head -c 300 "$out.err")" >&2
		exit 2
	fi
	# hvcicheck exits 1 when it has findings; 2 would mean files it could not analyse
	if [ "$status" -gt 1 ] || { [ "$status" -ne 0 ] && [ "${name#hv-}" = "$name" ]; }; then
		echo "warning: $set $name exited with $status: $(head -c 300 "$out.err")" >&2
	fi
	# wall time (µs), CPU time and peak RSS, as benchrun measured them
	read -r wall_us user_s sys_s rss_kb _ <"$tf"
	echo "$set $name $wall_us $user_s $sys_s $rss_kb $status" >>"$RESULTS"
}

MEASURES=(floor-headers floor-hash floor-authcode hv-image hv-image-hash peer-image hv-full peer-full)
SETS=(wine+efi)
[ -s "$BYOVD_LIST" ] && SETS+=(byovd)
list_of() { if [ "$1" = byovd ]; then echo "$BYOVD_LIST"; else echo "$WINE_LIST"; fi; }

echo "warming up (page cache, Python byte code)" >&2
for set in "${SETS[@]}"; do
	for m in "${MEASURES[@]}"; do run "$set" "$m" "$(list_of "$set")"; done
done
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
for r in $(seq "$ROUNDS"); do
	echo "round $r of $ROUNDS" >&2
	for set in "${SETS[@]}"; do
		for m in "${MEASURES[@]}"; do run "$set" "$m" "$(list_of "$set")"; done
	done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

# --- report ------------------------------------------------------------------
: >"$RESULTS.sizes"
for set in "${SETS[@]}"; do
	list=$(list_of "$set")
	read -r _ nfiles _ nbytes _ ncode _ <<<"$("$FLOOR" -mode headers -list "$list")"
	echo "$set sizes $nfiles $nbytes $ncode" >>"$RESULTS.sizes"
done

{
	rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')
	(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null) || rev="$rev-dirty"
	echo "hvcicheck $rev, $(nproc) CPUs, $(uname -m), $ROUNDS rounds, medians"
	echo "peer: $PY $(basename "$PEER") (pefile $("$PY" -c 'import pefile; print(pefile.__version__)'), capstone $("$PY" -c 'import capstone; print(capstone.__version__)'))"
	echo "load average before/after the timed rounds: $LOAD_BEFORE / $LOAD_AFTER (other work on the machine inflates wall times; the CPU column is less sensitive)"
}
awk -v sizes="$RESULTS.sizes" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
BEGIN {
	while ((getline line < sizes) > 0) { split(line, f, " "); files[f[1]] = f[3]; bytes[f[1]] = f[4]; code[f[1]] = f[5] }
}
{
	k = $1 SUBSEP $2; n[k]++; wall[k, n[k]] = $3 / 1e6; cpu[k, n[k]] = $4 + $5
	if ($6 > rss[k]) rss[k] = $6
	if (!(($1) in seenset)) { seenset[$1] = 1; sets[++nsets] = $1 }
	if (!(($2) in seenm)) { seenm[$2] = 1; ms[++nms] = $2 }
}
END {
	for (s = 1; s <= nsets; s++) {
		set = sets[s]
		printf "\n%s: %d files, %.1f MB, %.1f MB of executable code\n", set, files[set], bytes[set] / 1e6, code[set] / 1e6
		printf "%-16s %9s %10s %10s %9s %10s\n", "measure", "wall s", "files/s", "MB/s code", "CPU s", "peak RSS"
		for (m = 1; m <= nms; m++) {
			k = set SUBSEP ms[m]
			if (!(k in n)) continue
			delete w; delete c
			for (i = 1; i <= n[k]; i++) { w[i] = wall[k, i]; c[i] = cpu[k, i] }
			W[k] = median(w, n[k]); C[k] = median(c, n[k])
			t = W[k]
			printf "%-16s %9.4f %10.0f %10.1f %9.2f %7.1f MB\n", ms[m], W[k], files[set] / t, code[set] / t / 1e6, C[k], rss[k] / 1024
		}
	}
	printf "\n%-52s %8s %9s  %7s  %s\n", "ratios (medians of wall time)", "wall", "[CPU]", "target", "verdict"
	ratio("wine+efi", "peer-image", "hv-image", "image rules vs peer, files/s", 30, ">=")
	ratio("wine+efi", "hv-image", "floor-headers", "image rules / headers floor, time", 0, "")
	ratio("wine+efi", "peer-image", "hv-image-hash", "image rules --hash vs peer, files/s", 0, "")
	ratio("wine+efi", "hv-full", "floor-hash", "full scan / read+SHA-256 floor, time", 1.3, "<=")
	ratio("wine+efi", "hv-full", "floor-authcode", "full scan / read+3 hashes floor, time", 1.3, "<=")
	ratio("wine+efi", "peer-full", "hv-full", "full scan vs peer, files/s", 0, "")
	ratio("byovd", "peer-full", "hv-full", "driver set: full scan vs peer, files/s", 20, ">=")
	ratio("byovd", "hv-full", "floor-hash", "driver set: full scan / read+SHA-256 floor", 0, "")
	maxrss = 0
	for (k in rss) { split(k, p, SUBSEP); if (p[2] ~ /^hv-/ && rss[k] > maxrss) { maxrss = rss[k]; at = p[1] " " p[2] } }
	printf "%-52s %6.1f MB %9s  %7s  %s\n", "hvcicheck peak RSS (" at ")", maxrss / 1024, "", "< 100", (maxrss < 100 * 1024 ? "met" : "MISSED")
}
function ratio(set, a, b, what, target, op,    ka, kb, r, rc, ok, t) {
	ka = set SUBSEP a; kb = set SUBSEP b
	if (!(ka in W) || !(kb in W)) return
	r = W[ka] / W[kb]; rc = C[kb] > 0 ? C[ka] / C[kb] : 0
	t = ""; ok = ""
	if (op == ">=") { t = ">= " target; ok = r >= target ? "met" : "MISSED" }
	if (op == "<=") { t = "<= " target; ok = r <= target ? "met" : "MISSED" }
	printf "%-52s %7.2fx [%s]  %7s  %s\n", set ": " what, r, (rc > 0 ? sprintf("%6.2fx", rc) : "   n/a "), t, ok
}' "$RESULTS"
rm -f "$RESULTS.sizes"
