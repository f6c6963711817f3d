package faults_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// discover runs the realm's discovery through hc, bounded by hc.Timeout.
func discover(realm *keycloaktest.Keycloak, hc *http.Client) (*oidc.Discovery, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*hc.Timeout)
	defer cancel()
	return oidc.Discover(ctx, oidc.DiscoveryConfig{Issuer: realm.IssuerURL(), HTTPClient: hc,
		InsecureAllowHTTP: true, Timeout: hc.Timeout})
}

// keycloakFaults are the TCP faults put between the library and Keycloak.
// Each is on for a JWKS fetch and an introspection call alike.
var keycloakFaults = []struct {
	name   string
	toxics []toxic // nil: the proxy is stopped (Keycloak unreachable)
}{
	{name: "latency beyond the fetch timeout", toxics: []toxic{
		{Type: "latency", Attributes: map[string]any{"latency": 3 * upstreamTimeout.Milliseconds()}}}},
	{name: "timeout: data dropped, connection kept open", toxics: []toxic{
		{Type: "timeout", Attributes: map[string]any{"timeout": 0}}}},
	{name: "connection cut mid-body", toxics: []toxic{
		{Type: "limit_data", Attributes: map[string]any{"bytes": 700}}}},
	{name: "connection reset", toxics: []toxic{
		{Type: "reset_peer", Attributes: map[string]any{"timeout": 0}}}},
	{name: "slow-drip body", toxics: []toxic{
		// Chunks of about 8 bytes every 20 ms: a KiB takes seconds, longer
		// than the fetch timeout, which covers the body too.
		{Type: "slicer", Attributes: map[string]any{"average_size": 8, "size_variation": 4, "delay": 20_000}},
		{Type: "latency", Attributes: map[string]any{"latency": 5}}}},
	{name: "proxy down"},
}

// TestKeycloakTCPFaults puts a toxiproxy between the library and the real
// Keycloak (discovery, JWKS, introspection) and checks the outage policies:
//
//   - discovery fails with ErrDiscovery within its timeout;
//   - a token signed by a cached key verifies locally, also past the key
//     set's lifetime (stale-if-error), and after StaleIfError is answered
//     503, not 401;
//   - a token signed by a key rotated in during the outage is answered 503
//     with Retry-After (its key cannot be fetched: the token is not at
//     fault);
//   - the introspected route answers 503 with Retry-After, never 401, while
//     the plain route keeps answering from local verification;
//   - once the fault is gone, without a restart: the rotated key is
//     fetched and its token accepted, introspection and discovery answer
//     again.
func TestKeycloakTCPFaults(t *testing.T) {
	kc := keycloak(t)
	realm := kc.IsolatedRealm(t, "") // keys are rotated: a realm of its own
	me := newLogin(t, realm)
	base := me.session(t) // every token below is minted from it: refresh grants are cheap
	target := hostPort(t, kc.BaseURL)

	for _, f := range keycloakFaults {
		scenario(t, kc, f.name, func(t *testing.T) {
			p := newProxy(t, "keycloak", target)
			hc := clientVia(t, target, p.Addr(), upstreamTimeout)
			a := newAPI(t, realm, hc, nil)

			used := me.more(t, base)       // verified and introspected before the fault
			fresh := me.more(t, used)      // first seen during the fault, cached key
			strict := me.more(t, used)     // never introspected before the fault
			afterStale := me.more(t, used) // first seen after StaleIfError
			oldKid := kid(t, used.AccessToken)
			a.eventuallyStatus(t, "before the fault", "/plain", used.AccessToken, 200)
			a.eventuallyStatus(t, "before the fault", "/strict", used.AccessToken, 200)

			var restore func()
			if f.toxics == nil {
				restore = p.down(t)
			} else {
				restore = p.add(t, "kc", f.toxics...)
			}

			// Discovery (done at start) fails within its bound.
			if _, err := discover(realm, hc); !errors.Is(err, oidc.ErrDiscovery) {
				t.Fatalf("fault, discovery: %v, want ErrDiscovery", err)
			}
			// Cached keys keep verifying, within and past their lifetime.
			a.expect(t, "fault, cached token", "/plain", used.AccessToken, 200)
			a.keyClock.advance(6 * time.Minute) // lifetime 5 min (Keycloak sends no max-age)
			fetches := a.keys.Stats().Fetches
			a.expect(t, "fault, known kid, keys past their lifetime", "/plain", fresh.AccessToken, 200)
			if n := a.keys.Stats().Fetches - fetches; n != 0 {
				t.Fatalf("fault, known kid: %d JWKS fetches, want 0", n)
			}
			// The introspected route cannot know: 503, never 401.
			a.expectUnavailable(t, "fault, introspected route", "/strict", strict.AccessToken)
			a.expect(t, "fault, plain route after the introspection failure", "/plain", strict.AccessToken, 200)

			// A key rotated in during the outage cannot be fetched.
			newKid := realm.RotateKeys(t)
			rotated := me.more(t, used)
			if got := kid(t, rotated.AccessToken); got != newKid || got == oldKid {
				t.Fatalf("token after rotation has kid %q, want %q", got, newKid)
			}
			a.expectUnavailable(t, "fault, token signed by a key rotated in during the outage", "/plain", rotated.AccessToken)

			// Past StaleIfError the old keys are not served any more.
			a.keyClock.advance(10 * time.Minute)
			a.expectUnavailable(t, "fault, known kid past StaleIfError", "/plain", afterStale.AccessToken)
			if st := a.keys.Stats(); st.FetchErrors == 0 || st.LastError == "" {
				t.Fatalf("key set stats during the fault: %+v", st)
			}

			restore()
			a.eventuallyStatus(t, "recovered, rotated key", "/plain", rotated.AccessToken, 200)
			a.expect(t, "recovered, known kid", "/plain", afterStale.AccessToken, 200)
			a.eventuallyStatus(t, "recovered, introspected route", "/strict", strict.AccessToken, 200)
			eventually(t, "recovered, discovery", func() bool {
				d, err := discover(realm, hc)
				return err == nil && d.JWKSURI == realm.IssuerURL()+certsPath
			})
			if st := a.keys.Stats(); st.LastError != "" {
				t.Fatalf("key set still reports an error after recovery: %+v", st)
			}
		})
	}
}
