package oidc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// Mode selects the rules that tell an access token from the other JWTs an
// issuer signs with the same keys (RFC 8725 §3.11, §3.12).
type Mode int

const (
	// ModeKeycloak, the zero value, requires the payload typ "Bearer" or
	// "DPoP" (Keycloak marks every token kind in the payload) and a header
	// typ that is absent, "JWT" or "at+jwt" ("application/at+jwt").
	ModeKeycloak Mode = iota
	// ModeRFC9068 requires the header typ "at+jwt" (or
	// "application/at+jwt") and the claims RFC 9068 §2.2 makes mandatory:
	// iss, exp, aud, sub, client_id, iat, jti. A payload typ, when present,
	// must still be "Bearer" or "DPoP".
	ModeRFC9068
)

// Defaults and bounds of VerifierConfig, documented on its fields.
const (
	defaultLeeway        = 30 * time.Second
	maxLeeway            = 5 * time.Minute
	defaultCacheEntries  = 4096
	defaultCacheTTL      = 5 * time.Minute
	defaultLogoutMaxAge  = 5 * time.Minute
	maxCacheEntriesLimit = 1 << 22
)

// VerifierConfig configures a Verifier. The zero value of every optional
// field is a safe default; Issuer, Keys and an audience rule are required.
type VerifierConfig struct {
	// Issuer is compared byte for byte with the iss claim.
	Issuer string
	// Keys provides the issuer's verification keys (a RemoteKeySet in
	// production, a StaticKeySet in tests). Keys must belong to Issuer only.
	Keys KeySource

	// Audience: the token's aud must contain at least one of these values.
	Audience []string
	// AuthorizedParties: the token's azp must be one of these values
	// (Keycloak puts the client a token was issued to in azp; aud is often
	// just "account").
	AuthorizedParties []string
	// RequireAudienceAndParty makes both rules above apply when both are
	// set; by default either one suffices.
	RequireAudienceAndParty bool
	// InsecureSkipAudienceCheck accepts tokens issued for any client of the
	// issuer. Without it, Audience or AuthorizedParties must be set. Only
	// for issuers that serve nothing but this API.
	InsecureSkipAudienceCheck bool

	// Algorithms is the allow-list of JWS algorithms (RFC 8725 §3.1).
	// nil means RS256 only, Keycloak's default. Only asymmetric algorithms
	// exist here; the header alg must also equal the key's pinned alg.
	Algorithms []string
	// Mode selects how an access token is recognised; zero is ModeKeycloak.
	Mode Mode

	// Leeway tolerates clock skew for exp, nbf and iat. Zero means 30 s, a
	// negative value means none; at most 5 minutes.
	Leeway time.Duration
	// MaxTokenBytes caps a token's length, checked before any decoding.
	// Zero means 16 KiB (Keycloak access tokens with many roles stay well
	// below it); at most 64 KiB. The encoded header is capped at 8 KiB in
	// any case.
	MaxTokenBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// Cache configures the verified-token cache.
	Cache CacheConfig
	// Logout configures VerifyLogoutToken.
	Logout LogoutTokenConfig
	// AdminResources are the client ids accepted as the resource of a
	// Keycloak admin message (VerifyAdminAction). Empty means Audience and
	// AuthorizedParties.
	AdminResources []string
}

// CacheConfig configures the verified-token cache that answers repeats of a
// token without crypto. An entry is found by a keyed hash of the token's
// signing input (header and payload) and answers only the exact token that
// was verified (the whole string is compared), lives at most until the
// token's exp and MaxTTL, and exp and nbf are checked again on every hit.
// An entry costs about the token size times 2.5 of memory.
type CacheConfig struct {
	// Disabled turns the cache off.
	Disabled bool
	// MaxEntries bounds the number of cached tokens; zero means 4096. The
	// least recently used entry is evicted.
	MaxEntries int
	// MaxTTL bounds an entry's lifetime; zero means 5 minutes.
	MaxTTL time.Duration
}

