package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// ErrDiscovery reports a failed OpenID Provider discovery.
var ErrDiscovery = errors.New("oidc: discovery failed")

// defaultMaxDiscoveryBytes caps a discovery document. Keycloak's is about
// 7 KiB.
const defaultMaxDiscoveryBytes = 256 << 10

// DiscoveryConfig configures Discover. The zero value of every field but
// Issuer is a usable default.
type DiscoveryConfig struct {
	// Issuer is the issuer identifier exactly as it appears in the iss claim
	// of tokens, e.g. "https://sso.example.com/realms/acme" (see
	// KeycloakIssuer). It is never rewritten: the iss check stays exact.
	Issuer string

	// InternalURL, when set, is the scheme://host[:port] at which this
	// process reaches the provider when that differs from the issuer's host,
	// e.g. "http://keycloak:8080" inside a Docker network while tokens say
	// "http://localhost:8080/realms/acme". Discovery, JWKS, token,
	// introspection, revocation and userinfo requests then go to this host;
	// browser-facing endpoints keep the issuer's host. The document fetched
	// this way may name either the issuer or its internal spelling as its
	// issuer (Keycloak answers with the host it was called on unless its
	// hostname is fixed); anything else fails discovery.
	InternalURL string

	// HTTPClient makes the requests; nil means a private client with a
	// timeout. It is never modified.
	HTTPClient *http.Client

	// InsecureAllowHTTP permits plain http issuer, internal and endpoint
	// URLs, for development only.
	InsecureAllowHTTP bool

	// Timeout bounds the discovery request. Default 10 s.
	Timeout time.Duration

	// MaxBodyBytes caps the discovery document. Default 256 KiB.
	MaxBodyBytes int64

	// Logger receives the endpoint rewrites made for InternalURL; nil
	// discards.
	Logger *slog.Logger
}

// Discovery is the provider metadata of one issuer (OpenID Connect Discovery
// 1.0 §3, RFC 8414 §2). Endpoint fields are ready to use from this process:
// back-channel endpoints (token, introspection, revocation, userinfo, JWKS)
// point at InternalURL when one is configured, browser-facing ones
// (authorization, end session) at the issuer's host. Empty means not
// advertised. A Discovery is immutable.
type Discovery struct {
	// Issuer is the configured issuer: the exact value to require in iss.
	Issuer string
	// AdvertisedIssuer is the issuer named by the document; it differs from
	// Issuer only with an InternalURL.
	AdvertisedIssuer string

	AuthorizationEndpoint string
	TokenEndpoint         string
	UserInfoEndpoint      string
	JWKSURI               string
	IntrospectionEndpoint string
	RevocationEndpoint    string
	EndSessionEndpoint    string

	BackchannelLogoutSupported        bool
	BackchannelLogoutSessionSupported bool

	TokenEndpointAuthMethods         []string
	IntrospectionEndpointAuthMethods []string
	RevocationEndpointAuthMethods    []string
	IDTokenSigningAlgs               []string

	provider  *gooidc.Provider
	client    *http.Client // the caller's client, unwrapped
	allowHTTP bool
	public    *url.URL // scheme+host of Issuer
	internal  *url.URL // scheme+host of InternalURL; nil when unset
}

