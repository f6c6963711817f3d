#!/usr/bin/env bash
# Instructions per verification, counted by valgrind --tool=callgrind: a
# measure that, unlike time, does not move with the load of a shared
# machine. For each row, its benchmark runs under callgrind with collection
# on only inside the measured function (--toggle-collect): the signature
# check alone for the floor (rsa.VerifyPKCS1v15 / ecdsa.Verify on a
# precomputed digest), Verifier.Verify for tokenwarden's first-seen and
# cached rows (BenchmarkVerify), dpop's Verifier.Verify for a proof
# (BenchmarkDPoPVerify), and the middleware's authenticate for a Bearer and
# a DPoP request (BenchmarkDPoPRequest). Each row runs twice, with N1 and N2 iterations, and the
# difference divided by N2−N1 is one call's count: the warm-up call and
# everything outside the function cancel out.
#
# Prints benchmark-format lines that bench/cmd/report reads:
#   BenchmarkInstructions/Verify/RS256/floor 100 545000 instr/op
# and, when valgrind is missing, a "instructions: skipped" configuration
# line (exit 0). Environment: N1, N2 (default 20 and 120).
set -euo pipefail
cd "$(dirname "$0")"
n1=${N1:-20}
n2=${N2:-120}
if ! command -v valgrind >/dev/null; then
	echo "instructions: skipped (valgrind not installed)"
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" .

# count <bench regexp> <function pattern> <iterations>: instructions counted
# inside the function over one run.
count() {
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --toggle-collect="$2" \
		--callgrind-out-file="$dir/cg.out" "$dir/bench.test" -test.run '^$' -test.bench "$1" \
		-test.benchtime "${3}x" -test.cpu 1 >"$dir/out" 2>"$dir/valgrind" ||
		{ cat "$dir/out" "$dir/valgrind" >&2; return 1; }
	awk '/^(summary|totals):/ {print $2; exit}' "$dir/cg.out"
}

# benchmark, row, iteration factor (a short path: more iterations), function
rows=(
	"Verify RS256/floor 1 crypto/rsa.VerifyPKCS1v15"
	"Verify RS256/tokenwarden-first-seen 1 *oidc.(*Verifier).Verify"
	"Verify RS256/tokenwarden-cached 100 *oidc.(*Verifier).Verify"
	"Verify ES256/floor 1 crypto/ecdsa.Verify"
	"Verify ES256/tokenwarden-first-seen 1 *oidc.(*Verifier).Verify"
	"DPoPVerify floor 1 crypto/ecdsa.Verify"
	"DPoPVerify tokenwarden 1 *dpop.(*Verifier).Verify"
	"DPoPRequest floor 1 crypto/ecdsa.Verify"
	"DPoPRequest tokenwarden-bearer 100 *adapter.(*Authenticator).authenticate"
	"DPoPRequest tokenwarden-dpop 1 *adapter.(*Authenticator).authenticate"
)
for r in "${rows[@]}"; do
	read -r bench row k fn <<<"$r"
	re="^Benchmark${bench}\$"
	for part in ${row//\// }; do
		re="$re/^${part}\$"
	done
	a=$(count "$re" "$fn" $((n1 * k)))
	b=$(count "$re" "$fn" $((n2 * k)))
	d=$(((n2 - n1) * k))
	echo "BenchmarkInstructions/$bench/$row $d $(((b - a) / d)) instr/op"
done
