package introspect

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"

	tokens "github.com/tokenwarden/tokenwarden/internal/jose"
)

// AuthMethod is how the client authenticates to the endpoints, named as in
// OpenID Connect Discovery's *_endpoint_auth_methods_supported lists.
type AuthMethod string

// Client authentication methods.
const (
	// AuthClientSecretBasic sends the client id and secret in an HTTP Basic
	// Authorization header, each form-urlencoded first (RFC 6749 §2.3.1).
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost sends client_id and client_secret as form fields.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthPrivateKeyJWT sends an RFC 7523 client assertion signed with
	// Config.Signer (OpenID Connect Core §9).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthNone sends only client_id: a public client. Such a client may
	// revoke its own tokens but cannot introspect.
	AuthNone AuthMethod = "none"
)

// Config configures a Client. The zero values of optional fields are
// documented with each field. The Config is copied by New; later changes to
// it have no effect.
type Config struct {
	// IntrospectionURL is the RFC 7662 endpoint, e.g.
	// https://kc.example/realms/r/protocol/openid-connect/token/introspect.
	// Empty: Introspect returns an error wrapping ErrConfig.
	IntrospectionURL string
	// RevocationURL is the RFC 7009 endpoint, e.g.
	// https://kc.example/realms/r/protocol/openid-connect/revoke.
	// Empty: Revoke returns an error wrapping ErrConfig.
	RevocationURL string
	// InsecureAllowHTTP permits http:// endpoint URLs on hosts other than
	// loopback addresses and "localhost". Credentials and tokens then cross
	// the network in clear text.
	InsecureAllowHTTP bool

	// ClientID is this client's id at the authorization server. Required.
	ClientID string
	// ClientSecret is the secret for the client_secret_* methods.
	ClientSecret string
	// AuthMethod selects the client authentication. Zero: AuthPrivateKeyJWT
	// if Signer is set, else AuthClientSecretBasic if ClientSecret is set,
	// else AuthNone.
	AuthMethod AuthMethod

	// Signer signs private_key_jwt client assertions: an *rsa.PrivateKey,
	// *ecdsa.PrivateKey, ed25519.PrivateKey or any crypto.Signer (HSM, KMS).
	Signer crypto.Signer
	// SigningAlgorithm is the JWS alg of client assertions. Zero: RS256 for
	// RSA keys, ES256/ES384/ES512 for P-256/P-384/P-521, EdDSA for Ed25519.
	SigningAlgorithm string
	// KeyID is the JWS kid header of client assertions. Zero: no kid
	// (Keycloak then uses the client's configured key or certificate).
	KeyID string
	// AssertionAudience is the aud of client assertions. Zero: Issuer if set
	// (what Keycloak recommends since 26.2), else the URL of the endpoint
	// being called (Keycloak does not accept its revocation URL: set Issuer
	// or AssertionAudience for a revocation-only client).
	AssertionAudience string
	// AssertionLifetime is how long a client assertion is valid. Zero: 60 s.
	// Each request carries a fresh assertion with a random jti.
	AssertionLifetime time.Duration

	// Issuer is the exact iss an active introspection answer must carry.
	// Required when IntrospectionURL is set.
	Issuer string
	// Audience: the aud of an active answer must contain one of these
	// values. AuthorizedParties: its azp (client_id when azp is absent) must
	// be one of these. One of the two rules suffices, both must hold with
	// RequireAudienceAndParty (the same rule as oidc.VerifierConfig). When
	// both are empty, Audience is ClientID: Keycloak 26.6.2+ answers
	// inactive anyway unless the introspecting client is in aud.
	Audience          []string
	AuthorizedParties []string
	// RequireAudienceAndParty requires both rules when both are set.
	RequireAudienceAndParty bool
	// InsecureSkipAudienceCheck accepts active answers whatever their aud
	// and azp: any token the server knows is then accepted, whoever it was
	// issued for.
	InsecureSkipAudienceCheck bool

	// MaxTokenBytes bounds the token sent for introspection; longer tokens
	// are rejected without a request. Zero: 16 KiB.
	MaxTokenBytes int
	// MaxBodyBytes bounds a response body. Zero: 1 MiB.
	MaxBodyBytes int64

	// RevokeMaxRetryWait bounds the total time Revoke spends waiting between
	// attempts after 503 answers (Retry-After, RFC 7009 §2.2.1); the
	// context deadline bounds it too. Zero: 10 s. Negative: no retry.
	RevokeMaxRetryWait time.Duration
	// RevokeMaxAttempts bounds the attempts of one Revoke. Zero: 3.
	RevokeMaxAttempts int

	// HTTPClient sends the requests. Nil: a private client with Timeout that
	// does not follow redirects. A caller-supplied client is used as is.
	HTTPClient *http.Client
	// Timeout is the private client's timeout. Zero: 10 s.
	Timeout time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Logger receives debug records of upstream exchanges (endpoint,
	// status, duration; never a token or secret). Nil: discard.
	Logger *slog.Logger
	// Observe, if set, is called after every HTTP exchange with an
	// endpoint (an Event of kind UpstreamCall), from the calling goroutine.
	// It must be fast and must not block.
	Observe func(Event)
}

// Event is what Config.Observe (one per HTTP exchange with the authorization
// server) and CacheConfig.Observe (one per cache decision) receive. It never
// carries a token.
type Event struct {
	Kind EventKind
	// The fields below describe an UpstreamCall and are zero otherwise.
	Endpoint string        // EndpointIntrospection or EndpointRevocation
	Status   int           // HTTP status; 0 when no response arrived
	Duration time.Duration // from sending the request to reading the body
	Err      error         // transport or body error; never contains the token
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// UpstreamCall: an HTTP exchange with the introspection or revocation
	// endpoint.
	UpstreamCall EventKind = iota
	// CacheHit: an active answer was served from the positive cache.
	CacheHit
	// CacheNegativeHit: an inactive or rejected answer was served from the
	// negative cache.
	CacheNegativeHit
	// CacheMiss: nothing usable was cached; the call went upstream or joined
	// an identical call already in flight.
	CacheMiss
	// CacheCoalesced: after a miss, the call was answered by an identical
	// call already in flight instead of its own upstream request.
	CacheCoalesced
)

// String returns the kind's name, suitable as a metric label: "upstream",
// "hit", "negative_hit", "miss" or "coalesced".
func (k EventKind) String() string {
	switch k {
	case UpstreamCall:
		return "upstream"
	case CacheHit:
		return "hit"
	case CacheNegativeHit:
		return "negative_hit"
	case CacheMiss:
		return "miss"
	case CacheCoalesced:
		return "coalesced"
	}
	return "unknown"
}

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1). Keycloak also accepts
// "requesting_party_token" for introspection and rejects unknown hints.
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Client calls the introspection and revocation endpoints of one
// authorization server. It is safe for concurrent use and starts no
// goroutines. It caches nothing: put a Cache in front of it.
type Client struct {
	cfg         Config
	method      AuthMethod
	basicHeader []string          // the Authorization header of client_secret_basic
	hc          *http.Client      // the caller's client; nil for the private one
	rt          http.RoundTripper // the private client's transport
	timeout     time.Duration     // the private client's timeout
	now         func() time.Time
	log         *slog.Logger
	signer      jose.Signer
	maxTok      int
	maxBody     int64
	urls        map[string]*url.URL // the endpoints, parsed once
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg.Audience = slices.Clone(cfg.Audience)
	cfg.AuthorizedParties = slices.Clone(cfg.AuthorizedParties)
	c := &Client{cfg: cfg, method: cfg.AuthMethod, hc: cfg.HTTPClient, now: cfg.Now, log: cfg.Logger,
		maxTok: cfg.MaxTokenBytes, maxBody: cfg.MaxBodyBytes}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	}
	if cfg.IntrospectionURL == "" && cfg.RevocationURL == "" {
		return nil, fmt.Errorf("%w: neither IntrospectionURL nor RevocationURL is set", ErrConfig)
	}
	c.urls = make(map[string]*url.URL, 2)
	for _, raw := range []string{cfg.IntrospectionURL, cfg.RevocationURL} {
		if raw == "" {
			continue
		}
		u, err := checkURL(raw, cfg.InsecureAllowHTTP)
		if err != nil {
			return nil, err
		}
		c.urls[raw] = u
	}
	if c.method == "" {
		switch {
		case cfg.Signer != nil:
			c.method = AuthPrivateKeyJWT
		case cfg.ClientSecret != "":
			c.method = AuthClientSecretBasic
		default:
			c.method = AuthNone
		}
	}
	switch c.method {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("%w: %s needs ClientSecret", ErrConfig, c.method)
		}
		// RFC 6749 §2.3.1: form-urlencode both before Basic encoding, as
		// golang.org/x/oauth2 does; the header is the same on every request.
		c.basicHeader = []string{"Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret)))}
	case AuthPrivateKeyJWT:
		s, err := newAssertionSigner(cfg)
		if err != nil {
			return nil, err
		}
		c.signer = s
	case AuthNone:
		if cfg.IntrospectionURL != "" {
			return nil, fmt.Errorf("%w: introspection requires client authentication; AuthMethod none is for revocation by public clients only", ErrConfig)
		}
	default:
		return nil, fmt.Errorf("%w: unknown AuthMethod %q", ErrConfig, sanitize(string(c.method), ""))
	}
	if cfg.IntrospectionURL != "" && cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: Issuer is required to check introspection answers", ErrConfig)
	}
	if len(cfg.Audience) == 0 && len(cfg.AuthorizedParties) == 0 {
		c.cfg.Audience = []string{cfg.ClientID}
	}
	if cfg.RequireAudienceAndParty && (len(cfg.Audience) == 0 || len(cfg.AuthorizedParties) == 0) {
		return nil, fmt.Errorf("%w: RequireAudienceAndParty needs both Audience and AuthorizedParties", ErrConfig)
	}
	if c.cfg.AssertionLifetime <= 0 {
		c.cfg.AssertionLifetime = time.Minute
	}
	if c.cfg.RevokeMaxRetryWait == 0 {
		c.cfg.RevokeMaxRetryWait = 10 * time.Second
	}
	if c.cfg.RevokeMaxAttempts <= 0 {
		c.cfg.RevokeMaxAttempts = 3
	}
	if c.maxTok <= 0 {
		c.maxTok = tokens.DefaultMaxTokenBytes
	}
	if c.maxBody <= 0 {
		c.maxBody = 1 << 20
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.hc == nil {
		// The private client follows no redirect and keeps no cookie, so it
		// is the default transport itself, with the timeout on the request's
		// context: no http.Client bookkeeping on every call.
		c.rt, c.timeout = http.DefaultTransport, cfg.Timeout
		if c.timeout <= 0 {
			c.timeout = 10 * time.Second
		}
	}
	return c, nil
}

