package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("capacitor-backend: invalid configuration")

// Introspection policies accepted by TOKENWARDEN_INTROSPECT.
const (
	// IntrospectDegraded introspects only while the deny-list is degraded
	// (the adapter's default).
	IntrospectDegraded = "degraded"
	// IntrospectAlways introspects every request.
	IntrospectAlways = "always"
	// IntrospectSensitive introspects the routes under /api/admin/.
	IntrospectSensitive = "sensitive"
)

// Config is the backend's configuration. ConfigFromEnv reads it from the
// environment; the zero value of every field but Issuer is a usable default.
type Config struct {
	// Issuer is the realm's issuer, exactly as in the tokens' iss.
	Issuer string
	// InternalURL is the scheme://host[:port] at which this process reaches
	// Keycloak when that differs from the issuer's host (a Docker network).
	InternalURL string
	// Audience is the client id that must be in the access tokens' aud
	// (the mobile client's audience mapper adds it). Default "backend".
	Audience string
	// ClientSecret is the secret of the Audience client, which introspects
	// (Keycloak 26.6.2+ answers inactive to a client not in the token's
	// aud). Without a secret there is no introspection: a request that needs
	// it is answered 503.
	ClientSecret string
	// MobileClientID is the public client the app logs in with: its refresh
	// tokens are revoked at logout, and Keycloak's back-channel logout tokens
	// are addressed to it. Default "mobile".
	MobileClientID string
	// DPoPClientID is the public client of an app whose tokens are bound to
	// its key (DPoP, RFC 9449), served like MobileClientID. Default
	// "mobile-dpop".
	DPoPClientID string
	// DPoP is DPoPAllow (default: DPoP-bound tokens with their proofs and
	// Bearer tokens without a binding) or DPoPRequire (every route refuses
	// Bearer tokens). A DPoP-bound token is never accepted as Bearer.
	DPoP string
	// PublicURL is the scheme://host[:port] at which the app reaches the
	// API, e.g. https://api.example.com: a DPoP proof's htu is compared with
	// it. Set it behind a proxy; empty means what the connection shows.
	PublicURL string
	// DPoPNonceSecret, when set (at least 32 bytes, the same on every
	// replica), makes DPoP proofs carry a server nonce (RFC 9449 §9).
	DPoPNonceSecret []byte
	// RedisURL, when set, shares the deny-list between replicas through
	// Redis; empty means the in-process Memory store.
	RedisURL string
	// RedisKeyPrefix names the deny-list in Redis; replicas sharing one use
	// the same prefix. Default "tw".
	RedisKeyPrefix string
	// Introspect is one of IntrospectDegraded (default), IntrospectAlways,
	// IntrospectSensitive, or a Go duration: introspect tokens older than it.
	Introspect string
	// Listen is the listen address. Default 127.0.0.1:8081.
	Listen string
	// CORSOrigins are the origins allowed to call the API from a WebView.
	// Default capacitor://localhost (iOS) and https://localhost (Android).
	CORSOrigins []string
	// InsecureAllowHTTP permits a plain http issuer that is not on a
	// loopback address (a loopback one is always allowed).
	InsecureAllowHTTP bool
	// RequireKeysAtStart makes New fail when the realm's signing keys
	// cannot be fetched, instead of starting and answering 503 until they
	// can (adapter.Config.RequireKeysAtStart).
	RequireKeysAtStart bool
	// LogLevel is the slog level; default info.
	LogLevel slog.Level
	// ShutdownTimeout bounds the graceful shutdown. Default 10 s.
	ShutdownTimeout time.Duration
}

// DPoP policies accepted by TOKENWARDEN_DPOP.
const (
	DPoPAllow   = "allow"
	DPoPRequire = "require"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvIssuer           = "TOKENWARDEN_ISSUER"
	EnvKeycloakURL      = "KEYCLOAK_URL"
	EnvKeycloakRealm    = "KEYCLOAK_REALM"
	EnvInternalURL      = "TOKENWARDEN_INTERNAL_URL"
	EnvAudience         = "TOKENWARDEN_AUDIENCE"
	EnvClientSecret     = "TOKENWARDEN_CLIENT_SECRET"
	EnvClientSecretFile = "TOKENWARDEN_CLIENT_SECRET_FILE"
	EnvMobileClientID   = "TOKENWARDEN_MOBILE_CLIENT_ID"
	EnvDPoPClientID     = "TOKENWARDEN_DPOP_CLIENT_ID"
	EnvDPoP             = "TOKENWARDEN_DPOP"
	EnvPublicURL        = "TOKENWARDEN_PUBLIC_URL"
	EnvDPoPNonceFile    = "TOKENWARDEN_DPOP_NONCE_SECRET_FILE"
	EnvRedisURL         = "REDIS_URL"
	EnvRedisKeyPrefix   = "TOKENWARDEN_REDIS_PREFIX"
	EnvIntrospect       = "TOKENWARDEN_INTROSPECT"
	EnvListen           = "TOKENWARDEN_LISTEN"
	EnvCORSOrigins      = "TOKENWARDEN_CORS_ORIGINS"
	EnvInsecureHTTP     = "TOKENWARDEN_INSECURE_HTTP"
	EnvLogLevel         = "TOKENWARDEN_LOG_LEVEL"
	EnvRequireKeys      = "TOKENWARDEN_REQUIRE_KEYS_AT_START"
)