// LogoutTokenConfig configures VerifyLogoutToken.
type LogoutTokenConfig struct {
	// Audience: the logout token's aud must contain one of these client ids
	// (Keycloak sends the id of the client whose back-channel logout URL
	// was called). Empty means VerifierConfig.Audience and
	// AuthorizedParties.
	Audience []string
	// MaxAge bounds how old iat may be; zero means 5 minutes. Keycloak sets
	// exp = iat + 120 s.
	MaxAge time.Duration
	// AllowMissingTyp accepts a logout token without a header typ, for
	// providers that predate "logout+jwt". Keycloak 25+ always sends it.
	AllowMissingTyp bool
}

// Verifier verifies access tokens, back-channel logout tokens and Keycloak
// admin messages of one issuer. It is safe for concurrent use; it starts no
// goroutine and needs no Close.
type Verifier struct {
	issuer        string
	keys          KeySource
	audience      []string
	parties       []string
	both          bool
	skipAudience  bool
	algs          jose.AlgSet
	mode          Mode
	leeway        time.Duration
	maxBytes      int
	now           func() time.Time
	cache         *tokenCache
	keyGen        func() uint64 // the key set's load generation; nil when it has none
	logoutAud     []string
	logoutMaxAge  time.Duration
	logoutNoTyp   bool
	adminResource []string
}

// NewVerifier checks cfg and returns a Verifier. cfg is copied.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oidc: verifier needs an issuer")
	}
	if cfg.Keys == nil {
		return nil, errors.New("oidc: verifier needs a key source")
	}
	if len(cfg.Audience) == 0 && len(cfg.AuthorizedParties) == 0 && !cfg.InsecureSkipAudienceCheck {
		return nil, errors.New("oidc: verifier needs Audience or AuthorizedParties (or InsecureSkipAudienceCheck)")
	}
	if cfg.RequireAudienceAndParty && (len(cfg.Audience) == 0 || len(cfg.AuthorizedParties) == 0) {
		return nil, errors.New("oidc: RequireAudienceAndParty needs both Audience and AuthorizedParties")
	}
	v := &Verifier{
		issuer:       cfg.Issuer,
		keys:         cfg.Keys,
		audience:     slices.Clone(cfg.Audience),
		parties:      slices.Clone(cfg.AuthorizedParties),
		both:         cfg.RequireAudienceAndParty,
		skipAudience: cfg.InsecureSkipAudienceCheck,
		mode:         cfg.Mode,
		now:          cfg.Now,
	}
	if cfg.Algorithms == nil {
		v.algs = jose.SetOf(jose.RS256)
	} else {
		set, err := newAlgSet(cfg.Algorithms)
		if err != nil {
			return nil, err
		}
		if set == 0 {
			return nil, errors.New("oidc: empty algorithm allow-list")
		}
		v.algs = set
	}
	if cfg.Mode != ModeKeycloak && cfg.Mode != ModeRFC9068 {
		return nil, errors.New("oidc: unknown verifier mode")
	}
	if v.leeway = config.Leeway(cfg.Leeway, defaultLeeway); v.leeway > maxLeeway {
		return nil, errors.New("oidc: leeway larger than 5 minutes")
	}
	switch {
	case cfg.MaxTokenBytes == 0:
		v.maxBytes = jose.DefaultMaxTokenBytes
	case cfg.MaxTokenBytes < 0 || cfg.MaxTokenBytes > maxTokenBytesLimit:
		return nil, errors.New("oidc: MaxTokenBytes out of range")
	default:
		v.maxBytes = cfg.MaxTokenBytes
	}
	if v.now == nil {
		v.now = time.Now
	}
	if g, ok := cfg.Keys.(interface{ generation() uint64 }); ok {
		v.keyGen = g.generation
	}
	if !cfg.Cache.Disabled {
		n, ttl := cfg.Cache.MaxEntries, cfg.Cache.MaxTTL
		if n == 0 {
			n = defaultCacheEntries
		}
		if ttl == 0 {
			ttl = defaultCacheTTL
		}
		if n < 0 || n > maxCacheEntriesLimit || ttl < 0 {
			return nil, errors.New("oidc: cache configuration out of range")
		}
		v.cache = newTokenCache(n, ttl)
	}
	v.logoutAud = slices.Clone(cfg.Logout.Audience)
	if len(v.logoutAud) == 0 {
		v.logoutAud = append(slices.Clone(cfg.Audience), cfg.AuthorizedParties...)
	}
	v.logoutMaxAge = cfg.Logout.MaxAge
	if v.logoutMaxAge == 0 {
		v.logoutMaxAge = defaultLogoutMaxAge
	}
	if v.logoutMaxAge < 0 {
		return nil, errors.New("oidc: negative logout max age")
	}
	v.logoutNoTyp = cfg.Logout.AllowMissingTyp
	v.adminResource = slices.Clone(cfg.AdminResources)
	if len(v.adminResource) == 0 {
		v.adminResource = append(slices.Clone(cfg.Audience), cfg.AuthorizedParties...)
	}
	return v, nil
}

