package adapter

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/attack"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// attackAnswer is the exact WWW-Authenticate answer for a refused case, its
// error code, and the Reason counted in metrics.
func attackAnswer(realm string, tc attack.Case) (challenge, code string, reason Reason) {
	if tc.WantStatus == http.StatusBadRequest {
		return `Bearer realm="` + realm + `", error="invalid_request", error_description="malformed authorization"`,
			codeInvalidRequest, ReasonMalformedRequest
	}
	desc, reason := "invalid token", ReasonInvalidToken
	switch {
	case len(tc.Token) > maxTokenBytes:
		desc, reason = "token too large", ReasonTokenTooLarge
	case errors.Is(tc.WantError, oidc.ErrExpired):
		desc, reason = "token expired", ReasonExpired
	}
	return `Bearer realm="` + realm + `", error="invalid_token", error_description="` + desc + `"`, codeInvalidToken, reason
}

// quotesToken reports whether s contains a 16-byte piece of a segment of
// token.
func quotesToken(s, token string) bool {
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 16 && strings.Contains(s, seg[:16]) {
			return true
		}
	}
	return false
}

// TestAttackCorpusMiddleware drives every case of the consolidated attack
// corpus through the real middleware (adapter.New, an oidc.Verifier over a
// RemoteKeySet served by a counting httptest JWKS server, and the same
// behind an oidc.MultiVerifier with a second trusted realm): each is
// refused with its exact RFC 6750 answer, the inner handler never runs, a
// case that names a known or no kid causes no JWKS fetch, and the
// unknown-kid cases together cause at most the one fetch the cooldown
// allows.
func TestAttackCorpusMiddleware(t *testing.T) {
	m := attack.NewMaterial(t)
	cases, err := attack.Cases(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Verifier", func(t *testing.T) {
		ks := attack.NewKeyServer(t, m.JWKS())
		runAttackCorpus(t, m, cases, m.Verifier(t, m.KeySource(t, ks)), ks)
	})
	t.Run("MultiVerifier", func(t *testing.T) {
		ks := attack.NewKeyServer(t, m.JWKS())
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		second := *m
		second.Issuer, second.Key, second.KID = m.Issuer[:strings.LastIndexByte(m.Issuer, '/')]+"/second", key, "second-1"
		ks2 := attack.NewKeyServer(t, second.JWKS())
		mv, err := oidc.NewMultiVerifier(m.Verifier(t, m.KeySource(t, ks)), second.Verifier(t, second.KeySource(t, ks2)))
		if err != nil {
			t.Fatal(err)
		}
		runAttackCorpus(t, m, cases, mv, ks)
		if n := ks2.Fetches(); n > 1 {
			t.Fatalf("the second realm's JWKS was fetched %d times", n)
		}
	})
}

func runAttackCorpus(t *testing.T, m *attack.Material, cases []attack.Case, v TokenVerifier, ks *attack.KeyServer) {
	store := revocation.NewMemory(revocation.Config{Now: func() time.Time { return m.Now }})
	t.Cleanup(func() { store.Close() })
	const realm = "orders"
	metrics := &countMetrics{decisions: map[string]int{}}
	var events []AuditEvent
	a, err := New(context.Background(), Config{Verifier: v, Store: store, Realm: realm, Now: func() time.Time { return m.Now },
		Metrics: metrics, AuditBurst: 1 << 20,
		Audit: func(_ context.Context, ev AuditEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var reached atomic.Int64
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))

	// The control: the valid token reaches the handler, after the initial
	// JWKS fetch.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, bearer(m.Valid()))
	if rec.Code != http.StatusNoContent || reached.Load() != 1 {
		t.Fatalf("valid token: status %d, handler runs %d", rec.Code, reached.Load())
	}
	if got := ks.Fetches(); got != 1 {
		t.Fatalf("JWKS fetches after the valid token = %d, want 1", got)
	}

	var byStatus = map[int]int{}
	unknown := 0
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			before, nEvents := ks.Fetches(), len(events)
			challenge, code, reason := attackAnswer(realm, tc)
			denied := metrics.decisions["deny/"+string(reason)]
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, bearer(tc.Token))
			check(t, rec, wantResp{status: tc.WantStatus, challenge: challenge, code: code})
			if metrics.decisions["deny/"+string(reason)] != denied+1 {
				t.Fatalf("decision not counted as deny/%s: %v", reason, metrics.decisions)
			}
			// A failed verification is audited once, without token text;
			// a malformed or oversized request is not a verification.
			wantEvents := 0
			if reason == ReasonInvalidToken || reason == ReasonExpired {
				wantEvents = 1
			}
			if got := len(events) - nEvents; got != wantEvents {
				t.Fatalf("%d audit events, want %d", got, wantEvents)
			}
			for _, ev := range events[nEvents:] {
				if ev.Kind != AuditVerificationFailed || ev.Reason != reason ||
					quotesToken(fmt.Sprintf("%+v", ev), tc.Token) || quotesToken(rec.Body.String(), tc.Token) {
					t.Fatalf("audit event %+v", ev)
				}
			}
			if n := reached.Load(); n != 1 {
				t.Fatalf("the handler ran (%d runs)", n)
			}
			if after := ks.Fetches(); !tc.UnknownKid && after != before {
				t.Fatalf("JWKS fetched %d times for a case without an unknown kid", after-before)
			}
		})
		byStatus[tc.WantStatus]++
		if tc.UnknownKid {
			unknown++
		}
	}
	if byStatus[http.StatusBadRequest] == 0 || byStatus[http.StatusUnauthorized] == 0 || unknown == 0 {
		t.Fatalf("corpus lacks a kind of case: %v, %d unknown kids", byStatus, unknown)
	}
	if got := ks.Fetches(); got > 2 {
		t.Fatalf("JWKS fetches = %d, want at most 2 (initial and one unknown kid within the cooldown)", got)
	}
	if n := metrics.decisions["allow/ok"]; n != 1 {
		t.Fatalf("allow/ok counted %d times", n)
	}
	t.Logf("%d cases: %d answered 400, %d answered 401; %d JWKS fetches", len(cases),
		byStatus[http.StatusBadRequest], byStatus[http.StatusUnauthorized], ks.Fetches())
}
