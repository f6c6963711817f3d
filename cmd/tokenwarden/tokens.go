package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// tokenExitCode classifies the errors of the oidc and introspect packages.
func tokenExitCode(err error) int {
	switch {
	case errors.Is(err, introspect.ErrConfig), errors.Is(err, oidc.ErrInsecureURL):
		return exitUsage
	case errors.Is(err, introspect.ErrUnavailable), errors.Is(err, introspect.ErrInvalidResponse),
		errors.Is(err, oidc.ErrKeysUnavailable), errors.Is(err, oidc.ErrDiscovery):
		return exitUnavailable
	case errors.Is(err, introspect.ErrClientAuth):
		return exitRefused
	case errors.Is(err, introspect.ErrInactive), errors.Is(err, introspect.ErrRejected):
		return exitRejected
	case errors.Is(err, oidc.ErrMalformed), errors.Is(err, oidc.ErrAlgorithm), errors.Is(err, oidc.ErrBadSignature),
		errors.Is(err, oidc.ErrExpired), errors.Is(err, oidc.ErrNotYetValid), errors.Is(err, oidc.ErrWrongIssuer),
		errors.Is(err, oidc.ErrWrongAudience), errors.Is(err, oidc.ErrWrongType), errors.Is(err, oidc.ErrUnknownKey):
		return exitRejected
	}
	var ie *introspect.Error
	if errors.As(err, &ie) {
		return exitRefused
	}
	return exitUnavailable
}

// discover fetches the issuer's metadata through the oidc package, and
// returns it with the HTTP client it used, for the requests that follow.
// When --keycloak-url names another host than the issuer's, it is where
// this process reaches Keycloak (oidc.DiscoveryConfig.InternalURL).
func (o *options) discover(ctx context.Context) (*oidc.Discovery, *http.Client, error) {
	_, _, issuer, err := o.endpoint()
	if err != nil {
		return nil, nil, err
	}
	hc, err := o.httpClient()
	if err != nil {
		return nil, nil, err
	}
	cfg := oidc.DiscoveryConfig{
		Issuer:            issuer,
		HTTPClient:        hc,
		InsecureAllowHTTP: o.allowHTTP(issuer),
		Timeout:           o.timeout,
	}
	if o.issuer != "" && o.keycloakURL != "" {
		iu, _ := url.Parse(issuer)
		ku, _ := url.Parse(o.keycloakURL)
		if iu != nil && ku != nil && iu.Host != ku.Host {
			cfg.InternalURL = ku.Scheme + "://" + ku.Host
			cfg.InsecureAllowHTTP = cfg.InsecureAllowHTTP || o.allowHTTP(o.keycloakURL)
		}
	}
	disc, err := oidc.Discover(ctx, cfg)
	return disc, hc, err
}

