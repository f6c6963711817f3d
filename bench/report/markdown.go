package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Target is one goal of the project, checked against a row and, for goals
// relative to another row (a peer), against that reference row.
type Target struct {
	Goal  string
	Row   string
	Ref   string // reference row; "" when the goal needs none
	Check func(r, ref *Row) (measured string, met bool)
}

// Targets are the goals of issues 8 and 18, on this machine, in one run.
var Targets = []Target{
	{"first-seen RS256 ≤ 1.25× floor (medians of the interleaved rounds)", "Verify/RS256/tokenwarden-first-seen", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloor) + " floor", r.RatioFloor != nil && *r.RatioFloor <= 1.25
	}},
	{"first-seen RS256 ≤ 1.25× floor, calls paired one by one (median of the rounds)", "VerifyPaired/RS256/tokenwarden-first-seen", "", func(r, _ *Row) (string, bool) {
		text := ratio(r.RatioFloor) + " floor"
		if r.RatioFloorSpread != "" {
			text += " " + r.RatioFloorSpread
		}
		return text, r.RatioFloor != nil && *r.RatioFloor <= 1.25
	}},
	{"first-seen RS256 ≤ 1.25× floor in instructions (callgrind)", "Instructions/Verify/RS256/tokenwarden-first-seen", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloorInstr) + " floor", r.RatioFloorInstr != nil && *r.RatioFloorInstr <= 1.25
	}},
	{"first-seen RS256 faster than every peer", "Verify/RS256/tokenwarden-first-seen", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioBestPeer) + " " + r.BestPeer, r.RatioBestPeer != nil && *r.RatioBestPeer < 1
	}},
	{"cached ≤ 0.01× floor with 0 allocs", "Verify/RS256/tokenwarden-cached", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloor) + " floor, " + num(r.AllocsOp) + " allocs",
			r.RatioFloor != nil && *r.RatioFloor <= 0.01 && r.AllocsOp != nil && *r.AllocsOp == 0
	}},
	{"forged signature rejected ≤ 1.1× floor with 0 fetches", "Reject/forged-signature/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloor) + " floor, " + num(r.FetchesMaxRun) + " fetches in the worst run",
			r.RatioFloor != nil && *r.RatioFloor <= 1.1 && r.FetchesMaxRun != nil && *r.FetchesMaxRun == 0
	}},
	{"unknown kid ≤ 0.1× floor from the negative-kid cache (issue 3)", "Reject/unknown-kid/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloor) + " floor", r.RatioFloor != nil && *r.RatioFloor <= 0.1
	}},
	{"random-kid flood ≤ 1 fetch per cooldown", "Reject/kid-flood/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return num(r.FetchesMaxRun) + " fetches in the worst run (each run < 1 cooldown)",
			r.FetchesMaxRun != nil && *r.FetchesMaxRun <= 1
	}},
	{"introspection miss: client CPU ≤ 0.7× gocloak's (server in a child process, calls interleaved)",
		"IntrospectClient/0ms/tokenwarden-vs-gocloak", "", func(r, _ *Row) (string, bool) {
			q, ok := r.Extra[UnitRatioGocloakCPU]
			if !ok {
				return "–", false
			}
			text := ratio(&q) + " gocloak"
			if bare, ok := r.Extra[UnitRatioBareGocloakCPU]; ok {
				text += " (a bare net/http round trip: " + ratio(&bare) + ")"
			}
			return text, q <= 0.7
		}},
	{"introspection miss: allocs ≤ gocloak's", "IntrospectClient/0ms/tokenwarden-miss", "IntrospectClient/0ms/gocloak", func(r, ref *Row) (string, bool) {
		return num(r.AllocsOp) + " allocs, gocloak " + num(ref.AllocsOp),
			r.AllocsOp != nil && ref.AllocsOp != nil && *r.AllocsOp <= *ref.AllocsOp
	}},
	{"1 upstream call for 1,000 concurrent identical introspections (0 ms)", "IntrospectWaiters/0ms/tokenwarden", "", upstreamOne},
	{"1 upstream call for 1,000 concurrent identical introspections (2 ms)", "IntrospectWaiters/2ms/tokenwarden", "", upstreamOne},
	{"DPoP proof (ES256, Memory replay store) ≤ 1.3× the ECDSA P-256 floor (issue 13)", "DPoPVerify/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloor) + " floor, " + num(r.AllocsOp) + " allocs", r.RatioFloor != nil && *r.RatioFloor <= 1.3
	}},
	{"DPoP proof faster than every DPoP peer", "DPoPVerify/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioBestPeer) + " " + r.BestPeer + ", " + num(r.AllocsOp) + " allocs", r.RatioBestPeer != nil && *r.RatioBestPeer < 1
	}},
	{"DPoP request through the middleware ≤ 1.3× (Bearer request + ECDSA P-256 floor)", "DPoPRequest/tokenwarden-dpop", "DPoPRequest/tokenwarden-bearer",
		func(r, ref *Row) (string, bool) {
			q := dpopOverBearer(r, ref)
			return ratio(q) + " (Bearer + floor)", q != nil && *q <= 1.3
		}},
	{"DPoP proof ≤ 1.3× the ECDSA P-256 floor in instructions (callgrind)", "Instructions/DPoPVerify/tokenwarden", "", func(r, _ *Row) (string, bool) {
		return ratio(r.RatioFloorInstr) + " floor", r.RatioFloorInstr != nil && *r.RatioFloorInstr <= 1.3
	}},
	{"DPoP request ≤ 1.3× (Bearer request + floor) in instructions (callgrind)", "Instructions/DPoPRequest/tokenwarden-dpop", "Instructions/DPoPRequest/tokenwarden-bearer",
		func(r, ref *Row) (string, bool) {
			var q *float64
			if r.InstrOp != nil && r.RatioFloorInstr != nil && *r.RatioFloorInstr > 0 && ref.InstrOp != nil {
				q = quotient(r.InstrOp, ptr(*ref.InstrOp + *r.InstrOp / *r.RatioFloorInstr))
			}
			return ratio(q) + " (Bearer + floor)", q != nil && *q <= 1.3
		}},
	{"HTTP cached path ≥ 90% of bare req/s", "HTTP/tokenwarden-cached", "", func(r, _ *Row) (string, bool) {
		if r.RatioBare == nil {
			return "–", false
		}
		return fmt.Sprintf("%.0f%% of bare", 100**r.RatioBare), *r.RatioBare >= 0.9
	}},
}

