package adapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testClaims(jti string) *oidc.Claims {
	return &oidc.Claims{
		Issuer:          "https://kc.example/realms/tw",
		Subject:         "user-1",
		Audience:        []string{"backend"},
		Expiry:          t0.Add(5 * time.Minute),
		IssuedAt:        t0.Add(-time.Minute),
		ID:              jti,
		SessionID:       "sid-1",
		AuthorizedParty: "mobile",
		Type:            "Bearer",
		Scope:           "openid profile orders:read",
		RealmRoles:      []string{"user"},
		ClientRoles:     map[string][]string{"backend": {"reader"}},
	}
}

// fakeVerifier answers from a map: token → claims or error.
type fakeVerifier struct {
	mu     sync.Mutex
	claims map[string]*oidc.Claims
	errs   map[string]error
	calls  int
	forgot []string
}

func newFakeVerifier() *fakeVerifier {
	return &fakeVerifier{claims: map[string]*oidc.Claims{}, errs: map[string]error{}}
}

func (v *fakeVerifier) Verify(_ context.Context, token string) (*oidc.Claims, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if err, ok := v.errs[token]; ok {
		return nil, err
	}
	if c, ok := v.claims[token]; ok {
		return c, nil
	}
	return nil, &oidc.ValidationError{Kind: oidc.ErrBadSignature}
}

func (v *fakeVerifier) Forget(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forgot = append(v.forgot, token)
}

// fakeStore is an in-memory deny-list keyed like the real one.
type fakeStore struct {
	mu        sync.Mutex
	jtis      map[string]bool
	sids      map[string]bool
	subNB     map[string]time.Time
	issNB     map[string]time.Time
	clientNB  map[string]time.Time
	seen      map[string]bool
	degraded  bool
	failWrite error
	writes    int
}

func newFakeStore() *fakeStore {
	return &fakeStore{jtis: map[string]bool{}, sids: map[string]bool{}, subNB: map[string]time.Time{},
		issNB: map[string]time.Time{}, clientNB: map[string]time.Time{}, seen: map[string]bool{}}
}

func (s *fakeStore) Check(t revocation.Token) revocation.Match {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.jtis[t.Issuer+" "+t.ID]:
		return revocation.TokenMatch
	case t.SessionID != "" && s.sids[t.Issuer+" "+t.SessionID]:
		return revocation.SessionMatch
	case t.IssuedAt.Before(s.subNB[t.Issuer+" "+t.Subject]):
		return revocation.SubjectMatch
	case t.IssuedAt.Before(s.issNB[t.Issuer]):
		return revocation.IssuerMatch
	case t.IssuedAt.Before(s.clientNB[t.Issuer+" "+t.ClientID]):
		return revocation.ClientMatch
	}
	return revocation.NoMatch
}

func (s *fakeStore) Degraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.degraded
}

func (s *fakeStore) Health() revocation.Health { return revocation.Health{Degraded: s.Degraded()} }
func (s *fakeStore) Close() error              { return nil }

func (s *fakeStore) write(f func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWrite != nil {
		return s.failWrite
	}
	s.writes++
	f()
	return nil
}

func (s *fakeStore) RevokeToken(_ context.Context, iss, jti string, _ time.Time) error {
	return s.write(func() { s.jtis[iss+" "+jti] = true })
}

func (s *fakeStore) RevokeSession(_ context.Context, iss, sid string, _ time.Time) error {
	return s.write(func() { s.sids[iss+" "+sid] = true })
}

func (s *fakeStore) RevokeSubject(_ context.Context, iss, sub string, nb time.Time) error {
	return s.write(func() { s.subNB[iss+" "+sub] = nb })
}

func (s *fakeStore) SetIssuerNotBefore(_ context.Context, iss string, nb time.Time) error {
	return s.write(func() { s.issNB[iss] = nb })
}

func (s *fakeStore) SetClientNotBefore(_ context.Context, iss, client string, nb time.Time) error {
	return s.write(func() { s.clientNB[iss+" "+client] = nb })
}

func (s *fakeStore) SeenOnce(_ context.Context, iss, jti string, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWrite != nil {
		return false, s.failWrite
	}
	k := iss + " " + jti
	if s.seen[k] {
		return false, nil
	}
	s.seen[k] = true
	return true, nil
}

var _ revocation.Store = (*fakeStore)(nil)

// fakeIntrospector answers from a map; unknown tokens are inactive.
type fakeIntrospector struct {
	mu     sync.Mutex
	active map[string]*oidc.Claims
	err    error
	calls  int
	forgot []string
}

var errInactive = fmt.Errorf("fake: %w", inactiveSentinel)

func (f *fakeIntrospector) Introspect(_ context.Context, token, hint string) (*introspect.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if c, ok := f.active[token]; ok {
		return &introspect.Result{Claims: c}, nil
	}
	return nil, errInactive
}

func (f *fakeIntrospector) Forget(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, token)
}

var errBoom = errors.New("boom")
