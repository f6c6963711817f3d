package report

import (
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
)

// Units the benchmarks report, as printed by `go test -bench`.
const (
	UnitNs       = "ns/op"
	UnitAllocs   = "allocs/op"
	UnitBytes    = "B/op"
	UnitFetches  = "fetches/op"
	UnitUpstream = "upstream/op"
	UnitCPU      = "cpu-ns/op"
	UnitRPS      = "req/s"
	UnitP50      = "p50-ns"
	UnitP99      = "p99-ns"

	// End-to-end HTTP rows measured in slices interleaved with the bare
	// handler (bench/cmd/load -control): the ratios to the bare handler in
	// the same slices, and the CPU time per request of the server process
	// and of the load generator.
	UnitRatioBareRPS = "x-bare-rps"
	UnitRatioBareCPU = "x-bare-server-cpu"
	UnitServerCPU    = "server-cpu-ns/op"
	UnitClientCPU    = "client-cpu-ns/op"

	// Instructions per operation, counted by callgrind (instructions.sh).
	UnitInstr = "instr/op"

	// tokenwarden's verification time ÷ the floor's, in calls interleaved
	// one by one (BenchmarkVerifyPaired). It is the row's ratio to the floor.
	UnitRatioFloorPaired = "x-floor"

	// Client CPU of tokenwarden's introspection ÷ gocloak's, in calls
	// interleaved one by one (BenchmarkIntrospectClient).
	UnitRatioGocloakCPU = "x-gocloak-cpu"
	// A bare net/http round trip of the same request ÷ gocloak's, in the
	// same interleaved calls: what no net/http client can go below.
	UnitRatioBareGocloakCPU = "bare-x-gocloak-cpu"
)

// Row is the summary of one benchmark. Pointer fields are nil when the
// benchmark did not report the unit or the ratio has no reference.
type Row struct {
	Samples int `json:"samples"`

	NsOp       *float64 `json:"ns_op,omitempty"`
	NsOpSpread string   `json:"ns_op_spread,omitempty"` // benchstat-style "±3%" (95% CI of the median)
	AllocsOp   *float64 `json:"allocs_op,omitempty"`
	BytesOp    *float64 `json:"bytes_op,omitempty"`

	RatioFloor       *float64 `json:"ratio_floor,omitempty"`        // ns/op ÷ the floor's ns/op (or UnitRatioFloorPaired)
	RatioFloorSpread string   `json:"ratio_floor_spread,omitempty"` // for UnitRatioFloorPaired: 95% CI of its median
	RatioBestPeer    *float64 `json:"ratio_best_peer,omitempty"`    // ns/op ÷ the fastest peer's ns/op in the group
	BestPeer         string   `json:"best_peer,omitempty"`

	FetchesPerToken *float64 `json:"fetches_per_token,omitempty"`
	FetchesMaxRun   *float64 `json:"fetches_per_run_max,omitempty"` // max over samples of fetches/op × b.N
	UpstreamPerOp   *float64 `json:"upstream_per_op,omitempty"`
	CPUNsOp         *float64 `json:"cpu_ns_op,omitempty"`

	RPS       *float64 `json:"rps,omitempty"`
	RPSSpread string   `json:"rps_spread,omitempty"`
	RatioBare *float64 `json:"ratio_bare_rps,omitempty"` // req/s ÷ the bare handler's req/s (in the same slices when measured so)
	// RatioBareSpread is the spread of a RatioBare measured in slices
	// interleaved with the bare handler; empty when it is computed from
	// the bare row.
	RatioBareSpread string   `json:"ratio_bare_rps_spread,omitempty"`
	RatioBareCPU    *float64 `json:"ratio_bare_server_cpu,omitempty"` // server CPU/request ÷ the bare handler's, same slices
	ServerCPUNsOp   *float64 `json:"server_cpu_ns_op,omitempty"`
	ClientCPUNsOp   *float64 `json:"client_cpu_ns_op,omitempty"`
	P50Ns           *float64 `json:"p50_ns,omitempty"`
	P99Ns           *float64 `json:"p99_ns,omitempty"`

	InstrOp         *float64 `json:"instr_op,omitempty"`
	RatioFloorInstr *float64 `json:"ratio_floor_instr,omitempty"` // instr/op ÷ the floor's instr/op in the row's group

	Extra map[string]float64 `json:"extra,omitempty"` // other units, medians
}

// Summary is the content of summary.json.
type Summary struct {
	Meta   map[string]string `json:"meta"`
	Rows   map[string]*Row   `json:"rows"`
	Failed []string          `json:"failed,omitempty"` // benchmarks that failed: no row
	Order  []string          `json:"-"`
}

// Roles of a row, from the last element of its name.
const (
	RoleFloor       = "floor"
	RoleBare        = "bare"
	RoleTokenwarden = "tokenwarden"
	RolePeer        = "peer"
)

// Role classifies a row name: ".../floor", ".../bare", ".../tokenwarden*",
// anything else is a peer.
func Role(name string) string {
	last := name[strings.LastIndexByte(name, '/')+1:]
	switch {
	case last == "floor":
		return RoleFloor
	case last == "bare":
		return RoleBare
	case strings.HasPrefix(last, "tokenwarden"):
		return RoleTokenwarden
	}
	return RolePeer
}

