// Package report turns the text output of `go test -bench` into the
// summary rows of BENCHMARKS.md and bench/summary.json: medians and
// confidence intervals (golang.org/x/perf/benchmath, the statistics of
// benchstat), ratios to the floor and to the best peer, JWKS fetches per
// token, upstream calls per operation and requests per second.
//
// Parse accepts the standard benchmark format (golang.org/design/14313):
// configuration lines "key: value" and result lines
// "BenchmarkName-P  N  value unit  value unit ...", where a name repeated
// by the testing package ("Name#01") counts as another sample of Name.
// Anything else is ignored. Input is bounded: lines longer than MaxLine and more than
// MaxSamples results are errors.
package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Limits of Parse.
const (
	MaxLine    = 64 << 10
	MaxSamples = 100_000
)

// Errors returned by Parse.
var (
	ErrLineTooLong = errors.New("report: line too long")
	ErrTooMany     = errors.New("report: too many results")
)

// Run is the parsed output of one or more `go test -bench` runs.
type Run struct {
	// Config holds the configuration lines (goos, goarch, pkg, cpu), the
	// last value of each key.
	Config map[string]string
	// Rows maps a benchmark name without the "Benchmark" prefix and the
	// GOMAXPROCS suffix to its samples, in order of first appearance.
	Rows  map[string]*Samples
	Order []string
	// Failed lists the benchmarks reported as "--- FAIL: <name>", at most
	// MaxFailed of them.
	Failed []string
}

// MaxFailed bounds Run.Failed.
const MaxFailed = 100

// Samples are the results of one benchmark, one entry per -count.
type Samples struct {
	Procs      int                  // GOMAXPROCS suffix, 0 when absent
	Iterations []float64            // b.N of each result
	Values     map[string][]float64 // by unit, e.g. "ns/op", "fetches/op"
}

// Parse reads benchmark output from r.
func Parse(r io.Reader) (*Run, error) {
	run := &Run{Config: map[string]string{}, Rows: map[string]*Samples{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	results := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Benchmark") {
			name, procs, iters, vals, ok := parseResult(line)
			if !ok {
				continue
			}
			if results++; results > MaxSamples {
				return nil, ErrTooMany
			}
			s := run.Rows[name]
			if s == nil {
				s = &Samples{Procs: procs, Values: map[string][]float64{}}
				run.Rows[name] = s
				run.Order = append(run.Order, name)
			}
			s.Iterations = append(s.Iterations, iters)
			for _, v := range vals {
				s.Values[v.unit] = append(s.Values[v.unit], v.value)
			}
			continue
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: "); ok {
			name, _, _ = strings.Cut(name, " ")
			if strings.HasPrefix(name, "Benchmark") && validName(name) && len(run.Failed) < MaxFailed {
				run.Failed = append(run.Failed, stripRepeat(strings.TrimPrefix(name, "Benchmark")))
			}
			continue
		}
		if k, v, ok := parseConfig(line); ok {
			run.Config[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, ErrLineTooLong
		}
		return nil, fmt.Errorf("report: read: %w", err)
	}
	return run, nil
}

type measure struct {
	value float64
	unit  string
}

// parseResult parses "BenchmarkName-P N v unit v unit ...".
func parseResult(line string) (name string, procs int, iters float64, vals []measure, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return "", 0, 0, nil, false
	}
	name = strings.TrimPrefix(f[0], "Benchmark")
	if name == "" || !validName(name) {
		return "", 0, 0, nil, false
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if p, err := strconv.Atoi(name[i+1:]); err == nil && p > 0 {
			name, procs = name[:i], p
		}
	}
	name = stripRepeat(name)
	if name == "" {
		return "", 0, 0, nil, false
	}
	n, err := strconv.ParseUint(f[1], 10, 63)
	if err != nil || n == 0 {
		return "", 0, 0, nil, false
	}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || !validUnit(f[i+1]) {
			return "", 0, 0, nil, false
		}
		for _, prev := range vals {
			if prev.unit == f[i+1] {
				return "", 0, 0, nil, false // one value per unit
			}
		}
		vals = append(vals, measure{v, f[i+1]})
	}
	return name, procs, float64(n), vals, true
}

// stripRepeat removes the "#NN" the testing package appends to a
// sub-benchmark run again under the same name (bench's -bench.rounds), so
// the repeats count as samples of one row.
func stripRepeat(name string) string {
	i := strings.LastIndexByte(name, '#')
	if i < 0 || i == len(name)-1 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}

// validName accepts printable ASCII without spaces: what testing prints
// after escaping sub-benchmark names.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func validUnit(s string) bool {
	return s != "" && len(s) <= 64 && validName(s)
}

// parseConfig parses "key: value" where key is lowercase, per the format.
func parseConfig(line string) (key, value string, ok bool) {
	k, v, found := strings.Cut(line, ":")
	if !found || k == "" || len(k) > 64 {
		return "", "", false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return "", "", false
		}
	}
	if !strings.HasPrefix(v, " ") && v != "" {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}