// AuthMethod returns the client authentication method in use.
func (c *Client) AuthMethod() AuthMethod { return c.method }

func checkURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: endpoint URL %q is not absolute", ErrConfig, sanitize(raw, ""))
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if insecure {
			return u, nil
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return u, nil
		}
		return nil, fmt.Errorf("%w: endpoint URL %q is not https (set InsecureAllowHTTP to allow it)", ErrConfig, sanitize(raw, ""))
	}
	return nil, fmt.Errorf("%w: endpoint URL %q is not http(s)", ErrConfig, sanitize(raw, ""))
}

func newAssertionSigner(cfg Config) (jose.Signer, error) {
	if cfg.Signer == nil {
		return nil, fmt.Errorf("%w: private_key_jwt needs Signer", ErrConfig)
	}
	alg := jose.SignatureAlgorithm(cfg.SigningAlgorithm)
	if alg == "" {
		switch pub := cfg.Signer.Public().(type) {
		case *rsa.PublicKey:
			alg = jose.RS256
		case *ecdsa.PublicKey:
			switch pub.Curve {
			case elliptic.P256():
				alg = jose.ES256
			case elliptic.P384():
				alg = jose.ES384
			case elliptic.P521():
				alg = jose.ES512
			}
		case ed25519.PublicKey:
			alg = jose.EdDSA
		}
		if alg == "" {
			return nil, fmt.Errorf("%w: cannot derive SigningAlgorithm from the Signer's key type %T", ErrConfig, cfg.Signer.Public())
		}
	}
	opaque := cryptosigner.Opaque(cfg.Signer)
	ok := false
	for _, a := range opaque.Algs() {
		ok = ok || a == alg
	}
	if !ok {
		return nil, fmt.Errorf("%w: SigningAlgorithm %q does not fit the Signer's key", ErrConfig, sanitize(string(alg), ""))
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if cfg.KeyID != "" {
		opts = opts.WithHeader("kid", cfg.KeyID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: opaque}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return s, nil
}

// clientAssertion builds a fresh RFC 7523 assertion for a request to endpoint.
func (c *Client) clientAssertion(endpoint string) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	aud := c.cfg.AssertionAudience
	if aud == "" {
		aud = c.cfg.Issuer
	}
	if aud == "" {
		aud = endpoint
	}
	now := c.now()
	claims := jwt.Claims{
		Issuer:   c.cfg.ClientID,
		Subject:  c.cfg.ClientID,
		Audience: jwt.Audience{aud},
		ID:       base64.RawURLEncoding.EncodeToString(id[:]),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(c.cfg.AssertionLifetime)),
	}
	return jwt.Signed(c.signer).Claims(claims).Serialize()
}