// Group is the name without its last element.
func Group(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

// FloorsOf names the floor rows a row may be compared with, in order of
// preference: the floor measured in the row's own benchmark ("Reject/floor"
// for "Reject/…"), then the ES256 floor for rows with an ES256 element or
// the RS256 floor otherwise.
func FloorsOf(name string) []string {
	first, _, _ := strings.Cut(name, "/")
	alg := "RS256"
	if slices.Contains(strings.Split(name, "/"), "ES256") {
		alg = "ES256"
	}
	return []string{first + "/floor", "Verify/" + alg + "/floor"}
}

const confidence = 0.95

func median(vals []float64) (center float64, spread string) {
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(vals), &benchmath.DefaultThresholds), confidence)
	return s.Center, "±" + s.PctRangeString()
}

// ptr returns &v, or nil for a value that JSON cannot carry (extreme
// inputs can overflow a median or a ratio).
func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Summarize computes one Row per benchmark of run.
func Summarize(run *Run, meta map[string]string) *Summary {
	sum := &Summary{Meta: map[string]string{}, Rows: map[string]*Row{}, Order: slices.Clone(run.Order)}
	for _, f := range run.Failed {
		if !slices.Contains(sum.Failed, f) {
			sum.Failed = append(sum.Failed, f)
		}
	}
	for k, v := range run.Config {
		sum.Meta[k] = v
	}
	for k, v := range meta {
		sum.Meta[k] = v
	}
	for _, name := range run.Order {
		s := run.Rows[name]
		r := &Row{Samples: len(s.Iterations)}
		for unit, vals := range s.Values {
			if len(vals) == 0 {
				continue
			}
			m, spread := median(vals)
			switch unit {
			case UnitNs:
				r.NsOp, r.NsOpSpread = ptr(m), spread
			case UnitAllocs:
				r.AllocsOp = ptr(m)
			case UnitBytes:
				r.BytesOp = ptr(m)
			case UnitFetches:
				r.FetchesPerToken = ptr(m)
				if len(vals) == len(s.Iterations) {
					hi := 0.0
					for i, v := range vals {
						hi = math.Max(hi, math.Round(v*s.Iterations[i]))
					}
					r.FetchesMaxRun = ptr(hi)
				}
			case UnitUpstream:
				r.UpstreamPerOp = ptr(m)
			case UnitCPU:
				r.CPUNsOp = ptr(m)
			case UnitRPS:
				r.RPS, r.RPSSpread = ptr(m), spread
			case UnitP50:
				r.P50Ns = ptr(m)
			case UnitP99:
				r.P99Ns = ptr(m)
			case UnitRatioBareRPS:
				r.RatioBare, r.RatioBareSpread = ptr(m), spread
			case UnitRatioBareCPU:
				r.RatioBareCPU = ptr(m)
			case UnitServerCPU:
				r.ServerCPUNsOp = ptr(m)
			case UnitClientCPU:
				r.ClientCPUNsOp = ptr(m)
			case UnitInstr:
				r.InstrOp = ptr(m)
			case UnitRatioFloorPaired:
				r.RatioFloor, r.RatioFloorSpread = ptr(m), spread
			default:
				if ptr(m) == nil {
					continue
				}
				if r.Extra == nil {
					r.Extra = map[string]float64{}
				}
				r.Extra[unit] = m
			}
		}
		sum.Rows[name] = r
	}
	sum.ratios()
	return sum
}

func (sum *Summary) floorOf(name string) *Row {
	for _, f := range FloorsOf(name) {
		if r := sum.Rows[f]; r != nil && r.NsOp != nil && *r.NsOp > 0 {
			return r
		}
	}
	return nil
}

func (sum *Summary) ratios() {
	best := map[string]string{} // group → fastest peer row
	bare := map[string]string{} // group → bare row
	for _, name := range sum.Order {
		r := sum.Rows[name]
		g := Group(name)
		switch Role(name) {
		case RolePeer:
			if r.NsOp == nil || *r.NsOp <= 0 {
				continue
			}
			if b, ok := best[g]; !ok || *r.NsOp < *sum.Rows[b].NsOp {
				best[g] = name
			}
		case RoleBare:
			if r.RPS != nil && *r.RPS > 0 {
				bare[g] = name
			}
		}
	}
	for _, name := range sum.Order {
		r := sum.Rows[name]
		g := Group(name)
		if b, ok := bare[g]; ok {
			// A ratio measured against the bare handler in interleaved
			// slices is kept: it saw the same load of the machine.
			if r.RPS != nil && r.RatioBare == nil {
				r.RatioBare = ptr(*r.RPS / *sum.Rows[b].RPS)
			}
		} else if f := sum.floorOf(name); f != nil && r.NsOp != nil && Role(name) != RoleFloor && r.RatioFloor == nil {
			// A ratio measured against the floor call by call is kept.
			r.RatioFloor = ptr(*r.NsOp / *f.NsOp)
		}
		if b, ok := best[g]; ok && r.NsOp != nil && Role(name) != RoleFloor {
			r.RatioBestPeer = ptr(*r.NsOp / *sum.Rows[b].NsOp)
			r.BestPeer = b[strings.LastIndexByte(b, '/')+1:]
		}
		if f := sum.Rows[g+"/floor"]; r.InstrOp != nil && Role(name) != RoleFloor && f != nil && f.InstrOp != nil && *f.InstrOp > 0 {
			r.RatioFloorInstr = ptr(*r.InstrOp / *f.InstrOp)
		}
	}
}