// allowHTTP permits plain http for loopback hosts, as the introspect
// package does, and for any host with --insecure-allow-http.
func (o *options) allowHTTP(raw string) bool {
	if o.insecureHTTP {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return isLoopback(u.Hostname())
}

func viewOf(c *oidc.Claims) claimsView {
	v := claimsView{
		Issuer:            c.Issuer,
		Subject:           c.Subject,
		PreferredUsername: c.PreferredUsername,
		Email:             c.Email,
		Audience:          slices.Clone(c.Audience),
		AuthorizedParty:   c.AuthorizedParty,
		ClientID:          c.ClientID,
		Type:              c.Type,
		ID:                c.ID,
		SessionID:         c.SessionID,
		IssuedAt:          c.IssuedAt.UTC(),
		Expiry:            c.Expiry.UTC(),
		NotBefore:         c.NotBefore.UTC(),
		AuthTime:          c.AuthTime.UTC(),
		Scope:             c.Scopes(),
		RealmRoles:        slices.Clone(c.RealmRoles),
		ClientRoles:       map[string][]string{},
	}
	if v.Audience == nil {
		v.Audience = []string{}
	}
	if v.Scope == nil {
		v.Scope = []string{}
	}
	if v.RealmRoles == nil {
		v.RealmRoles = []string{}
	}
	for k, roles := range c.ClientRoles {
		v.ClientRoles[k] = slices.Clone(roles)
	}
	if c.Confirmation != nil {
		v.ConfirmationJKT = c.Confirmation.JKT
	}
	return v
}

// tokenVerdict is what verify and introspect print, as text or JSON.
type tokenVerdict struct {
	Valid     *bool       `json:"valid,omitempty"`  // verify
	Active    *bool       `json:"active,omitempty"` // introspect
	Error     string      `json:"error,omitempty"`
	Rejected  bool        `json:"rejected,omitempty"` // introspect: active at the issuer, refused by this tool's checks
	Username  string      `json:"username,omitempty"`
	TokenType string      `json:"token_type,omitempty"`
	Claims    *claimsView `json:"claims,omitempty"`
	// verify --explain
	Configuration *explainConfig `json:"configuration,omitempty"`
	Checks        []checkResult  `json:"checks,omitempty"`
}

func (a *app) printVerdict(asJSON bool, v tokenVerdict) error {
	if asJSON {
		return writeJSON(a.stdout, v)
	}
	var head string
	switch {
	case v.Valid != nil && *v.Valid:
		head = "valid: signature, issuer, audience, expiry and type check out offline (revocation is not checked: use introspect)"
	case v.Valid != nil:
		head = "invalid: " + v.Error
	case v.Active != nil && *v.Active:
		head = "active: the issuer reports the token usable"
	case v.Rejected:
		head = "rejected: " + v.Error
	default:
		head = "inactive: " + v.Error
	}
	if _, err := fmt.Fprintln(a.stdout, head); err != nil {
		return err
	}
	if v.Configuration != nil {
		if err := printExplain(a.stdout, *v.Configuration, v.Checks); err != nil {
			return err
		}
	}
	if v.Claims != nil {
		return printClaims(a.stdout, *v.Claims, a.now())
	}
	return nil
}

// nonNil returns s, or an empty slice for nil (a JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// ---- verify ----

func verifyFlags(o *options, fs *flag.FlagSet, a *app) {
	o.connFlags(fs, a)
	fs.StringVar(&o.clientID, "client-id", a.getenv("TOKENWARDEN_CLIENT_ID"), "the API's client `id`: the default audience (env TOKENWARDEN_CLIENT_ID)")
	fs.StringVar(&o.audience, "audience", a.getenv("TOKENWARDEN_AUDIENCE"), "`list` of accepted aud values, comma-separated; default the client id (env TOKENWARDEN_AUDIENCE)")
	fs.StringVar(&o.parties, "authorized-party", "", "`list` of accepted azp values, comma-separated (either rule suffices)")
	fs.StringVar(&o.algorithms, "algorithms", "RS256", "`list` of accepted JWS algorithms, comma-separated")
	fs.BoolVar(&o.rfc9068, "rfc9068", false, "require RFC 9068 access tokens (header typ at+jwt) instead of Keycloak's payload typ Bearer/DPoP")
	fs.BoolVar(&o.explain, "explain", false, "print every check with ok or failed, the value expected and the value presented, and the configuration checked against")
	o.tokenFlags(fs, "")
}

func runVerify(ctx context.Context, x *invocation) int {
	o, a := &x.o, x.app
	aud := splitList(o.audience)
	if len(aud) == 0 && o.clientID != "" {
		aud = []string{o.clientID}
	}
	azp := splitList(o.parties)
	if len(aud) == 0 && len(azp) == 0 {
		return x.report(usagef("verify needs the audience: set --audience (TOKENWARDEN_AUDIENCE) or --client-id"))
	}
	token, err := o.readToken(a)
	if err != nil {
		return x.report(err)
	}
	disc, _, err := o.discover(ctx)
	if err != nil {
		return x.report(err)
	}
	keys, err := disc.NewRemoteKeySet(oidc.KeySetConfig{Algorithms: splitList(o.algorithms), Timeout: o.timeout})
	if err != nil {
		return x.report(err)
	}
	defer keys.Close()
	mode := oidc.ModeKeycloak
	if o.rfc9068 {
		mode = oidc.ModeRFC9068
	}
	v, err := oidc.NewVerifier(oidc.VerifierConfig{
		Issuer:            disc.Issuer,
		Keys:              keys,
		Audience:          aud,
		AuthorizedParties: azp,
		Algorithms:        splitList(o.algorithms),
		Mode:              mode,
		Now:               a.now,
		Cache:             oidc.CacheConfig{Disabled: true},
	})
	if err != nil {
		return x.report(usagef("%v", err))
	}
	claims, err := v.Verify(ctx, token)
	var verdict tokenVerdict
	if o.explain {
		ex := &explainer{keys: keys, mode: mode, algs: jose.AllAlgs(), cfg: explainConfig{
			Issuer: disc.Issuer, JWKSURI: disc.JWKSURI, Audience: nonNil(aud), AuthorizedParties: nonNil(azp),
			Algorithms: splitList(o.algorithms), Mode: "keycloak", Leeway: verifyLeeway.String(), Now: a.now().UTC(),
		}}
		if o.rfc9068 {
			ex.cfg.Mode = "rfc9068"
		}
		if set, perr := jose.ParseAlgSet(ex.cfg.Algorithms); perr == nil {
			ex.algs = set
		}
		ex.run(ctx, token, err)
		ex.cfg.Keys = keys.Stats().Keys
		verdict.Configuration, verdict.Checks = &ex.cfg, ex.checks
	}
	if err != nil {
		valid := false
		verdict.Valid, verdict.Error = &valid, err.Error()
		return x.verdict(err, verdict)
	}
	valid := true
	view := viewOf(claims)
	verdict.Valid, verdict.Claims = &valid, &view
	return x.report(a.printVerdict(o.jsonOut, verdict))
}

// verdict reports err, unless it rejects the token: then it prints v and
// exits 1.
func (x *invocation) verdict(err error, v tokenVerdict) int {
	if exitCode(err) != exitRejected {
		return x.report(err)
	}
	if perr := x.printVerdict(x.o.jsonOut, v); perr != nil {
		return x.report(perr)
	}
	return exitRejected
}

// ---- introspect ----

func (o *options) introspectClient(ctx context.Context, a *app, withIntrospection bool) (*introspect.Client, error) {
	if o.clientID == "" {
		return nil, usagef("no client: set --client-id (TOKENWARDEN_CLIENT_ID)")
	}
	secret, err := o.clientSecret(a)
	if err != nil {
		return nil, err
	}
	if withIntrospection && secret == "" {
		return nil, usagef("introspection needs the client secret: set --client-secret-file or TOKENWARDEN_CLIENT_SECRET")
	}
	disc, hc, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	cfg := introspect.Config{
		ClientID:          o.clientID,
		ClientSecret:      secret,
		HTTPClient:        hc,
		Now:               a.now,
		InsecureAllowHTTP: o.insecureHTTP,
	}
	if withIntrospection {
		cfg.Audience = splitList(o.audience)
		cfg.InsecureSkipAudienceCheck = o.anyAudience
	}
	cfg = introspect.ConfigFromDiscovery(disc, cfg)
	if withIntrospection {
		cfg.RevocationURL = ""
		if cfg.IntrospectionURL == "" {
			return nil, fmt.Errorf("%w: the issuer advertises no introspection_endpoint", oidc.ErrDiscovery)
		}
	} else {
		cfg.IntrospectionURL = ""
		if cfg.RevocationURL == "" {
			return nil, fmt.Errorf("%w: the issuer advertises no revocation_endpoint", oidc.ErrDiscovery)
		}
	}
	return introspect.New(cfg)
}

func introspectFlags(o *options, fs *flag.FlagSet, a *app) {
	o.connFlags(fs, a)
	o.clientFlags(fs, a)
	fs.StringVar(&o.audience, "audience", a.getenv("TOKENWARDEN_AUDIENCE"), "`list` of values, one of which an active answer's aud must contain, comma-separated; default the client id (env TOKENWARDEN_AUDIENCE)")
	fs.BoolVar(&o.anyAudience, "any-audience", false, "accept an active answer whatever its aud (e.g. to inspect a refresh token)")
	o.tokenFlags(fs, "")
}

func runIntrospect(ctx context.Context, x *invocation) int {
	ic, token, code := x.tokenClient(ctx, true)
	if ic == nil {
		return code
	}
	res, err := ic.Introspect(ctx, token, x.o.hint)
	if err != nil {
		active := false
		rejected := errors.Is(err, introspect.ErrRejected) && !errors.Is(err, introspect.ErrInactive)
		return x.verdict(err, tokenVerdict{Active: &active, Rejected: rejected, Error: inactiveReason(err)})
	}
	active := true
	view := viewOf(res.Claims)
	return x.report(x.printVerdict(x.o.jsonOut, tokenVerdict{
		Active: &active, Username: res.Username, TokenType: res.TokenType, Claims: &view,
	}))
}

// tokenClient reads the token and builds the introspection client (or,
// without introspection, the revocation client). A nil client means the
// command exits with code.
func (x *invocation) tokenClient(ctx context.Context, introspection bool) (*introspect.Client, string, int) {
	token, err := x.o.readToken(x.app)
	if err != nil {
		return nil, "", x.report(err)
	}
	ic, err := x.o.introspectClient(ctx, x.app, introspection)
	if err != nil {
		return nil, "", x.report(err)
	}
	return ic, token, exitOK
}

// inactiveReason shortens ErrInactive's long text to what the operator needs.
func inactiveReason(err error) string {
	if errors.Is(err, introspect.ErrInactive) && !errors.Is(err, introspect.ErrRejected) {
		return "the issuer answered {\"active\":false} (revoked, expired, ended session, disabled user, " +
			"or this client is not in the token's aud)"
	}
	return err.Error()
}

// ---- revoke ----

func revokeFlags(o *options, fs *flag.FlagSet, a *app) {
	o.connFlags(fs, a)
	o.clientFlags(fs, a)
	o.tokenFlags(fs, "")
}

func runRevoke(ctx context.Context, x *invocation) int {
	ic, token, code := x.tokenClient(ctx, false)
	if ic == nil {
		return code
	}
	if err := ic.Revoke(ctx, token, x.o.hint); err != nil {
		return x.report(err)
	}
	const note = "an unknown or already invalid token gets the same answer (RFC 7009)"
	if x.o.jsonOut {
		return x.report(writeJSON(x.stdout, struct {
			Revoked bool   `json:"revoked"`
			Note    string `json:"note"`
		}{true, note}))
	}
	_, err := fmt.Fprintf(x.stdout, "revoked: the issuer accepted the revocation; %s\n", note)
	return x.report(err)
}

// ---- status ----

type statusResult struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	Keys                  int    `json:"keys"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint    string `json:"revocation_endpoint,omitempty"`
	EndSessionEndpoint    string `json:"end_session_endpoint,omitempty"`
	BackchannelLogout     bool   `json:"backchannel_logout_supported"`
	BackchannelSession    bool   `json:"backchannel_logout_session_supported"`
}

func statusFlags(o *options, fs *flag.FlagSet, a *app) { o.connFlags(fs, a) }

func runStatus(ctx context.Context, x *invocation) int {
	o := &x.o
	disc, _, err := o.discover(ctx)
	if err != nil {
		return x.report(err)
	}
	keys, err := disc.NewRemoteKeySet(oidc.KeySetConfig{Timeout: o.timeout})
	if err != nil {
		return x.report(err)
	}
	defer keys.Close()
	if err := keys.Refresh(ctx); err != nil {
		return x.report(fmt.Errorf("%w: %w", oidc.ErrKeysUnavailable, err))
	}
	res := statusResult{
		Issuer:                disc.Issuer,
		JWKSURI:               disc.JWKSURI,
		Keys:                  keys.Stats().Keys,
		IntrospectionEndpoint: disc.IntrospectionEndpoint,
		RevocationEndpoint:    disc.RevocationEndpoint,
		EndSessionEndpoint:    disc.EndSessionEndpoint,
		BackchannelLogout:     disc.BackchannelLogoutSupported,
		BackchannelSession:    disc.BackchannelLogoutSessionSupported,
	}
	if o.jsonOut {
		return x.report(writeJSON(x.stdout, res))
	}
	return x.report(printStatus(x.stdout, res))
}
