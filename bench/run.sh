#!/usr/bin/env bash
# `make bench`: every benchmark of this module in ONE `go test -bench`
# process, then benchstat, then cmd/report, which writes ../BENCHMARKS.md
# and summary.json.
#
# Samples: each benchmark runs all its rows COUNT times in interleaved
# rounds (-bench.rounds=COUNT, the repeats named "#01"… by the testing
# package) rather than with -count=COUNT, which would take a row's samples
# back to back: on a shared machine a burst of load then lands on every row
# a little instead of on all samples of one row, and the ratios of a round
# are taken between neighbours in time. benchstat and cmd/report treat the
# repeats as samples of one row, exactly like -count.
#
# Then instructions.sh counts the instructions of one verification under
# valgrind's callgrind (floor and tokenwarden rows), appended to the same
# results.
#
# Environment: COUNT (default 6: benchstat needs ≥ 6 samples for a 95%
# interval of the median), BENCHTIME (default 1s), BENCH (default ".": the
# -bench pattern), LOAD (default 2s: each end-to-end HTTP row's duration, half
# for the row and half for its bare reference, in alternating 100 ms slices),
# INSTRUCTIONS (default 1; 0 skips instructions.sh),
# REPORT_ONLY=1 (rewrite the report from the last run's results/ without
# running anything, e.g. after editing notes.md).
# Raw outputs go to bench/results/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"

count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}
pattern=${BENCH:-.}
load=${LOAD:-2s}

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
	if [ ! -x "$gobin/benchstat" ]; then
		echo "bench: installing benchstat"
		go install golang.org/x/perf/cmd/benchstat@latest
	fi
	benchstat=$gobin/benchstat
fi

mkdir -p results
if [ "${REPORT_ONLY:-}" = 1 ]; then
	go run ./cmd/report -in results/bench.txt -benchstat results/benchstat.txt -notes notes.md \
		-json summary.json -md ../BENCHMARKS.md -count "$(cat results/count.txt)" -command "$(cat results/command.txt)" -date "$(cat results/date.txt)"
	echo "bench: rewrote BENCHMARKS.md and bench/summary.json from results/"
	exit 0
fi
# Library versions as configuration lines, read by cmd/report.
libs=(
	go-oidc=github.com/coreos/go-oidc/v3
	gocloak=github.com/Nerzal/gocloak/v13
	keyfunc-jwt=github.com/MicahParks/keyfunc/v3
	golang-jwt=github.com/golang-jwt/jwt/v5
	jwx=github.com/lestrrat-go/jwx/v3
	auth0=github.com/auth0/go-jwt-middleware/v2
)
: >results/bench.txt
for l in "${libs[@]}"; do
	echo "lib-${l%%=*}: $(go list -m "${l#*=}")" >>results/bench.txt
done
echo "lib-tokenwarden: github.com/tokenwarden/tokenwarden $(git rev-parse --short HEAD 2>/dev/null || echo this-tree)" >>results/bench.txt
args=(-run '^$' -bench "$pattern" -benchmem -count=1 -benchtime="$benchtime" -timeout 90m . -bench.rounds="$count" -bench.load="$load")
printf -v command '%q ' go test "${args[@]}"
command="cd bench && ${command% }"
echo "bench: $command"
echo "make bench  # $command" >results/command.txt
echo "$count" >results/count.txt
date -u +%Y-%m-%dT%H:%M:%SZ >results/date.txt
status=0
BENCH_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || true) go test "${args[@]}" 2>&1 | tee -a results/bench.txt || status=$?
# Instructions per verification under callgrind (skipped, with a line saying
# so, where valgrind is missing): ratios the machine's load does not move.
if [ "${INSTRUCTIONS:-1}" = 1 ]; then
	echo "bench: ./instructions.sh"
	./instructions.sh 2>&1 | tee -a results/bench.txt || status=$?
fi
# benchstat sees the rounds as -count samples: strip the "#NN" of repeats.
sed -E 's/^(Benchmark[^ \t]*)#[0-9]+(-[0-9]+)?([ \t])/\1\2\3/' results/bench.txt >results/bench-merged.txt
"$benchstat" results/bench-merged.txt >results/benchstat.txt
go run ./cmd/report -in results/bench.txt -benchstat results/benchstat.txt -notes notes.md \
	-json summary.json -md ../BENCHMARKS.md -count "$count" -command "$(cat results/command.txt)" -date "$(cat results/date.txt)"
echo "bench: wrote BENCHMARKS.md and bench/summary.json"
if [ "$status" -ne 0 ]; then
	echo "bench: go test failed (exit $status); the failed rows are listed in BENCHMARKS.md" >&2
fi
exit "$status"
