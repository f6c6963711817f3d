#!/usr/bin/env bash
# Instructions per request of the API server of the end-to-end HTTP rows,
# counted by valgrind --tool=callgrind: a measure that, unlike req/s or CPU
# time, does not move with the load of a shared machine.
#
# Rows, each a server of its own (cmd/serve) under callgrind, loaded by
# cmd/load (4 connections, keep-alive) after an unmeasured warm-up, with
# instrumentation on only while the measured load runs:
#   bare-no-header      the trivial handler, requests without Authorization
#   bare                the trivial handler, requests with the 1.5 KB bearer token
#   tokenwarden-cached  the same requests through the middleware, cached path
# Prints instructions per request (all threads of the server: net/http, the
# handler, the runtime and GC) and the functions that differ most between
# consecutive rows.
#
# Environment: DURATION (default 5s: measured load per row; valgrind runs
# the server about 50 times slower). Needs valgrind and python3.
set -euo pipefail
cd "$(dirname "$0")"
duration=${DURATION:-5s}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/serve" ./cmd/serve
go build -o "$dir/load" ./cmd/load

measure() { # name row send-token
	local name=$1 row=$2 token=$3
	# Async preemption signals trip callgrind's signal bookkeeping.
	coproc SERVE { exec env GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$dir/cg.$name" "$dir/serve" -row "$row" -token-out "$dir/token" 2>"$dir/valgrind.$name"; }
	local pid=$SERVE_PID url
	read -r url <&"${SERVE[0]}"
	local args=(-url "$url" -c 4 -warmup 0)
	[ "$token" = 1 ] && args+=(-token-file "$dir/token")
	"$dir/load" "${args[@]}" -d 1s >/dev/null
	callgrind_control -i on "$pid" >/dev/null 2>&1
	"$dir/load" "${args[@]}" -d "$duration" >"$dir/load.$name"
	callgrind_control -i off "$pid" >/dev/null 2>&1
	callgrind_control -d "$pid" >/dev/null 2>&1
	exec {SERVE[1]}>&-
	wait "$pid" || true
	callgrind_annotate --threshold=100 --auto=no "$dir/cg.$name".1 >"$dir/annotate.$name"
}

measure bare-no-header bare 0
measure bare bare 1
measure tokenwarden-cached tokenwarden-cached 1

python3 - "$dir" bare-no-header bare tokenwarden-cached <<'PY'
import json, re, sys
d, names = sys.argv[1], sys.argv[2:]
per = {}
for n in names:
    res = json.load(open(f"{d}/load.{n}"))
    reqs = res["requests"] + res["errors"]
    fns, section = {}, False
    for line in open(f"{d}/annotate.{n}"):
        if "file:function" in line:
            section = True
            continue
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line) if section else None
        if m:
            # "f'2" is callgrind's name for a recursive call of f.
            fn = re.sub(r"'\d+$", "", m.group(2).split(":", 1)[-1])
            fns[fn] = fns.get(fn, 0) + int(m.group(1).replace(",", "")) / reqs
    per[n] = fns
    print(f"{n:20} {sum(fns.values()):9.0f} instructions/request ({reqs} requests)")
for a, b in zip(names, names[1:]):
    diff = {k: per[b].get(k, 0) - per[a].get(k, 0) for k in per[a].keys() | per[b].keys()}
    print(f"\n{b} − {a}: {sum(diff.values()):+.0f} instructions/request; largest differences:")
    for k in sorted(diff, key=lambda k: -abs(diff[k]))[:8]:
        print(f"  {diff[k]:+8.0f}  {k}")
PY
