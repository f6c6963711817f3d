#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for a bounded time.
#
# Targets are found, not listed: every `func FuzzXxx(f *testing.F)` in a
# *_test.go file of any module (the root module and the nested ones:
# adapter/prometheus, examples, bench, reliability, ...) is run with
#
#   go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime <share>s ./<package>
#
# from its module's directory, one target after the other, so a new target
# is picked up without editing this script. The seed corpus of a target is
# its f.Add calls plus the files in <package>/testdata/fuzz/FuzzXxx/ (Go's
# "go test fuzz v1" format); `make test` replays those seeds as ordinary
# tests.
#
# Time budget: FUZZ_TIME_TOTAL seconds of fuzzing (default 240) divided
# evenly among the targets; FUZZ_TIME=<seconds> sets the time of each target
# instead. Each target's binary runs about 1s past its -fuzztime (baseline
# coverage, worker shutdown): the default keeps the sum under 5 minutes. The budget is fuzzing time only: compiling the instrumented test
# binaries (about a minute per package on a cold build cache, seconds when
# cached) comes on top and is reported as overhead. -fuzzminimizetime is
# capped (FUZZ_MINIMIZE_TIME, default 10s) so minimising a crasher cannot
# blow the budget. FUZZ_MATCH / FUZZ_SKIP are extended regular expressions
# on "<package dir> <target>" to run a subset (FUZZ_MATCH=revocation,
# FUZZ_SKIP='^bench/'); FUZZ_LIST=1 only prints what would run.
#
# Output: one log per target in .run/fuzz/, then a table of target,
# package, fuzz time, execs, new interesting inputs, wall time and result.
# Exit status: 0 when every target ran clean; 1 when a target found a
# crasher or could not run (build error, failing seed). Go writes a crasher
# to <package>/testdata/fuzz/FuzzXxx/<hash>; the script prints that path:
# fix the bug, then commit the file as a regression seed so `make test`
# replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

total=${FUZZ_TIME_TOTAL:-240}
minimize=${FUZZ_MINIMIZE_TIME:-10s}
logdir=$root/.run/fuzz
mkdir -p "$logdir"

die() {
	echo "fuzz: $*" >&2
	exit 2
}
case $total in '' | *[!0-9]*) die "FUZZ_TIME_TOTAL must be whole seconds, got '$total'" ;; esac

# modroot DIR: the nearest directory at or above DIR holding a go.mod.
modroot() {
	local d=$1
	while [ "$d" != "." ] && [ ! -f "$d/go.mod" ]; do
		d=$(dirname "$d")
	done
	echo "$d"
}

# Discover "<package dir> <target>" pairs, sorted so that the targets of one
# package run back to back and share its compiled test binary.
targets=()
while IFS= read -r line; do
	targets+=("$line")
done < <(
	grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . \
		--exclude-dir=.git --exclude-dir=.cache --exclude-dir=.run --exclude-dir=testdata --exclude-dir=vendor |
		sed -E 's#^\./##; s#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#; s#^[^/ ]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \1#' |
		sort -u |
		{ grep -E -- "${FUZZ_MATCH:-.}" || true; } |
		{ if [ -n "${FUZZ_SKIP:-}" ]; then grep -Ev -- "$FUZZ_SKIP" || true; else cat; fi; }
)
n=${#targets[@]}
[ "$n" -gt 0 ] || die "no fuzz targets found (FUZZ_MATCH='${FUZZ_MATCH:-}', FUZZ_SKIP='${FUZZ_SKIP:-}')"
if [ -n "${FUZZ_LIST:-}" ]; then
	printf '%s\n' "${targets[@]}"
	exit 0
fi

if [ -n "${FUZZ_TIME:-}" ]; then
	per=${FUZZ_TIME%s}
	case $per in '' | *[!0-9]*) die "FUZZ_TIME must be whole seconds, got '$FUZZ_TIME'" ;; esac
else
	per=$((total / n))
fi
[ "$per" -ge 1 ] || die "budget of ${total}s is too small for $n targets (FUZZ_TIME_TOTAL)"
echo "fuzz: $n targets, ${per}s each, $((per * n))s of fuzzing in total (plus compile time)"
if [ $((per * n)) -gt 280 ]; then
	echo "fuzz: note: $((per * n))s of fuzzing leaves no room under the 5-minute CI ceiling (each target overruns its share by about 1s)"