// ConfigFromEnv reads the configuration through getenv (os.Getenv in main).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Issuer:         getenv(EnvIssuer),
		InternalURL:    getenv(EnvInternalURL),
		Audience:       getenv(EnvAudience),
		ClientSecret:   getenv(EnvClientSecret),
		MobileClientID: getenv(EnvMobileClientID),
		DPoPClientID:   getenv(EnvDPoPClientID),
		DPoP:           strings.ToLower(getenv(EnvDPoP)),
		PublicURL:      getenv(EnvPublicURL),
		RedisURL:       getenv(EnvRedisURL),
		RedisKeyPrefix: getenv(EnvRedisKeyPrefix),
		Introspect:     getenv(EnvIntrospect),
		Listen:         getenv(EnvListen),
	}
	if c.Issuer == "" {
		base, realm := getenv(EnvKeycloakURL), getenv(EnvKeycloakRealm)
		if base == "" || realm == "" {
			return c, fmt.Errorf("%w: set %s, or %s and %s", ErrConfig, EnvIssuer, EnvKeycloakURL, EnvKeycloakRealm)
		}
		c.Issuer = oidc.KeycloakIssuer(base, realm)
	}
	if f := getenv(EnvClientSecretFile); f != "" {
		if c.ClientSecret != "" {
			return c, fmt.Errorf("%w: set %s or %s, not both", ErrConfig, EnvClientSecret, EnvClientSecretFile)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("%w: %s: %w", ErrConfig, EnvClientSecretFile, err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	}
	if f := getenv(EnvDPoPNonceFile); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("%w: %s: %w", ErrConfig, EnvDPoPNonceFile, err)
		}
		c.DPoPNonceSecret = b
	}
	if v := getenv(EnvCORSOrigins); v != "" {
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
	}
	for _, b := range []struct {
		env string
		v   *bool
	}{{EnvInsecureHTTP, &c.InsecureAllowHTTP}, {EnvRequireKeys, &c.RequireKeysAtStart}} {
		switch strings.ToLower(getenv(b.env)) {
		case "", "0", "false":
		case "1", "true":
			*b.v = true
		default:
			return c, fmt.Errorf("%w: %s must be true or false", ErrConfig, b.env)
		}
	}
	if v := getenv(EnvLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("%w: %s: %w", ErrConfig, EnvLogLevel, err)
		}
	}
	return c.withDefaults()
}

func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		return c, fmt.Errorf("%w: no issuer", ErrConfig)
	}
	if c.Audience == "" {
		c.Audience = "backend"
	}
	if c.MobileClientID == "" {
		c.MobileClientID = "mobile"
	}
	if c.DPoPClientID == "" {
		c.DPoPClientID = "mobile-dpop"
	}
	switch c.DPoP {
	case "":
		c.DPoP = DPoPAllow
	case DPoPAllow, DPoPRequire:
	default:
		return c, fmt.Errorf("%w: %s must be %s or %s", ErrConfig, EnvDPoP, DPoPAllow, DPoPRequire)
	}
	if c.Introspect == "" {
		c.Introspect = IntrospectDegraded
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8081"
	}
	if c.CORSOrigins == nil {
		c.CORSOrigins = []string{"capacitor://localhost", "https://localhost"}
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if !c.InsecureAllowHTTP && loopbackHTTP(c.Issuer) && (c.InternalURL == "" || loopbackHTTP(c.InternalURL)) {
		c.InsecureAllowHTTP = true
	}
	if _, err := c.policyOlderThan(); err != nil {
		return c, err
	}
	return c, nil
}

// loopbackHTTP reports whether raw is an http URL on a loopback host: a
// Keycloak in development on this machine.
func loopbackHTTP(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// policyOlderThan returns the duration of a duration-valued Introspect.
func (c Config) policyOlderThan() (time.Duration, error) {
	switch c.Introspect {
	case IntrospectDegraded, IntrospectAlways, IntrospectSensitive:
		return 0, nil
	}
	d, err := time.ParseDuration(c.Introspect)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: %s must be %s, %s, %s or a positive duration", ErrConfig,
			EnvIntrospect, IntrospectDegraded, IntrospectAlways, IntrospectSensitive)
	}
	return d, nil
}