// dpopOverBearer is the DPoP request's time over the Bearer request's plus
// the floor's, the floor taken from the DPoP row's own ratio (same rounds).
func dpopOverBearer(r, bearer *Row) *float64 {
	if r.NsOp == nil || r.RatioFloor == nil || *r.RatioFloor <= 0 || bearer.NsOp == nil {
		return nil
	}
	floor := *r.NsOp / *r.RatioFloor
	return quotient(r.NsOp, ptr(*bearer.NsOp+floor))
}

func upstreamOne(r, _ *Row) (string, bool) {
	return num(r.UpstreamPerOp) + " upstream/op", r.UpstreamPerOp != nil && *r.UpstreamPerOp <= 1
}

// quotient is a ÷ b, nil when either is missing or b is not positive.
func quotient(a, b *float64) *float64 {
	if a == nil || b == nil || *b <= 0 {
		return nil
	}
	return ptr(*a / *b)
}

// Section titles by the first element of a row name.
var sections = []struct{ prefix, title, about string }{
	{"Verify", "Verification of a valid token", "One Keycloak-shaped access token, verified and its roles read, after a warm-up call that loads the keys. `floor` is the signature check alone on a precomputed digest."},
	{"VerifyPaired", "Verification of a valid token, paired with the floor", "`tokenwarden-first-seen` of the table above and `floor` in one loop: each iteration runs one of each, in alternating order, timed by the monotonic clock, so that a burst of load falls on both. ns/op, allocs/op and B/op are the pair's; `× floor` is tokenwarden's time ÷ the floor's in the same iterations (median of the rounds), which moves less between runs than the ratio of two rows measured apart."},
	{"Reject", "Attack paths (RS256)", "After a warm-up with a valid token. `forged-signature`: a known kid whose signature does not verify. `unknown-kid`: one random unknown kid, repeated. `kid-flood`: a new random kid on every call, in batches of 10,000. fetches/token counts JWKS documents served by the fake Keycloak."},
	{"Introspect", "Introspection (RFC 7662)", "Against a fake Keycloak introspection endpoint answering after 0 ms or 2 ms. `gocloak` is RetrospectToken (no cache: every call goes upstream). `miss` sends a token not seen before; `hit` repeats one. cpu-ns/op is the process CPU time (client and the in-process fake) per call."},
	{"IntrospectClient", "Introspection, the client's cost (server in a child process)", "The `miss` row of the introspection table against gocloak with the fake Keycloak in a child process (`bench/cmd/serve -row keycloak`): client CPU/op and allocs/op are the benchmark process's alone, that is the client's (request, client authentication, reading and checking the answer; for tokenwarden also the cache's bookkeeping of a miss). `× gocloak` compares client CPU; `tokenwarden-vs-gocloak` alternates one call of each client and measures the CPU time around each call, so that a burst of load falls on both: its ratio is the one the target reads."},
	{"IntrospectWaiters", "1,000 concurrent identical introspections", "One op = 1,000 goroutines asking about the same token, not seen before, at once."},
	{"DPoPVerify", "DPoP proof verification (RFC 9449)", "`dpop.Verifier.Verify` of a fresh ES256 proof per call (proofs are signed in batches outside the timer) for a GET with a bound access token: typ, alg, the embedded jwk (parsed strictly, pinned to ES256, point checked), its RFC 7638 thumbprint against cnf.jkt, the signature, the claims, htm, htu, iat, ath, and the jti recorded in a revocation `Memory` store. `floor` is `ecdsa.Verify` on P-256 over a precomputed digest, in the same rounds. `go-dpop` is AxisCommunications/go-dpop v1.1.2 (`bench/third_party`: the module proxy refuses it) checking the same proofs with `Parse` and `Validate`, the hash of the access token computed by the caller; it keeps no replay record (see the notes)."},
	{"DPoPRequest", "A DPoP request through the middleware", "The adapter's middleware with the RS256 Keycloak fixture token (verified-token cache on, the steady state): `tokenwarden-bearer` sends it as Bearer; `tokenwarden-dpop` sends the same token bound to a key (payload typ DPoP, cnf.jkt) as `Authorization: DPoP` with a fresh ES256 proof, recorded in the in-memory store. The target compares it with the Bearer row plus `floor` (ECDSA P-256), in the same rounds."},
	{"FloorECDSAP256Verify", "The ECDSA P-256 floor", "`ecdsa.Verify` on P-256 over a precomputed digest: the floor of a DPoP proof's check, as a benchmark of its own."},
	{"Instructions", "Instructions per verification (callgrind)", "`bench/instructions.sh`: `BenchmarkVerify`, `BenchmarkDPoPVerify` and `BenchmarkDPoPRequest` under valgrind's callgrind, counting only inside the measured function (`rsa.VerifyPKCS1v15` or `ecdsa.Verify` on a precomputed digest for the floor, `Verifier.Verify` for tokenwarden, `dpop`'s `Verifier.Verify` for a proof, the middleware's `authenticate` for a request), N1 and N2 iterations, (count₂ − count₁) ÷ (N2 − N1). Unlike time, the count does not move with the load of the machine; valgrind's CPU model may pick other instruction sets than the real CPU (SHA-256 without SHA-NI), which weighs the hashing a little more than in time."},
	{"HTTP", "End-to-end HTTP", "A trivial handler over loopback, loaded by `bench/cmd/load` in a separate process (16 keep-alive connections per server) with the same request on every row, bare included (GET with the 1.5 KB `Authorization: Bearer` header). Each row is measured in 100 ms slices alternating with a bare handler on a server of its own, and `× bare` compares the two in the same slices; `bare` against bare shows the noise of the method. Both processes share the machine's cores. Server CPU/req and allocs/req are those of the benchmark process (the API server) during the row's slices; client CPU/req is the load generator's; CPU time does not count waiting for a core."},
}

