package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDrive(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		tokens   []string
		wantOK   bool
		wantErrs bool
	}{
		{"accepted", []string{"good"}, true, false},
		{"refused", []string{"bad"}, false, true},
		{"no token", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(srv.URL, authValues(tt.tokens), 2)
			tg.slice(50*time.Millisecond, true)
			res := tg.result()
			if (res.Requests > 0) != tt.wantOK || (res.Errors > 0) != tt.wantErrs {
				t.Fatalf("requests %d, errors %d (%v)", res.Requests, res.Errors, res.Statuses)
			}
			if tt.wantOK && (res.RPS <= 0 || res.P50Ns <= 0 || res.P99Ns < res.P50Ns || res.MaxNs < res.P99Ns) {
				t.Errorf("inconsistent result %+v", res)
			}
			if tt.wantErrs && res.Statuses["401 Unauthorized"] != res.Errors {
				t.Errorf("statuses %v, errors %d", res.Statuses, res.Errors)
			}
		})
	}
}

// TestControlled proves that each slice loads only its target and that the
// final line combines the measured slices of each target, warm-up apart.
func TestControlled(t *testing.T) {
	var hits [2]atomic.Int64
	targets := make([]*target, 2)
	for i := range targets {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			_, _ = w.Write([]byte("ok"))
		}))
		defer srv.Close()
		targets[i] = newTarget(srv.URL, authValues([]string{"t"}), 2)
	}
	in := "warm 0 20ms\nrun 1 30ms\nrun 0 30ms\nrun 1 30ms\n"
	var out bytes.Buffer
	if err := controlled(targets, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	var slices []Slice
	var final Final
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `{"targets"`) {
			if err := json.Unmarshal(sc.Bytes(), &final); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var s Slice
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		slices = append(slices, s)
	}
	if len(slices) != 4 || len(final.Targets) != 2 {
		t.Fatalf("%d slices, %d targets; want 4 and 2:\n%s", len(slices), len(final.Targets), out.String())
	}
	var perTarget [2]int64
	for i, s := range slices {
		if want := []int{0, 1, 0, 1}[i]; s.Target != want || s.Requests == 0 {
			t.Errorf("slice %d: %+v, want target %d with requests", i, s, want)
		}
		if i > 0 {
			perTarget[s.Target] += s.Requests
		}
	}
	for i, r := range final.Targets {
		if r.Requests != perTarget[i] || r.Errors != 0 || r.RPS <= 0 {
			t.Errorf("target %d: %+v, want %d measured requests", i, r, perTarget[i])
		}
		if got := hits[i].Load(); got != r.Requests+r.Warmup {
			t.Errorf("target %d served %d requests, result counts %d + %d warm-up", i, got, r.Requests, r.Warmup)
		}
	}
	if final.Targets[0].Warmup != slices[0].Requests || final.Targets[1].Warmup != 0 {
		t.Errorf("warm-up counts %d, %d; want %d, 0", final.Targets[0].Warmup, final.Targets[1].Warmup, slices[0].Requests)
	}
}

func TestControlledRejectsBadCommands(t *testing.T) {
	targets := []*target{newTarget("http://127.0.0.1:1/", nil, 1)}
	for _, in := range []string{"run 1 10ms", "run 0 -1s", "walk 0 10ms", "run 0", "run x 10ms"} {
		if err := controlled(targets, strings.NewReader(in+"\n"), &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