fi

# A hung build or fuzzer is killed well after its share (compile included).
guard=$((per + 600))

rows=()
fuzzed=0
crashers=()
failed=0
start_all=$(date +%s)
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	mod=$(modroot "$pkg")
	if [ "$mod" = "$pkg" ]; then
		rel=.
	elif [ "$mod" = . ]; then
		rel=./$pkg
	else
		rel=./${pkg#"$mod"/}
	fi
	log=$logdir/$(echo "$pkg" | tr '/.' '__')_$name.log
	echo "== $pkg $name (${per}s, module $mod)"
	t0=$(date +%s)
	rc=0
	(cd "$mod" && timeout --kill-after=10 "$guard" \
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "${per}s" -fuzzminimizetime "$minimize" "$rel") >"$log" 2>&1 || rc=$?
	wall=$(($(date +%s) - t0))

	# Last progress line: "fuzz: elapsed: 18s, execs: 123456 (6858/sec), new interesting: 3 (total: 40)".
	last=$(grep -E '^fuzz: elapsed: [0-9]+s, execs: ' "$log" | tail -n 1 || true)
	execs=$(echo "$last" | sed -nE 's/.*execs: ([0-9]+).*/\1/p')
	newint=$(echo "$last" | sed -nE 's/.*new interesting: ([0-9]+).*/\1/p')
	# The test binary's own run time ("ok  <pkg>  18.512s"): baseline coverage
	# of the corpus, fuzzing and worker shutdown, without the build.
	ran=$(sed -nE 's/^(ok|FAIL|---)[[:space:]]+[^[:space:]]+[[:space:]]+([0-9.]+)s$/\2/p' "$log" | tail -n 1)
	if [ -z "$ran" ]; then
		ran=$(echo "$last" | sed -nE 's/^fuzz: elapsed: ([0-9]+)s.*/\1/p')
	fi
	[ -n "$ran" ] && fuzzed=$(awk -v a="$fuzzed" -v b="$ran" 'BEGIN { printf "%.1f", a + b }')
	crash=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -n 1)

	if [ "$rc" -eq 0 ]; then
		result=ok
	elif [ -n "$crash" ]; then
		result=CRASHER
		crashers+=("$pkg/$crash|$mod|$rel|$name/$(basename "$crash")|$log")
		failed=1
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		result="KILLED after ${guard}s"
		failed=1
	else
		result="FAIL (rc $rc)"
		failed=1
	fi
	if [ "$result" != ok ]; then
		echo "-- $name: $result; last lines of $log:"
		tail -n 25 "$log" | sed 's/^/   /'
	fi
	rows+=("$name|$pkg|${ran:--}s|${execs:--}|${newint:--}|${wall}s|$result")
done
wall_all=$(($(date +%s) - start_all))

echo
printf '%-32s %-22s %8s %12s %6s %6s  %s\n' TARGET PACKAGE FUZZED EXECS NEW WALL RESULT
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e f g <<<"$r"
	printf '%-32s %-22s %8s %12s %6s %6s  %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"
done
echo
echo "fuzz: $n targets, -fuzztime ${per}s each: ${fuzzed}s spent in the fuzzing binaries (budget $((per * n))s)," \
	"${wall_all}s wall clock, so about $(awk -v w="$wall_all" -v f="$fuzzed" 'BEGIN { printf "%.0f", w - f }')s compiling and starting; logs in .run/fuzz/"

if [ "${#crashers[@]}" -gt 0 ]; then
	echo
	for c in "${crashers[@]}"; do
		IFS='|' read -r path mod rel run log <<<"$c"
		echo "CRASHER: $path"
		echo "  reproduce: (cd $mod && go test -run '^${run}\$' $rel)   full output: $log"
		echo "  fix the bug, then commit the file as a regression seed: git add $path"
	done
fi
if [ "$failed" -ne 0 ]; then
	echo "fuzz: FAILED" >&2
	exit 1
fi
echo "fuzz: ok"