// exchange is the outcome of one POST.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// form is an application/x-www-form-urlencoded request body. (url.Values
// would build a map and sort the names of two or three fields.)
type form struct{ strings.Builder }

// newForm starts a body with token and, when set, token_type_hint.
func newForm(token, hint string) *form {
	f := &form{}
	f.Grow(len(token) + 96)
	f.add("token", token)
	if hint != "" {
		f.add("token_type_hint", hint)
	}
	return f
}

func (f *form) add(name, value string) {
	if f.Len() > 0 {
		f.WriteByte('&')
	}
	f.WriteString(url.QueryEscape(name))
	f.WriteByte('=')
	f.WriteString(url.QueryEscape(value))
}

// post sends form to endpointURL with client authentication and reads the
// response through the size limit. Transport failures wrap ErrUnavailable.
func (c *Client) post(ctx context.Context, name, endpointURL string, form *form, token string) (exchange, error) {
	if c.method != AuthClientSecretBasic {
		form.add("client_id", c.cfg.ClientID) // required for post and none, allowed for private_key_jwt
	}
	switch c.method {
	case AuthClientSecretPost:
		form.add("client_secret", c.cfg.ClientSecret)
	case AuthPrivateKeyJWT:
		a, err := c.clientAssertion(endpointURL)
		if err != nil {
			// A remote signer (HSM, KMS) that fails is an outage, not a
			// verdict on the token.
			return exchange{}, fmt.Errorf("%w: signing the client assertion: %v", ErrUnavailable, err)
		}
		form.add("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.add("client_assertion", a)
	}
	if dl, ok := ctx.Deadline(); c.rt != nil && (!ok || time.Until(dl) > c.timeout) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel() // after the body is read
	}
	req, err := c.newRequest(ctx, endpointURL, form.String())
	if err != nil {
		return exchange{}, err
	}
	start := time.Now()
	var resp *http.Response
	if c.rt != nil {
		resp, err = c.rt.RoundTrip(req)
	} else {
		resp, err = c.hc.Do(req)
	}
	var ex exchange
	if err == nil {
		ex.status = resp.StatusCode
		ex.header = resp.Header
		ex.body, err = c.readBody(resp)
		resp.Body.Close()
		if errors.Is(err, errBodyTooLarge) {
			err = fmt.Errorf("%w: response body exceeds %d bytes", ErrInvalidResponse, c.maxBody)
		} else if err != nil {
			err = transportErr("reading the "+name+" response", err, token)
		}
	} else {
		err = transportErr(name+" request", err, token)
	}
	d := time.Since(start)
	if c.cfg.Observe != nil {
		c.cfg.Observe(Event{Kind: UpstreamCall, Endpoint: name, Status: ex.status, Duration: d, Err: err})
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "introspect: upstream failure", slog.String("endpoint", name),
			slog.Int("status", ex.status), slog.Duration("duration", d), slog.String("error", err.Error()))
		return ex, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "introspect: upstream exchange", slog.String("endpoint", name),
		slog.Int("status", ex.status), slog.Duration("duration", d))
	return ex, nil
}