// Markdown writes BENCHMARKS.md. notes is hand-written markdown about the
// rows, inserted after the targets; benchstat is the verbatim benchstat
// output of the same run, appended for reference. Either may be empty.
func Markdown(w io.Writer, sum *Summary, notes, benchstat string) error {
	var b strings.Builder
	m := sum.Meta
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Generated by `bench/cmd/report` from one `make bench` run; do not edit by hand. ")
	b.WriteString("Medians over " + m["count"] + " interleaved rounds with the 95% confidence interval of the median (benchstat's statistics). ")
	b.WriteString("Ratios are taken within this one run: the machine is shared, absolute numbers move, ratios much less.\n\n")
	fmt.Fprintf(&b, "- Command: `%s`\n", m["command"])
	fmt.Fprintf(&b, "- Date: %s\n", m["date"])
	fmt.Fprintf(&b, "- Machine: %s CPUs (nproc), %s, %s/%s\n", m["nproc"], m["cpu-model"], m["goos"], m["goarch"])
	fmt.Fprintf(&b, "- Go: %s\n", m["go"])
	b.WriteString("\n## Libraries\n\n| name | module | version | checks it cannot make |\n|---|---|---|---|\n")
	for _, k := range sortedKeys(m, "lib-") {
		name := strings.TrimPrefix(k, "lib-")
		mod, ver, _ := strings.Cut(m[k], " ")
		lacks := m["lacks-"+name]
		if lacks == "" {
			lacks = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, mod, ver, lacks)
	}

	if len(sum.Failed) > 0 {
		b.WriteString("\n## Failed benchmarks\n\nThese failed in this run and have no row (see bench/results/bench.txt):\n\n")
		for _, f := range sum.Failed {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
	}

	b.WriteString("\n## Targets\n\n| goal | row | measured | |\n|---|---|---|---|\n")
	for _, t := range Targets {
		r, ref := sum.Rows[t.Row], sum.Rows[t.Ref]
		if r == nil || (t.Ref != "" && ref == nil) {
			fmt.Fprintf(&b, "| %s | `%s` | not measured: row missing | – |\n", t.Goal, t.Row)
			continue
		}
		got, ok := t.Check(r, ref)
		verdict := "missed"
		if ok {
			verdict = "met"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", t.Goal, t.Row, got, verdict)
	}

	if notes != "" {
		b.WriteString("\n" + strings.TrimRight(notes, "\n") + "\n")
	}

	done := map[string]bool{}
	for _, sec := range sections {
		var rows []string
		for _, name := range sum.Order {
			if first, _, _ := strings.Cut(name, "/"); first == sec.prefix {
				rows = append(rows, name)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sec.title, sec.about)
		writeTable(&b, sum, rows, sec.prefix)
		for _, r := range rows {
			done[r] = true
		}
	}
	var rest []string
	for _, name := range sum.Order {
		if !done[name] {
			rest = append(rest, name)
		}
	}
	if len(rest) > 0 {
		b.WriteString("\n## Other\n\n")
		writeTable(&b, sum, rest, "")
	}
	if benchstat != "" {
		b.WriteString("\n## benchstat\n\n```\n" + strings.TrimRight(benchstat, "\n") + "\n```\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTable(b *strings.Builder, sum *Summary, rows []string, kind string) {
	switch kind {
	case "HTTP":
		b.WriteString("| row | req/s | ± | × bare | ± | server CPU/req | × bare | client CPU/req | p50 | p99 | server allocs/req |\n" +
			"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range rows {
			r := sum.Rows[name]
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, count(r.RPS), dash(r.RPSSpread),
				ratio(r.RatioBare), dash(r.RatioBareSpread), dur(r.ServerCPUNsOp), ratio(r.RatioBareCPU), dur(r.ClientCPUNsOp),
				dur(r.P50Ns), dur(r.P99Ns), num(r.AllocsOp))
		}
	case "IntrospectClient":
		b.WriteString("| row | time/op | ± | client CPU/op | × gocloak | allocs/op | B/op | upstream/op |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range rows {
			r := sum.Rows[name]
			var ref *float64
			if q, ok := r.Extra[UnitRatioGocloakCPU]; ok {
				ref = &q // measured in interleaved calls
			} else if g := sum.Rows[Group(name)+"/gocloak"]; g != nil {
				ref = quotient(r.ClientCPUNsOp, g.ClientCPUNsOp)
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", name, dur(r.NsOp), dash(r.NsOpSpread),
				dur(r.ClientCPUNsOp), ratio(ref), num(r.AllocsOp), num(r.BytesOp), num(r.UpstreamPerOp))
		}
	case "Instructions":
		b.WriteString("| row | instructions/op | × floor |\n|---|---:|---:|\n")
		for _, name := range rows {
			r := sum.Rows[name]
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", name, count(r.InstrOp), ratio(r.RatioFloorInstr))
		}
	case "Introspect", "IntrospectWaiters":
		b.WriteString("| row | time/op | ± | × floor | upstream/op | cpu/op | allocs/op |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range rows {
			r := sum.Rows[name]
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", name, dur(r.NsOp), dash(r.NsOpSpread),
				ratio(r.RatioFloor), num(r.UpstreamPerOp), dur(r.CPUNsOp), num(r.AllocsOp))
		}
	default:
		b.WriteString("| row | time/op | ± | × floor | × best peer | allocs/op | B/op | fetches/token |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range rows {
			r := sum.Rows[name]
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", name, dur(r.NsOp), dash(r.NsOpSpread),
				ratio(r.RatioFloor), ratio(r.RatioBestPeer), num(r.AllocsOp), num(r.BytesOp), num(r.FetchesPerToken))
		}
	}
}

func sortedKeys(m map[string]string, prefix string) []string {
	var ks []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func dur(ns *float64) string {
	if ns == nil {
		return "–"
	}
	v := *ns
	switch {
	case v < 1e3:
		return fmt.Sprintf("%.3g ns", v)
	case v < 1e6:
		return fmt.Sprintf("%.3g µs", v/1e3)
	case v < 1e9:
		return fmt.Sprintf("%.3g ms", v/1e6)
	}
	return fmt.Sprintf("%.3g s", v/1e9)
}

func ratio(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.3g×", *v)
}

func num(v *float64) string {
	if v == nil {
		return "–"
	}
	if *v == math.Trunc(*v) && math.Abs(*v) < 1e15 {
		return fmt.Sprintf("%.0f", *v)
	}
	return fmt.Sprintf("%.3g", *v)
}

func count(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f", *v)
}
