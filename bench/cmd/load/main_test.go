package main

import (
	"net/http"
	"net/http/httptest"
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
	client := srv.Client()

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
			res := drive(client, srv.URL, tt.tokens, 2, 50*time.Millisecond, true)
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