var errBodyTooLarge = errors.New("response body too large")

// readBody reads a response body through the size limit, at once into a
// buffer of its length when the response announces one.
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	switch n := resp.ContentLength; {
	case n > c.maxBody:
		return nil, errBodyTooLarge
	case n >= 0:
		b := make([]byte, n)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err == nil && int64(len(b)) > c.maxBody {
		return nil, errBodyTooLarge
	}
	return b, err
}

// Request header values, shared by every request: a transport may read
// them, never modify them.
var (
	formType   = []string{"application/x-www-form-urlencoded"}
	acceptJSON = []string{"application/json"}
)

// newRequest builds the POST of body to endpointURL from the URL New
// parsed, with the headers every request carries: an introspection miss
// then parses no URL and canonicalises no header name.
func (c *Client) newRequest(ctx context.Context, endpointURL, body string) (*http.Request, error) {
	u, ok := c.urls[endpointURL]
	if !ok {
		return nil, fmt.Errorf("%w: no endpoint URL %q", ErrConfig, sanitize(endpointURL, ""))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cp := *u // the request owns its URL
	req.URL, req.Host = &cp, strings.TrimSuffix(cp.Host, ":")
	req.Header["Content-Type"] = formType
	req.Header["Accept"] = acceptJSON
	if c.method == AuthClientSecretBasic {
		req.Header["Authorization"] = c.basicHeader // built once by New
	}
	return req, nil
}

// transportErr wraps a transport failure with ErrUnavailable, keeping a
// context error visible to errors.Is, and never showing the token.
func transportErr(what string, err error, token string) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, context.Canceled)
	}
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, what, sanitize(err.Error(), token))
}

// errorFromBody builds the *Error for a non-2xx answer (or a 2xx carrying an
// "error" member).
func errorFromBody(name string, status int, body []byte, token string) *Error {
	e := &Error{Endpoint: name, Status: status}
	if code, desc, ok := errorMember(body); ok {
		e.Code = sanitize(code, token)
		e.Description = sanitize(desc, token)
		return e
	}
	if len(bytes.TrimSpace(body)) > 0 {
		e.Description = sanitize(string(body), token)
	}
	return e
}