// Issuer returns the configured issuer.
func (v *Verifier) Issuer() string { return v.issuer }

// Verify verifies an access token and returns its claims. The checks, in
// this order, all of which must pass: size and shape (three segments, header
// ≤ 8 KiB, canonical base64url without whitespace); the header (at most 256
// members and array elements, alg in the allow-list, no crit/b64/zip, typ
// per Mode); the key named by kid (from
// Keys) with its pinned alg; the signature; then the payload: strict claims
// decoding, exact iss, token kind per Mode (ID, refresh, offline and logout
// tokens are refused), audience rule, exp (required), nbf and iat against Now
// with the leeway. An unknown kid therefore costs only the header, and the
// claims decoder only sees payloads the issuer signed.
//
// A token verified before and still cached returns the same *Claims without
// crypto; the Claims must not be modified. A refusal is a *ValidationError
// wrapping one of the Err* sentinels; an error of the KeySource other than
// ErrUnknownKey (ErrKeysUnavailable, a context error) is returned unchanged.
// No error contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	now := v.now()
	gen := v.generation()
	if v.cache != nil {
		if c := v.cache.get(token, now, gen); c != nil {
			return c, nil
		}
	}
	c, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, c, now, v.leeway, gen)
	}
	return c, nil
}

// generation returns the load generation of the key set (read before a
// verification, so that a reload during it invalidates the entry).
func (v *Verifier) generation() uint64 {
	if v.keyGen == nil {
		return 0
	}
	return v.keyGen()
}

// cached returns the cached claims for token, or nil.
func (v *Verifier) cached(token string, now time.Time) *Claims {
	if v.cache == nil {
		return nil
	}
	return v.cache.get(token, now, v.generation())
}

// Forget removes token from the verified-token cache, so that its next use
// is verified again (and meets the deny-list). It forgets the verified
// content, the token's header and payload, whatever signature the cached
// spelling carries: an ES256 signature (r, s) has a twin (r, n−s) that
// verifies too, and forgetting either spelling forgets both.
func (v *Verifier) Forget(token string) {
	if v.cache != nil {
		v.cache.forget(token)
	}
}

// ForgetFunc removes every cached token whose claims satisfy match (for
// example all tokens of a session or a subject after a logout) and returns
// how many were removed. match runs under a cache lock and must not call
// back into the Verifier.
func (v *Verifier) ForgetFunc(match func(*Claims) bool) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.forgetFunc(match)
}

// ForgetAll empties the verified-token cache.
func (v *Verifier) ForgetAll() {
	if v.cache != nil {
		v.cache.purge()
	}
}