// discoveryMetadata is what go-oidc's Provider does not expose.
type discoveryMetadata struct {
	Issuer                                    string   `json:"issuer"`
	AuthorizationEndpoint                     string   `json:"authorization_endpoint"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	UserInfoEndpoint                          string   `json:"userinfo_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	EndSessionEndpoint                        string   `json:"end_session_endpoint"`
	BackchannelLogoutSupported                bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported         bool     `json:"backchannel_logout_session_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IDTokenSigningAlgValuesSupported          []string `json:"id_token_signing_alg_values_supported"`
}

// KeycloakIssuer returns the issuer of a Keycloak realm:
// baseURL + "/realms/" + realm, e.g. KeycloakIssuer("http://localhost:8080",
// "acme") = "http://localhost:8080/realms/acme". A trailing slash on baseURL
// is dropped and the realm name is path-escaped.
func KeycloakIssuer(baseURL, realm string) string {
	return strings.TrimRight(baseURL, "/") + "/realms/" + url.PathEscape(realm)
}

// Discover fetches the issuer's discovery document through go-oidc's
// NewProvider (whose Provider stays available from Provider) and decodes the
// members go-oidc does not expose. The request is bounded by ctx, Timeout and
// MaxBodyBytes; redirects to another host are refused. Errors wrap
// ErrDiscovery (and ErrInsecureURL for a URL that is not allowed); the text
// says what failed: an issuer mismatch, the status, the body cap, a refused
// redirect.
func Discover(ctx context.Context, cfg DiscoveryConfig) (*Discovery, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultFetchTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxDiscoveryBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pub, err := checkURL(cfg.Issuer, cfg.InsecureAllowHTTP)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer: %w", ErrDiscovery, err)
	}
	if pub.RawQuery != "" {
		return nil, fmt.Errorf("%w: issuer has a query", ErrDiscovery)
	}
	d := &Discovery{
		Issuer:    cfg.Issuer,
		client:    cfg.HTTPClient,
		allowHTTP: cfg.InsecureAllowHTTP,
		public:    &url.URL{Scheme: pub.Scheme, Host: pub.Host},
	}
	fetchBase := cfg.Issuer
	if cfg.InternalURL != "" {
		in, err := checkURL(cfg.InternalURL, cfg.InsecureAllowHTTP)
		if err != nil {
			return nil, fmt.Errorf("%w: internal url: %w", ErrDiscovery, err)
		}
		if strings.Trim(in.Path, "/") != "" || in.RawQuery != "" {
			return nil, fmt.Errorf("%w: internal url must be scheme://host[:port] only", ErrDiscovery)
		}
		d.internal = &url.URL{Scheme: in.Scheme, Host: in.Host}
		fetchBase = d.toInternal(cfg.Issuer)
	}

	st := &fetchState{}
	client := guardedClient(cfg.HTTPClient, cfg.InsecureAllowHTTP, cfg.MaxBodyBytes, st)
	defer client.CloseIdleConnections() // a private transport is not reused after this call
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	rctx = gooidc.ClientContext(rctx, client)
	if d.internal != nil {
		// go-oidc then skips its own issuer comparison and uses Issuer for
		// ID-token verification; the comparison is done below instead, with
		// the internal spelling as the only other accepted value.
		rctx = gooidc.InsecureIssuerURLContext(rctx, cfg.Issuer)
	}
	p, err := gooidc.NewProvider(rctx, fetchBase)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		switch {
		case errors.As(err, &mismatch):
			return nil, fmt.Errorf("%w: issuer mismatch: %w", ErrDiscovery, err)
		case errors.Is(err, ErrInsecureURL), errors.Is(err, errRedirect), errors.Is(err, errBodyTooLarge):
			return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
		case st.tooLarge.Load():
			return nil, fmt.Errorf("%w: %s: %w", ErrDiscovery, redactURL(pub), errBodyTooLarge)
		case st.status.Load() != 0 && st.status.Load() != http.StatusOK:
			return nil, fmt.Errorf("%w: %s answered %d", ErrDiscovery, redactURL(pub), st.status.Load())
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrDiscovery, redactURL(pub), jose.Truncate(err.Error(), 256))
	}
	var m discoveryMetadata
	if err := p.Claims(&m); err != nil {
		return nil, fmt.Errorf("%w: decoding metadata: %s", ErrDiscovery, jose.Truncate(err.Error(), 256))
	}
	if m.Issuer != cfg.Issuer && (d.internal == nil || m.Issuer != fetchBase) {
		return nil, fmt.Errorf("%w: issuer mismatch: document at %s names issuer %q, want %q", ErrDiscovery,
			redactURL(pub), jose.Truncate(m.Issuer, 256), cfg.Issuer)
	}
	d.provider = p
	d.AdvertisedIssuer = m.Issuer

	back := func(field, u string) (string, error) { return d.endpoint(log, field, u, d.toInternal) }
	front := func(field, u string) (string, error) { return d.endpoint(log, field, u, d.toPublic) }
	for _, f := range []struct {
		dst       *string
		name, val string
		browser   bool
		required  bool
	}{
		{&d.AuthorizationEndpoint, "authorization_endpoint", m.AuthorizationEndpoint, true, false},
		{&d.EndSessionEndpoint, "end_session_endpoint", m.EndSessionEndpoint, true, false},
		{&d.TokenEndpoint, "token_endpoint", m.TokenEndpoint, false, false},
		{&d.UserInfoEndpoint, "userinfo_endpoint", m.UserInfoEndpoint, false, false},
		{&d.JWKSURI, "jwks_uri", m.JWKSURI, false, true},
		{&d.IntrospectionEndpoint, "introspection_endpoint", m.IntrospectionEndpoint, false, false},
		{&d.RevocationEndpoint, "revocation_endpoint", m.RevocationEndpoint, false, false},
	} {
		if f.val == "" {
			if f.required {
				return nil, fmt.Errorf("%w: document has no %s", ErrDiscovery, f.name)
			}
			continue
		}
		conv := back
		if f.browser {
			conv = front
		}
		v, err := conv(f.name, f.val)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	d.BackchannelLogoutSupported = m.BackchannelLogoutSupported
	d.BackchannelLogoutSessionSupported = m.BackchannelLogoutSessionSupported
	d.TokenEndpointAuthMethods = m.TokenEndpointAuthMethodsSupported
	d.IntrospectionEndpointAuthMethods = m.IntrospectionEndpointAuthMethodsSupported
	d.RevocationEndpointAuthMethods = m.RevocationEndpointAuthMethodsSupported
	d.IDTokenSigningAlgs = m.IDTokenSigningAlgValuesSupported
	return d, nil
}

// endpoint validates one advertised endpoint and rewrites its host.
func (d *Discovery) endpoint(log *slog.Logger, field, raw string, rewrite func(string) string) (string, error) {
	if _, err := checkURL(raw, d.allowHTTP); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrDiscovery, field, err)
	}
	v := rewrite(raw)
	if v != raw {
		log.Debug("oidc: discovery endpoint rewritten", slog.String("field", field), slog.String("to", v))
	}
	return v, nil
}

// Provider returns the go-oidc Provider built from the document, for the
// standard flows (Endpoint, Verifier for ID tokens, UserInfo). Its issuer is
// Issuer; its endpoint URLs are exactly as advertised, not rewritten for
// InternalURL.
func (d *Discovery) Provider() *gooidc.Provider { return d.provider }

// ToInternal rewrites a URL on the issuer's scheme and host to the internal
// one, for back-channel calls to endpoints not listed in Discovery. Without an
// InternalURL, or for another host, it returns u unchanged.
func (d *Discovery) ToInternal(u string) string { return d.toInternal(u) }

func (d *Discovery) toInternal(u string) string {
	if d.internal == nil {
		return u
	}
	return swapOrigin(u, d.public, d.internal)
}

func (d *Discovery) toPublic(u string) string {
	if d.internal == nil {
		return u
	}
	return swapOrigin(u, d.internal, d.public)
}

// swapOrigin replaces from's scheme and host with to's when u is on from.
func swapOrigin(u string, from, to *url.URL) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != from.Scheme || !strings.EqualFold(p.Host, from.Host) {
		return u
	}
	p.Scheme, p.Host = to.Scheme, to.Host
	return p.String()
}

// NewRemoteKeySet builds a RemoteKeySet for the discovered jwks_uri. cfg.URL
// must be empty (it is taken from the document); a nil cfg.HTTPClient takes
// the discovery's client, and InsecureAllowHTTP is set when discovery allowed
// http. The caller must Close the result.
func (d *Discovery) NewRemoteKeySet(cfg KeySetConfig) (*RemoteKeySet, error) {
	if cfg.URL != "" && cfg.URL != d.JWKSURI {
		return nil, fmt.Errorf("oidc: KeySetConfig.URL is %s but discovery says %s; leave it empty", jose.Truncate(cfg.URL, 256), d.JWKSURI)
	}
	cfg.URL = d.JWKSURI
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = d.client
	}
	cfg.InsecureAllowHTTP = cfg.InsecureAllowHTTP || d.allowHTTP
	return NewRemoteKeySet(cfg)
}
