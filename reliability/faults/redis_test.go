package faults_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// redisFaults are the TCP faults put between one replica and Redis.
var redisFaults = []struct {
	name   string
	toxics []toxic // nil: the proxy is stopped (Redis unreachable)
}{
	{name: "proxy down"},
	{name: "connection reset", toxics: []toxic{
		{Type: "reset_peer", Attributes: map[string]any{"timeout": 0}}}},
	{name: "connection cut mid-reply", toxics: []toxic{
		{Type: "limit_data", Attributes: map[string]any{"bytes": 3}}}},
	{name: "silent: data dropped, connection kept open", toxics: []toxic{
		{Type: "timeout", Attributes: map[string]any{"timeout": 0}}}},
	// go-redis bounds a blocking XREAD by its block time plus 10 s: only a
	// latency beyond that makes the follower fail (writes fail at once, on
	// ReadTimeout). Both this and the silent case take about 10 s.
	{name: "latency beyond the blocking-read bound", toxics: []toxic{
		{Type: "latency", Attributes: map[string]any{"latency": 12_000}}}},
}

// newRedisStore opens a revocation.Redis store on addr (a proxy or Redis
// itself) and waits until it is healthy.
func newRedisStore(t *testing.T, redisURL, addr, prefix string) *revocation.Redis {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.Addr = addr
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	store, err := revocation.NewRedis(revocation.RedisConfig{Client: rc, KeyPrefix: prefix,
		Config:       revocation.Config{MaxTokenLifetime: 10 * time.Minute},
		BlockTimeout: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.WaitHealthy(ctx); err != nil {
		t.Fatalf("store not healthy: %v", err)
	}
	return store
}

// TestRedisFaults puts a toxiproxy between replica A and the real Redis;
// replica B reaches Redis directly. Checked, for each fault:
//
//   - A's store reports degraded;
//   - while degraded, A introspects every request: a valid token is
//     accepted (one introspection each), a token revoked at Keycloak only
//     is refused, also on the plain route;
//   - revocation writes fail with revocation.ErrUnavailable, and
//     LogoutHandler answers 503 with Retry-After;
//   - after the fault goes, without a restart: A reports healthy again,
//     has resynchronised (a revocation B wrote during the outage refuses
//     its token on A) and stops introspecting.
func TestRedisFaults(t *testing.T) {
	kc := keycloak(t)
	redisURL := testenv.Redis(t)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	realm := kc // nothing realm-wide changes: the shared realm, a user of its own
	me := newLogin(t, realm)

	for _, f := range redisFaults {
		scenario(t, kc, f.name, func(t *testing.T) {
			p := newProxy(t, "redis", opts.Addr)
			prefix := randomName("tw-faults-")
			storeA := newRedisStore(t, redisURL, p.Addr(), prefix)
			storeB := newRedisStore(t, redisURL, opts.Addr, prefix)
			kcAddr := hostPort(t, kc.BaseURL)
			a := newAPI(t, realm, clientVia(t, kcAddr, kcAddr, 10*time.Second), storeA)
			b := newAPI(t, realm, clientVia(t, kcAddr, kcAddr, 10*time.Second), storeB)

			valid := me.session(t)
			revokedOnB := me.more(t, valid)
			revokedAtKeycloak := me.more(t, valid) // revoking an access token ends no session
			loggedOut := me.session(t)             // logout ends the session: one of its own
			for _, tok := range []string{valid.AccessToken, revokedAtKeycloak.AccessToken, revokedOnB.AccessToken} {
				a.expect(t, "healthy", "/plain", tok, 200)
			}
			if n := a.upstream.Load(); n != 0 {
				t.Fatalf("healthy store: %d introspections, want 0", n)
			}
			revokeAtKeycloak(t, realm, revokedAtKeycloak.AccessToken)

			var restore func()
			if f.toxics == nil {
				restore = p.down(t)
			} else {
				restore = p.add(t, "redis", f.toxics...)
			}
			eventually(t, "store degraded", storeA.Degraded)

			// Every request is introspected while degraded.
			before := a.upstream.Load()
			a.expect(t, "degraded, valid token", "/plain", valid.AccessToken, 200)
			a.expect(t, "degraded, token revoked at Keycloak only", "/plain", revokedAtKeycloak.AccessToken, 401)
			if n := a.upstream.Load() - before; n != 2 {
				t.Fatalf("degraded: %d introspections, want 2", n)
			}

			// Writes fail; the logout handler does not claim success.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := storeA.RevokeSubject(ctx, realm.IssuerURL(), "someone", time.Now())
			if !errors.Is(err, revocation.ErrUnavailable) {
				t.Fatalf("write while degraded: %v, want ErrUnavailable", err)
			}
			if got := a.logout(t, loggedOut); !got.unavailable() {
				t.Fatalf("logout while Redis is unreachable: %v, want 503 with Retry-After", got)
			}

			// Another replica revokes during the outage.
			c, aerr := b.auth.Authenticate(bearerRequest(revokedOnB.AccessToken))
			if aerr != nil {
				t.Fatalf("B: %v", aerr)
			}
			ctxB, cancelB := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancelB()
			if err := storeB.RevokeToken(ctxB, c.Issuer, c.ID, c.Expiry); err != nil {
				t.Fatalf("B: revoke: %v", err)
			}
			b.expect(t, "B after its revocation", "/plain", revokedOnB.AccessToken, 401)

			restore()
			eventually(t, "store healthy again", func() bool { return !storeA.Degraded() })
			if r := storeA.Check(revocation.Token{Issuer: c.Issuer, ID: c.ID, Subject: c.Subject,
				SessionID: c.SessionID, ClientID: c.AuthorizedParty, IssuedAt: c.IssuedAt, Expiry: c.Expiry}); r != revocation.TokenMatch {
				t.Fatalf("A after resync: B's revocation checks %v, want %v", r, revocation.TokenMatch)
			}
			a.expect(t, "recovered, token revoked on B during the outage", "/plain", revokedOnB.AccessToken, 401)
			fresh := me.more(t, valid) // never introspected: a cached answer cannot hide a call
			before = a.upstream.Load()
			a.expect(t, "recovered, valid token", "/plain", fresh.AccessToken, 200)
			if n := a.upstream.Load() - before; n != 0 {
				t.Fatalf("recovered: %d introspections, want 0", n)
			}
			// Logout is idempotent: retried while a write still meets a
			// connection of the outage.
			attempts := 0
			eventually(t, "logout after recovery answers 204", func() bool {
				attempts++
				got := a.logout(t, loggedOut)
				if got.status != http.StatusNoContent {
					t.Logf("logout after recovery, attempt %d: %v", attempts, got)
				}
				return got.status == http.StatusNoContent
			})
			b.eventuallyStatus(t, "B after A's logout", "/plain", loggedOut.AccessToken, 401)
		})
	}
}

func bearerRequest(token string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://api.invalid/plain", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// revokeAtKeycloak revokes an access token at Keycloak over RFC 7009 only:
// no notification reaches the API.
func revokeAtKeycloak(t *testing.T, realm *keycloaktest.Keycloak, token string) {
	t.Helper()
	resp, err := realm.HTTPClient.PostForm(realm.IssuerURL()+revokePath,
		map[string][]string{"token": {token}, "client_id": {keycloaktest.MobileClientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at Keycloak: %d", resp.StatusCode)
	}
}