// typIs compares a media type as RFC 7515 §4.1.9 asks: case-insensitively
// and with an optional "application/" prefix.
func typIs(typ, want string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want)
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*Claims, error) {
	var x jose.Extras
	c, err := v.openClaims(ctx, token, v.accessTyp, &x)
	if err != nil {
		return nil, err
	}
	if x.Events {
		return nil, explain(ErrWrongType, "events", absent+" (an access token)", "a logout token's events")
	}
	switch v.mode {
	case ModeKeycloak:
		if c.Type != "Bearer" && c.Type != "DPoP" {
			return nil, explain(ErrWrongType, "typ", `"Bearer" or "DPoP"`, quoteClaim(c.Type))
		}
		if !x.HasIat {
			return nil, missing("iat")
		}
	case ModeRFC9068:
		if c.Type != "" && c.Type != "Bearer" && c.Type != "DPoP" {
			return nil, explain(ErrWrongType, "typ", `"Bearer", "DPoP" or absent`, quoteClaim(c.Type))
		}
		switch {
		case !x.HasIat:
			return nil, missing("iat")
		case c.Subject == "":
			return nil, missing("sub")
		case c.ClientID == "":
			return nil, missing("client_id")
		case c.ID == "":
			return nil, missing("jti")
		case len(c.Audience) == 0:
			return nil, missing("aud")
		}
	}
	if !x.HasExp {
		return nil, missing("exp")
	}
	if err := v.checkAudience(c); err != nil {
		return nil, err
	}
	if err := v.checkTimes(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// quoteClaim renders a string claim of the token for an explanation.
func quoteClaim(s string) string {
	if s == "" {
		return absent
	}
	return jose.QuoteValue(s)
}

// openClaims opens a token of this issuer: the signature layer with the
// header typ checked by typ, then the strict claims decoder and the exact
// issuer.
func (v *Verifier) openClaims(ctx context.Context, token string, typ func(*jose.Header) error, x *jose.Extras) (*Claims, error) {
	text, err := openJWS(ctx, v.keys, token, v.maxBytes, v.algs, typ)
	if err != nil {
		return nil, err
	}
	c, err := decodeClaims(text, x)
	if err != nil {
		return nil, err
	}
	if c.Issuer != v.issuer {
		return nil, explain(ErrWrongIssuer, "iss", jose.QuoteValue(v.issuer), quoteClaim(c.Issuer))
	}
	return c, nil
}

// headerTyp renders a header typ for an explanation.
func headerTyp(h *jose.Header) string {
	if !h.HasTyp {
		return absent
	}
	return jose.QuoteValue(h.Typ)
}

// accessTyp checks the header typ of an access token per Mode.
func (v *Verifier) accessTyp(h *jose.Header) error {
	switch v.mode {
	case ModeKeycloak:
		if h.HasTyp && !typIs(h.Typ, "JWT") && !typIs(h.Typ, "at+jwt") {
			return explain(ErrWrongType, "header.typ", `"JWT", "at+jwt" or absent`, headerTyp(h))
		}
	case ModeRFC9068:
		if !h.HasTyp || !typIs(h.Typ, "at+jwt") {
			return explain(ErrWrongType, "header.typ", `"at+jwt"`, headerTyp(h))
		}
	}
	return nil
}

// checkAudience applies the audience rule; its refusal names the rule and
// the token's aud and azp.
func (v *Verifier) checkAudience(c *Claims) error {
	if v.skipAudience {
		return nil
	}
	audOK := len(v.audience) > 0 && containsAny(c.Audience, v.audience)
	azpOK := len(v.parties) > 0 && c.AuthorizedParty != "" && slices.Contains(v.parties, c.AuthorizedParty)
	switch {
	case v.both && audOK && azpOK, !v.both && (audOK || azpOK):
		return nil
	case len(v.parties) == 0 || v.both && !audOK:
		return explain(ErrWrongAudience, "aud", jose.OneOf(v.audience)+" in aud", jose.QuoteList(c.Audience))
	case len(v.audience) == 0 || v.both:
		return explain(ErrWrongAudience, "azp", jose.OneOf(v.parties), quoteClaim(c.AuthorizedParty))
	}
	return explain(ErrWrongAudience, "aud", jose.OneOf(v.audience)+" in aud, or azp "+jose.OneOf(v.parties),
		"aud "+jose.QuoteList(c.Audience)+", azp "+quoteClaim(c.AuthorizedParty))
}

func containsAny(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// checkTimes applies exp, nbf and iat with the leeway.
func (v *Verifier) checkTimes(c *Claims, now time.Time) error {
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return explain(ErrExpired, "exp", jose.After(now, v.leeway), jose.Time(c.Expiry))
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return explain(ErrNotYetValid, "nbf", jose.NotAfter(now, v.leeway), jose.Time(c.NotBefore))
	}
	if !c.IssuedAt.IsZero() && now.Add(v.leeway).Before(c.IssuedAt) {
		return explain(ErrNotYetValid, "iat", jose.NotAfter(now, v.leeway), jose.Time(c.IssuedAt))
	}
	return nil
}
