package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/bench/report"
)

func sample(t *testing.T) *report.Summary {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := report.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return report.Summarize(run, map[string]string{"command": "make bench", "count": "2"})
}

func near(got *float64, want float64) bool {
	return got != nil && math.Abs(*got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func TestSummaryOfSample(t *testing.T) {
	sum := sample(t)
	if got := len(sum.Order); got != 16 {
		t.Errorf("%d rows, want 16 (the NaN line is dropped, #01 repeats merged): %v", got, sum.Order)
	}
	if got := sum.Rows["Verify/RS256/floor"].Samples; got != 2 {
		t.Errorf("Verify/RS256/floor has %d samples, want 2 (floor and floor#01)", got)
	}
	if _, ok := sum.Rows["Broken"]; ok {
		t.Error("a result with a NaN value must be dropped")
	}
	tests := []struct {
		row   string
		field string
		got   func(*report.Row) *float64
		want  float64
	}{
		{"Verify/RS256/floor", "ns_op", func(r *report.Row) *float64 { return r.NsOp }, 52000},
		{"Verify/RS256/floor", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, math.NaN()},
		{"Verify/RS256/tokenwarden-first-seen", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, 61000.0 / 52000},
		{"Verify/RS256/tokenwarden-first-seen", "ratio_best_peer", func(r *report.Row) *float64 { return r.RatioBestPeer }, 61000.0 / 105000},
		{"Verify/RS256/tokenwarden-cached", "allocs_op", func(r *report.Row) *float64 { return r.AllocsOp }, 0},
		{"Verify/RS256/go-oidc", "ratio_best_peer", func(r *report.Row) *float64 { return r.RatioBestPeer }, 145000.0 / 105000},
		{"Verify/ES256/go-oidc", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, 1.5},
		{"Reject/forged-signature/go-oidc", "fetches_per_run_max", func(r *report.Row) *float64 { return r.FetchesMaxRun }, 488},
		{"Reject/forged-signature/tokenwarden", "fetches_per_token", func(r *report.Row) *float64 { return r.FetchesPerToken }, 0},
		{"Reject/forged-signature/tokenwarden", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, 54000.0 / 54000},
		{"Reject/floor", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, math.NaN()},
		{"IntrospectWaiters/2ms/tokenwarden", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, 3050000.0 / 52000},
		{"Reject/kid-flood/tokenwarden", "fetches_per_run_max", func(r *report.Row) *float64 { return r.FetchesMaxRun }, 1},
		{"IntrospectWaiters/2ms/tokenwarden", "upstream_per_op", func(r *report.Row) *float64 { return r.UpstreamPerOp }, 1},
		{"IntrospectWaiters/2ms/gocloak", "cpu_ns_op", func(r *report.Row) *float64 { return r.CPUNsOp }, 405000000},
		{"HTTP/tokenwarden-cached", "rps", func(r *report.Row) *float64 { return r.RPS }, 18000},
		// Measured against the bare handler in interleaved slices: the
		// median of the rows' own ratios, not a ratio of medians.
		{"HTTP/tokenwarden-cached", "ratio_bare_rps", func(r *report.Row) *float64 { return r.RatioBare }, 0.96},
		{"HTTP/tokenwarden-cached", "ratio_bare_server_cpu", func(r *report.Row) *float64 { return r.RatioBareCPU }, 1.05},
		{"HTTP/tokenwarden-cached", "server_cpu_ns_op", func(r *report.Row) *float64 { return r.ServerCPUNsOp }, 42000},
		{"HTTP/tokenwarden-cached", "client_cpu_ns_op", func(r *report.Row) *float64 { return r.ClientCPUNsOp }, 51000},
		// Without slices: the ratio of the medians of req/s.
		{"HTTP/auth0-middleware", "ratio_bare_rps", func(r *report.Row) *float64 { return r.RatioBare }, 5000.0 / 19500},
		{"HTTP/tokenwarden-cached", "ratio_floor", func(r *report.Row) *float64 { return r.RatioFloor }, math.NaN()},
		{"HTTP/auth0-middleware", "p99_ns", func(r *report.Row) *float64 { return r.P99Ns }, 9000000},
	}
	for _, tt := range tests {
		r := sum.Rows[tt.row]
		if r == nil {
			t.Errorf("row %s missing", tt.row)
			continue
		}
		got := tt.got(r)
		if math.IsNaN(tt.want) {
			if got != nil {
				t.Errorf("%s %s = %v, want none", tt.row, tt.field, *got)
			}
			continue
		}
		if !near(got, tt.want) {
			t.Errorf("%s %s = %v, want %v", tt.row, tt.field, deref(got), tt.want)
		}
	}
	if want := []string{"HTTP/tokenwarden-introspect", "HTTP"}; !slices.Equal(sum.Failed, want) {
		t.Errorf("Failed = %q, want %q", sum.Failed, want)
	}
	if sum.Meta["cpu"] != "AMD EPYC" || sum.Meta["lib-gocloak"] != "github.com/Nerzal/gocloak/v13 v13.9.0" || sum.Meta["command"] != "make bench" {
		t.Errorf("meta = %v", sum.Meta)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSummaryJSON(t *testing.T) {
	sum := sample(t)
	out, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rows map[string]map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	row := got.Rows["Verify/RS256/tokenwarden-first-seen"]
	for _, k := range []string{"ns_op", "allocs_op", "ratio_floor", "ratio_best_peer", "fetches_per_token"} {
		if _, ok := row[k]; !ok {
			t.Errorf("key %s missing from %v", k, row)
		}
	}
	if _, ok := got.Rows["HTTP/bare"]["rps"]; !ok {
		t.Error("HTTP rows carry rps")
	}
	if _, ok := got.Rows["IntrospectWaiters/2ms/tokenwarden"]["upstream_per_op"]; !ok {
		t.Error("introspection rows carry upstream_per_op")
	}
	if _, ok := got.Rows["HTTP/bare"]["ratio_floor"]; ok {
		t.Error("HTTP rows have no floor ratio")
	}
}

func TestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Markdown(&buf, sample(t), "## How the rows are configured\n", "name  sec/op\nx  1"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"- Command: `make bench`",
		"| gocloak | github.com/Nerzal/gocloak/v13 | v13.9.0 | iss aud typ alg-allow-list |",
		"| first-seen RS256 ≤ 1.25× floor (medians of the interleaved rounds) | `Verify/RS256/tokenwarden-first-seen` | 1.17× floor | met |",
		"| 1 upstream call for 1,000 concurrent identical introspections (0 ms) | `IntrospectWaiters/0ms/tokenwarden` | not measured: row missing | – |",
		"| HTTP cached path ≥ 90% of bare req/s | `HTTP/tokenwarden-cached` | 96% of bare | met |",
		"| `HTTP/tokenwarden-cached` | 18000 | ±∞ | 0.96× | ±∞ | 42 µs | 1.05× | 51 µs | ",
		"| `Verify/RS256/tokenwarden-cached` | 255 ns | ",
		"| `HTTP/bare` | 19500 | ",
		"## How the rows are configured",
		"- `HTTP/tokenwarden-introspect`",
		"## benchstat",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestParseLimits(t *testing.T) {
	long := "BenchmarkX-2 1 " + strings.Repeat("1", report.MaxLine) + " ns/op\n"
	if _, err := report.Parse(strings.NewReader(long)); !errors.Is(err, report.ErrLineTooLong) {
		t.Errorf("long line: err = %v, want ErrLineTooLong", err)
	}
	many := strings.Repeat("BenchmarkX-2 1 1 ns/op\n", report.MaxSamples+1)
	if _, err := report.Parse(strings.NewReader(many)); !errors.Is(err, report.ErrTooMany) {
		t.Errorf("too many results: err = %v, want ErrTooMany", err)
	}
	tests := []struct {
		line string
		want string // row name, "" = ignored
	}{
		{"BenchmarkA-2 10 5 ns/op", "A"},
		{"BenchmarkA#03-2 10 5 ns/op", "A"},
		{"BenchmarkA#x-2 10 5 ns/op", "A#x"},
		{"BenchmarkA#-2 10 5 ns/op", "A#"},
		{"Benchmark#01-2 10 5 ns/op", ""},
		{"BenchmarkA/b=c-16 10 5 ns/op 3 allocs/op", "A/b=c"},
		{"BenchmarkA 10 5 ns/op", "A"},
		{"BenchmarkA-2 0 5 ns/op", ""},
		{"BenchmarkA-2 10 5", ""},
		{"BenchmarkA-2 10 5 ns/op 6 ns/op", ""},
		{"BenchmarkA-2 10 +Inf ns/op", ""},
		{"BenchmarkA-2 -1 5 ns/op", ""},
		{"Benchmark 10 5 ns/op", ""},
	}
	for _, tt := range tests {
		run, err := report.Parse(strings.NewReader(tt.line))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if len(run.Order) == 1 {
			got = run.Order[0]
		}
		if got != tt.want || len(run.Order) > 1 {
			t.Errorf("%q: rows %v, want %q", tt.line, run.Order, tt.want)
		}
	}
}

// FuzzParse checks that any input parses without panicking, within its
// bounds, into a summary that marshals to JSON and renders.
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/sample.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("BenchmarkA-2 1 1e308 ns/op 1e308 req/s\nBenchmarkA-2 1 -1e308 ns/op 0 req/s\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		run, err := report.Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, name := range run.Order {
			s := run.Rows[name]
			for unit, vals := range s.Values {
				if len(vals) > len(s.Iterations) {
					t.Fatalf("%s %s: %d values for %d results", name, unit, len(vals), len(s.Iterations))
				}
				for _, v := range vals {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("%s %s: non-finite value kept", name, unit)
					}
				}
			}
		}
		sum := report.Summarize(run, nil)
		if _, err := json.Marshal(sum); err != nil {
			t.Fatalf("summary does not marshal: %v", err)
		}
		if err := report.Markdown(new(bytes.Buffer), sum, "", ""); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClientAndInstructionRows: the rows measured with the server in a child
// process and the callgrind counts get their ratios and targets.
func TestClientAndInstructionRows(t *testing.T) {
	const in = `BenchmarkIntrospectClient/0ms/gocloak-2 	 2000	 190000 ns/op	 140000 client-cpu-ns/op	 1.000 upstream/op	 15944 B/op	 120 allocs/op
BenchmarkIntrospectClient/0ms/tokenwarden-miss-2 	 2000	 125000 ns/op	 77000 client-cpu-ns/op	 1.000 upstream/op	 13413 B/op	 98 allocs/op
BenchmarkIntrospectClient/0ms/tokenwarden-vs-gocloak-2 	 2000	 300000 ns/op	 90000 client-cpu-ns/op	 120000 gocloak-client-cpu-ns/op	 0.75 x-gocloak-cpu
BenchmarkInstructions/Verify/RS256/floor 100 544603 instr/op
BenchmarkInstructions/Verify/RS256/tokenwarden-first-seen 100 632319 instr/op
`
	sum, md := summarize(t, in, map[string]string{"count": "1"})
	if r := sum.Rows["Instructions/Verify/RS256/tokenwarden-first-seen"]; !near(r.RatioFloorInstr, 632319.0/544603) || !near(r.InstrOp, 632319) {
		t.Errorf("instructions row: %+v", r)
	}
	for _, want := range []string{
		"| first-seen RS256 ≤ 1.25× floor in instructions (callgrind) | `Instructions/Verify/RS256/tokenwarden-first-seen` | 1.16× floor | met |",
		"| introspection miss: client CPU ≤ 0.7× gocloak's (server in a child process, calls interleaved) | `IntrospectClient/0ms/tokenwarden-vs-gocloak` | 0.75× gocloak | missed |",
		"| introspection miss: allocs ≤ gocloak's | `IntrospectClient/0ms/tokenwarden-miss` | 98 allocs, gocloak 120 | met |",
		"| `IntrospectClient/0ms/tokenwarden-miss` | 125 µs | ±∞ | 77 µs | 0.55× | 98 | 13413 | 1 |",
		"| `IntrospectClient/0ms/tokenwarden-vs-gocloak` | 300 µs | ±∞ | 90 µs | 0.75× | – | – | – |",
		"| `Instructions/Verify/RS256/floor` | 544603 | – |",
		"| `Instructions/Verify/RS256/tokenwarden-first-seen` | 632319 | 1.16× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// summarize parses benchmark output and returns its summary and markdown.
func summarize(t *testing.T, in string, meta map[string]string) (*report.Summary, string) {
	t.Helper()
	run, err := report.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	sum := report.Summarize(run, meta)
	var buf bytes.Buffer
	if err := report.Markdown(&buf, sum, "", ""); err != nil {
		t.Fatal(err)
	}
	return sum, buf.String()
}

// TestPairedFloorRow: the ratio a row measured call by call against the
// floor is its ratio to the floor, not its pair time over the floor row's.
func TestPairedFloorRow(t *testing.T) {
	const in = `BenchmarkVerify/RS256/floor-2 1000 50000 ns/op
BenchmarkVerifyPaired/RS256/tokenwarden-first-seen-2 1000 110000 ns/op 60000 tokenwarden-ns/op 50000 floor-ns/op 1.20 x-floor 3770 B/op 17 allocs/op
BenchmarkVerify/RS256/floor-2 1000 52000 ns/op
BenchmarkVerifyPaired/RS256/tokenwarden-first-seen-2 1000 118000 ns/op 65000 tokenwarden-ns/op 53000 floor-ns/op 1.22 x-floor 3770 B/op 17 allocs/op
BenchmarkVerify/RS256/floor-2 1000 51000 ns/op
BenchmarkVerifyPaired/RS256/tokenwarden-first-seen-2 1000 200000 ns/op 140000 tokenwarden-ns/op 60000 floor-ns/op 1.30 x-floor 3770 B/op 17 allocs/op
`
	sum, md := summarize(t, in, map[string]string{"count": "3"})
	if r := sum.Rows["VerifyPaired/RS256/tokenwarden-first-seen"]; !near(r.RatioFloor, 1.22) {
		t.Errorf("paired row: ratio to the floor %v, want the median of x-floor, 1.22", r.RatioFloor)
	}
	want := "| first-seen RS256 ≤ 1.25× floor, calls paired one by one (median of the rounds) | `VerifyPaired/RS256/tokenwarden-first-seen` | 1.22× floor ±∞ | met |"
	if !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q\n%s", want, md)
	}
}

// TestDPoPTargets: the DPoP rows get their floor from their own benchmark,
// and the request target divides by the Bearer row plus that floor, in
// time and in instructions.
func TestDPoPTargets(t *testing.T) {
	in := `BenchmarkDPoPVerify/floor-2 100 100000 ns/op 1088 B/op 19 allocs/op
BenchmarkDPoPVerify/tokenwarden-2 100 120000 ns/op 5700 B/op 57 allocs/op
BenchmarkDPoPRequest/floor-2 100 100000 ns/op 1088 B/op 19 allocs/op
BenchmarkDPoPRequest/tokenwarden-bearer-2 100 1000 ns/op 435 B/op 5 allocs/op
BenchmarkDPoPRequest/tokenwarden-dpop-2 100 140000 ns/op 6100 B/op 62 allocs/op
BenchmarkInstructions/DPoPVerify/floor 100 800000 instr/op
BenchmarkInstructions/DPoPVerify/tokenwarden 100 900000 instr/op
BenchmarkInstructions/DPoPRequest/floor 100 800000 instr/op
BenchmarkInstructions/DPoPRequest/tokenwarden-bearer 10000 4000 instr/op
BenchmarkInstructions/DPoPRequest/tokenwarden-dpop 100 1100000 instr/op
`
	sum, md := summarize(t, in, map[string]string{"command": "make bench", "count": "1"})
	if r := sum.Rows["DPoPVerify/tokenwarden"]; !near(r.RatioFloor, 1.2) {
		t.Errorf("DPoPVerify ratio %v", r.RatioFloor)
	}
	for _, want := range []string{
		"| DPoP proof (ES256, Memory replay store) ≤ 1.3× the ECDSA P-256 floor (issue 13) | `DPoPVerify/tokenwarden` | 1.2× floor, 57 allocs | met |",
		"| DPoP request through the middleware ≤ 1.3× (Bearer request + ECDSA P-256 floor) | `DPoPRequest/tokenwarden-dpop` | 1.39× (Bearer + floor) | missed |",
		"| DPoP proof ≤ 1.3× the ECDSA P-256 floor in instructions (callgrind) | `Instructions/DPoPVerify/tokenwarden` | 1.12× floor | met |",
		"| DPoP request ≤ 1.3× (Bearer request + floor) in instructions (callgrind) | `Instructions/DPoPRequest/tokenwarden-dpop` | 1.37× (Bearer + floor) | missed |",
		"## DPoP proof verification (RFC 9449)",
		"## A DPoP request through the middleware",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
