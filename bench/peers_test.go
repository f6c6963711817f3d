package bench_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/Nerzal/gocloak/v13"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	jwtv5 "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// verifyFunc verifies an access token the way an API using one library
// would, and checks that the caller holds realm role "user" and client role
// backend:reader, so every row pays for reading the roles.
type verifyFunc func(ctx context.Context, token string) error

// lib is one way of verifying tokens, configured for the fixture realm.
type lib struct {
	name string
	// skips lists the checks this library cannot make (documented in
	// BENCHMARKS.md and asserted by TestLibrariesChecks).
	skips []string
	// newVerify builds a verifier for alg against srv. Anything it starts is
	// stopped by tb.Cleanup.
	newVerify func(tb testing.TB, srv *fixture.Server, alg string) verifyFunc
}

var errRoles = errors.New("bench: roles missing")

// kcClaims is the typed Keycloak payload the peers decode into.
type kcClaims struct {
	Typ               string `json:"typ"`
	Azp               string `json:"azp"`
	Sid               string `json:"sid"`
	Scope             string `json:"scope"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	RealmAccess       struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
	ResourceAccess map[string]struct {
		Roles []string `json:"roles"`
	} `json:"resource_access"`
}

func (c *kcClaims) roles() error {
	if !slices.Contains(c.RealmAccess.Roles, "user") ||
		!slices.Contains(c.ResourceAccess[fixture.Audience].Roles, "reader") {
		return errRoles
	}
	return nil
}

func (c *kcClaims) typ() error {
	if c.Typ != "Bearer" {
		return errors.New("bench: typ is not Bearer")
	}
	return nil
}

// peers are the Go libraries users pick instead, newest versions on the
// module proxy at the time of writing (see go.mod).
var peers = []lib{
	{name: "go-oidc", skips: []string{"typ"}, newVerify: newGoOIDC},
	{name: "gocloak", skips: []string{"iss", "aud", "typ", "exp required", "alg allow-list"}, newVerify: newGocloak},
	{name: "keyfunc-jwt", newVerify: newKeyfunc},
	{name: "jwx", newVerify: newJWX},
	{name: "auth0", skips: []string{"exp required"}, newVerify: newAuth0},
}

// go-oidc v3: RemoteKeySet + IDTokenVerifier (client-id = audience check,
// issuer check, expiry, alg allow-list), then Claims into the typed struct.
// It has no payload typ check.
func newGoOIDC(_ testing.TB, srv *fixture.Server, alg string) verifyFunc {
	ks := oidc.NewRemoteKeySet(context.Background(), srv.JWKSURL())
	v := oidc.NewVerifier(fixture.Issuer, ks, &oidc.Config{
		ClientID:             fixture.Audience,
		SupportedSigningAlgs: []string{alg},
	})
	return func(ctx context.Context, token string) error {
		idt, err := v.Verify(ctx, token)
		if err != nil {
			return err
		}
		var c kcClaims
		if err := idt.Claims(&c); err != nil {
			return err
		}
		return c.roles()
	}
}

// gocloak v13 DecodeAccessToken: keys from the realm certs endpoint (cached
// 10 min), signature and exp through golang-jwt; it checks neither iss nor
// aud nor typ, and takes the algorithm family from the token header.
func newGocloak(_ testing.TB, srv *fixture.Server, _ string) verifyFunc {
	g := gocloak.NewClient(srv.URL)
	return func(ctx context.Context, token string) error {
		_, mc, err := g.DecodeAccessToken(ctx, token, fixture.Realm)
		if err != nil {
			return err
		}
		return mapRoles(*mc)
	}
}

func mapRoles(m map[string]any) error {
	ra, _ := m["realm_access"].(map[string]any)
	realm, _ := ra["roles"].([]any)
	rs, _ := m["resource_access"].(map[string]any)
	be, _ := rs[fixture.Audience].(map[string]any)
	client, _ := be["roles"].([]any)
	if !slices.Contains(realm, any("user")) || !slices.Contains(client, any("reader")) {
		return errRoles
	}
	return nil
}

// keyfunc v3 + golang-jwt v5: default keyfunc (hourly refresh, unknown-kid
// refresh limited to one per 5 min), parser with issuer, audience,
// required exp, iat and the alg allow-list; typ checked by the claims'
// Validate hook.
type jwtClaims struct {
	jwtv5.RegisteredClaims
	kcClaims
}

func (c *jwtClaims) Validate() error { return c.typ() }

func newKeyfunc(tb testing.TB, srv *fixture.Server, alg string) verifyFunc {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{srv.JWKSURL()})
	if err != nil {
		tb.Fatal(err)
	}
	p := jwtv5.NewParser(
		jwtv5.WithIssuer(fixture.Issuer),
		jwtv5.WithAudience(fixture.Audience),
		jwtv5.WithExpirationRequired(),
		jwtv5.WithIssuedAt(),
		jwtv5.WithValidMethods([]string{alg}),
	)
	return func(_ context.Context, token string) error {
		var c jwtClaims
		if _, err := p.ParseWithClaims(token, &c, kf.Keyfunc); err != nil {
			return err
		}
		return c.roles()
	}
}

// jwx v3: jwk.Cache (httprc) + jwt.Parse with the cached set, issuer,
// audience, required exp, typ claim value, and the roles decoded as typed
// claims. The key's alg from the JWKS pins the algorithm.
type realmAccess struct {
	Roles []string `json:"roles"`
}

func newJWX(tb testing.TB, srv *fixture.Server, _ string) verifyFunc {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	c, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Register(ctx, srv.JWKSURL()); err != nil {
		tb.Fatal(err)
	}
	set, err := c.CachedSet(srv.JWKSURL())
	if err != nil {
		tb.Fatal(err)
	}
	opts := []jwxjwt.ParseOption{
		jwxjwt.WithKeySet(set),
		jwxjwt.WithValidate(true),
		jwxjwt.WithIssuer(fixture.Issuer),
		jwxjwt.WithAudience(fixture.Audience),
		jwxjwt.WithRequiredClaim("exp"),
		jwxjwt.WithClaimValue("typ", "Bearer"),
		jwxjwt.WithTypedClaim("realm_access", realmAccess{}),
		jwxjwt.WithTypedClaim("resource_access", map[string]realmAccess{}),
	}
	return func(_ context.Context, token string) error {
		t, err := jwxjwt.ParseString(token, opts...)
		if err != nil {
			return err
		}
		var ra realmAccess
		var rs map[string]realmAccess
		if err := t.Get("realm_access", &ra); err != nil {
			return err
		}
		if err := t.Get("resource_access", &rs); err != nil {
			return err
		}
		if !slices.Contains(ra.Roles, "user") || !slices.Contains(rs[fixture.Audience].Roles, "reader") {
			return errRoles
		}
		return nil
	}
}

// auth0 go-jwt-middleware v2: jwks.CachingProvider (5 min TTL) + validator
// with issuer, audience, the one algorithm, and custom claims whose
// Validate checks typ. exp is checked when present, not required.
type auth0Claims struct{ kcClaims }

func (c *auth0Claims) Validate(context.Context) error { return c.typ() }

func newAuth0Validator(tb testing.TB, srv *fixture.Server, alg string) *validator.Validator {
	issuer, _ := url.Parse(fixture.Issuer)
	jwksURL, _ := url.Parse(srv.JWKSURL())
	p := jwks.NewCachingProvider(issuer, 5*time.Minute, jwks.WithCustomJWKSURI(jwksURL))
	v, err := validator.New(p.KeyFunc, validator.SignatureAlgorithm(alg), fixture.Issuer,
		[]string{fixture.Audience},
		validator.WithCustomClaims(func() validator.CustomClaims { return &auth0Claims{} }),
		validator.WithAllowedClockSkew(30*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func newAuth0(tb testing.TB, srv *fixture.Server, alg string) verifyFunc {
	v := newAuth0Validator(tb, srv, alg)
	return func(ctx context.Context, token string) error {
		res, err := v.ValidateToken(ctx, token)
		if err != nil {
			return err
		}
		return auth0Roles(res)
	}
}

// auth0Roles checks the roles in what the validator returned.
func auth0Roles(res any) error {
	vc, ok := res.(*validator.ValidatedClaims)
	if !ok {
		return fmt.Errorf("bench: auth0 returned %T", res)
	}
	c, ok := vc.CustomClaims.(*auth0Claims)
	if !ok {
		return errRoles
	}
	return c.roles()
}
