package bench_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// set is what every test and benchmark of one process shares: keys are
// generated once, tokens are signed at first use and valid for long enough
// to outlive a -count=10 run.
type set struct {
	keys   *fixture.Keys
	tokens map[string]*fixture.Token // by alg
}

var shared = sync.OnceValues(func() (*set, error) {
	keys, err := fixture.NewKeys()
	if err != nil {
		return nil, err
	}
	s := &set{keys: keys, tokens: map[string]*fixture.Token{}}
	for _, alg := range algs {
		t, err := keys.Sign(alg, fixture.Claims(time.Now(), 6*time.Hour))
		if err != nil {
			return nil, err
		}
		s.tokens[alg] = t
	}
	return s, nil
})

var algs = []string{fixture.RS256, fixture.ES256}

func fixtures(tb testing.TB) *set {
	tb.Helper()
	s, err := shared()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newServer starts a fake Keycloak for one test or benchmark so JWKS hits
// are counted per library.
func newServer(tb testing.TB) *fixture.Server {
	srv := fixture.NewServer(fixtures(tb).keys)
	tb.Cleanup(srv.Close)
	return srv
}

// verifyLibs and rejectLibs are the rows of BenchmarkVerify and
// BenchmarkReject: the peers, then tokenwarden.
func verifyLibs() []lib { return append(slices.Clone(peers), tokenwardenVerifyLibs...) }
func rejectLibs() []lib { return append(slices.Clone(peers), tokenwardenRejectLibs...) }

// TestLibrariesChecks proves each benchmarked configuration accepts the
// fixture token and rejects what it claims to reject, and that the gaps
// listed in lib.skips are real, so the benchmarks never time an error path
// and BENCHMARKS.md does not overstate any library.
func TestLibrariesChecks(t *testing.T) {
	s := fixtures(t)
	now := time.Now()
	variant := func(alg string, edit func(map[string]any)) string {
		c := fixture.Claims(now, time.Hour)
		edit(c)
		tok, err := s.keys.Sign(alg, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Raw
	}
	for _, l := range append(verifyLibs(), tokenwardenRejectLibs...) {
		for _, alg := range algs {
			t.Run(l.name+"/"+alg, func(t *testing.T) {
				srv := newServer(t)
				verify := l.newVerify(t, srv, alg)
				good := s.tokens[alg]
				if err := verify(t.Context(), good.Raw); err != nil {
					t.Fatalf("valid token rejected: %v", err)
				}
				cases := []struct {
					name  string
					check string // the lib.skips entry that lets it through; "" = always rejected
					token string
				}{
					{"forged signature", "", fixture.Forged(good)},
					{"unknown kid", "", fixture.WithKid(good, fixture.RandomKid())},
					{"expired", "", variant(alg, func(c map[string]any) {
						c["exp"], c["iat"] = now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
					})},
					{"wrong issuer", "iss", variant(alg, func(c map[string]any) { c["iss"] = "http://127.0.0.1:8080/realms/other" })},
					{"wrong audience", "aud", variant(alg, func(c map[string]any) { c["aud"] = []string{"account"} })},
					{"refresh token typ", "typ", variant(alg, func(c map[string]any) { c["typ"] = "Refresh" })},
					{"no exp", "exp required", variant(alg, func(c map[string]any) { delete(c, "exp") })},
				}
				if alg == fixture.RS256 {
					t512, err := s.keys.SignRS512(fixture.Claims(now, time.Hour))
					if err != nil {
						t.Fatal(err)
					}
					cases = append(cases, struct {
						name  string
						check string
						token string
					}{"RS512 with the RS256 key", "alg allow-list", t512.Raw})
				}
				for _, tc := range cases {
					err := verify(t.Context(), tc.token)
					skipped := tc.check != "" && slices.Contains(l.skips, tc.check)
					switch {
					case skipped && err != nil:
						t.Errorf("%s: rejected (%v), but %s is listed as a check %s lacks", tc.name, err, tc.check, l.name)
					case !skipped && err == nil:
						t.Errorf("%s: accepted", tc.name)
					}
				}
			})
		}
	}
}
