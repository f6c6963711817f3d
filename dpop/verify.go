package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// ReplayStore records the proofs a Verifier accepted. SeenOnce records
// (iss, jti) until exp and reports whether this call was the first; on any
// error first is false. revocation.Store implements it: a Memory store
// serves one process, a Redis store every replica that shares it.
type ReplayStore interface {
	SeenOnce(ctx context.Context, iss, jti string, exp time.Time) (first bool, err error)
}

// Config configures a Verifier. Replay is required; every other zero value
// is a safe default.
type Config struct {
	// Algorithms is the allow-list of proof algorithms (RFC 8725 §3.1).
	// Nil means every supported one: ES256, ES384, ES512, PS256, PS384,
	// PS512, RS256, RS384, RS512 and EdDSA. HS* and none do not exist here.
	Algorithms []string
	// MaxAge is how old a proof's iat may be; zero means 60 seconds. It is
	// also how long a proof's jti is remembered.
	MaxAge time.Duration
	// Leeway is how far in the future a proof's iat may be, for clients
	// whose clock runs ahead; zero means 5 seconds, negative none.
	Leeway time.Duration
	// Replay records every accepted proof's (jkt, jti) until it is too old
	// to be accepted; a proof seen before is refused. Use the revocation
	// Store the API already has: with the Redis store a proof replayed on
	// another replica is refused too (one Redis round trip per proof). Each
	// record counts against the store's MaxEntries for MaxAge plus the
	// store's Leeway. A store that fails refuses the request (Verify returns
	// its error, not an *Error).
	Replay ReplayStore
	// ExternalURL is the scheme://host[:port] at which clients address the
	// API, with an optional path prefix that a proxy strips, e.g.
	// "https://api.example.com": a proof's htu must be it followed by the
	// request's path. Empty means the scheme of the connection (https with
	// TLS, else http) and the request's Host header: right only when the
	// API is reached directly, wrong behind a proxy that terminates TLS or
	// rewrites the host, and it lets a request choose the host a proof is
	// compared with, so a proof made for another API that accepts the same
	// token could be replayed here. Set it in production.
	ExternalURL string
	// NonceSecret, when set, makes every proof carry a server nonce
	// (RFC 9449 §9): a proof without the current one is refused with
	// use_dpop_nonce, and the answer gives the nonce (Nonce). Nonces are
	// stateless: an HMAC of the time step under this secret, which every
	// replica must share. At least 32 bytes.
	NonceSecret []byte
	// NonceLifetime is the length of a nonce's time step; a nonce is
	// accepted during its step and the next. Zero means 5 minutes.
	NonceLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	defaultMaxAge        = 60 * time.Second
	defaultLeeway        = 5 * time.Second
	defaultNonceLifetime = 5 * time.Minute
	// maxProofBytes caps a DPoP header value. A proof with an 8192-bit RSA
	// key stays below 4 KiB.
	maxProofBytes = 8 << 10
	// maxClaimBytes caps jti, htm, ath and nonce; htu is capped by the
	// proof's size.
	maxClaimBytes = 512
	// replayIssuer is the namespace of replay records in a ReplayStore
	// shared with a deny-list (not an issuer URL, so never an issuer's).
	replayIssuer = "urn:tokenwarden:dpop"
)

// defaultAlgs is every supported algorithm, in the order the algs
// parameter of a challenge lists them.
var defaultAlgs = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA"}

// Verifier checks DPoP proofs. It is safe for concurrent use.
type Verifier struct {
	algs   jose.AlgSet
	names  []string
	maxAge time.Duration
	leeway time.Duration
	replay ReplayStore
	ext    *origin
	nonce  *nonces
	now    func() time.Time
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{maxAge: cfg.MaxAge, leeway: cfg.Leeway, replay: cfg.Replay, now: cfg.Now}
	if v.replay == nil {
		return nil, errors.New("dpop: Config.Replay is required (a revocation.Store)")
	}
	names := cfg.Algorithms
	if names == nil {
		names = defaultAlgs
	}
	algs, err := jose.ParseAlgSet(names)
	if err != nil {
		return nil, fmt.Errorf("dpop: Config.Algorithms: %w", err)
	}
	if algs == 0 {
		return nil, errors.New("dpop: Config.Algorithms is empty")
	}
	v.algs = algs
	for _, n := range defaultAlgs {
		if algs.Has(jose.ParseAlg(n)) {
			v.names = append(v.names, n)
		}
	}
	switch {
	case v.maxAge < 0:
		return nil, errors.New("dpop: Config.MaxAge is negative")
	case v.maxAge == 0:
		v.maxAge = defaultMaxAge
	}
	v.leeway = config.Leeway(v.leeway, defaultLeeway)
	if cfg.ExternalURL != "" {
		if v.ext, err = parseExternalURL(cfg.ExternalURL); err != nil {
			return nil, fmt.Errorf("dpop: Config.ExternalURL %q: %w", cfg.ExternalURL, err)
		}
	}
	if cfg.NonceSecret != nil {
		if len(cfg.NonceSecret) < 32 {
			return nil, errors.New("dpop: Config.NonceSecret must be at least 32 bytes")
		}
		step := cfg.NonceLifetime
		switch {
		case step < 0:
			return nil, errors.New("dpop: Config.NonceLifetime is negative")
		case step == 0:
			step = defaultNonceLifetime
		}
		v.nonce = &nonces{secret: slices.Clone(cfg.NonceSecret), step: step}
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Algorithms returns the allowed proof algorithms, for the algs parameter
// of a WWW-Authenticate: DPoP challenge, in a fresh slice.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.names) }

// Nonce returns the nonce to send in a DPoP-Nonce header, or "" when
// nonces are off.
func (v *Verifier) Nonce() string {
	if v.nonce == nil {
		return ""
	}
	return v.nonce.current(v.now()).cur
}

// Proof is a verified proof.
type Proof struct {
	JKT      string    // the RFC 7638 thumbprint of the proof's key
	ID       string    // jti
	IssuedAt time.Time // iat
	Nonce    string    // the server nonce it carried, if any
}

// claims are the members of a proof's payload that Verify reads.
type claims struct {
	jti, htm, htu, ath, nonce string
	iat                       time.Time
	hasIat                    bool
}

// Verify checks the DPoP proof of r: exactly one DPoP header holding a
// valid proof for r's method and URL, signed by the key whose thumbprint is
// jkt (the access token's cnf.jkt), with ath the hash of accessToken, and
// not seen before. It records the proof in the ReplayStore last, when every
// other check has passed. An empty jkt skips the binding check and an empty
// accessToken the ath check: both are for a proof that comes without an
// access token (an authorization server's token endpoint); a resource
// server always passes both.
//
// A refusal is an *Error. Any other error is the ReplayStore's: the proof
// could not be recorded, and must not be accepted.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, accessToken, jkt string) (Proof, error) {
	var p Proof
	vals := r.Header["Dpop"]
	switch len(vals) {
	case 1:
	case 0:
		return p, invalid("header", "one DPoP header", "none")
	default:
		return p, invalid("header", "one DPoP header", strconv.Itoa(len(vals))+" DPoP headers")
	}
	c, err := jose.Split(vals[0], maxProofBytes)
	if err != nil {
		e := invalid("header", "one compact JWS of at most 8 KiB", "")
		e.Err = err
		return p, e
	}
	h := &c.Header
	if h.Typ != "dpop+jwt" {
		return p, invalid("typ", `"dpop+jwt"`, presence(h.HasTyp, h.Typ))
	}
	if !v.algs.Has(c.Alg) {
		e := invalid("alg", strings.Join(v.names, " "), jose.Quote(h.Alg))
		e.Setting = "Algorithms"
		return p, e
	}
	if h.JWK == "" {
		return p, invalid("jwk", "the public key in the jwk header", "none")
	}
	key, err := jose.ParseJWK(h.JWK, jose.Policy{Algs: v.algs, Alg: c.Alg})
	if err != nil {
		e := invalid("jwk", "a public "+c.Alg.String()+" key", "")
		e.Err = err
		return p, e
	}
	if p.JKT, err = jose.Thumbprint(key.Public); err != nil {
		e := invalid("jwk", "a public "+c.Alg.String()+" key", "")
		e.Err = err
		return p, e
	}
	if jkt != "" && p.JKT != jkt {
		return p, &Error{Code: codeInvalidToken, Check: "jkt", Expected: jose.QuoteN(jkt, 64), Presented: jose.QuoteN(p.JKT, 64)}
	}
	if err := c.VerifySignature(key); err != nil {
		e := invalid("sig", "a signature by the jwk", "")
		e.Err = err
		return p, e
	}
	payload, err := c.Payload()
	if err != nil {
		e := invalid("claims", "a canonical base64url payload", "")
		e.Err = err
		return p, e
	}
	var cl claims
	if e := cl.decode(payload); e != nil {
		return p, e
	}
	if cl.htm != r.Method {
		return p, invalid("htm", jose.Quote(r.Method), jose.Quote(cl.htm))
	}
	if want := v.requestURI(r); !sameURI(cl.htu, want) {
		e := invalid("htu", jose.QuoteN(want, 128), jose.QuoteN(cl.htu, 128))
		e.Setting = "ExternalURL"
		return p, e
	}
	now := v.now()
	if cl.iat.Before(now.Add(-v.maxAge)) {
		e := invalid("iat", "not before "+jose.Time(now.Add(-v.maxAge))+" (now "+jose.Time(now)+" - MaxAge "+v.maxAge.String()+")",
			jose.Time(cl.iat))
		e.Setting = "MaxAge"
		return p, e
	}
	if cl.iat.After(now.Add(v.leeway)) {
		e := invalid("iat", "not after "+jose.Time(now.Add(v.leeway))+" (now "+jose.Time(now)+" + Leeway "+v.leeway.String()+")",
			jose.Time(cl.iat))
		e.Setting = "Leeway"
		return p, e
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		var ath [43]byte
		base64.RawURLEncoding.Encode(ath[:], sum[:])
		if cl.ath != string(ath[:]) {
			return p, invalid("ath", "the base64url SHA-256 of the access token", presence(cl.ath != "", cl.ath))
		}
	}
	if v.nonce != nil {
		if cl.nonce == "" || !v.nonce.current(now).valid(cl.nonce) {
			return p, &Error{Code: codeUseNonce, Check: "nonce", Expected: "the current server nonce", Setting: "NonceSecret",
				Presented: presence(cl.nonce != "", cl.nonce)}
		}
	}
	// Last: only a proof that passed every check is recorded, so that
	// refused requests cannot fill the store.
	sum := sha256.Sum256([]byte(p.JKT + "\x00" + cl.jti))
	first, err := v.replay.SeenOnce(ctx, replayIssuer, base64.RawURLEncoding.EncodeToString(sum[:]), cl.iat.Add(v.maxAge))
	if err != nil {
		return p, fmt.Errorf("dpop: replay store: %w", err)
	}
	if !first {
		return p, invalid("replay", "a jti not seen within MaxAge "+v.maxAge.String(), "a jti already used with this key")
	}
	p.ID, p.IssuedAt, p.Nonce = cl.jti, cl.iat, cl.nonce
	return p, nil
}

// presence renders an optional presented value: "none" when absent.
func presence(present bool, v string) string {
	if !present {
		return "none"
	}
	return jose.Quote(v)
}

// decode reads the proof's payload strictly: a JSON object, no repeated
// (or case-variant) member, jti, htm, htu, ath and nonce strings, iat an
// integer NumericDate; jti, htm, htu and iat required. Other members are
// validated and ignored.
func (cl *claims) decode(payload string) *Error {
	r := strictjson.NewReader(payload)
	if r.Peek() != '{' {
		return invalid("claims", "a JSON object", "another JSON value")
	}
	bad := ""
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "jti":
			cl.jti, err = r.String()
		case "htm":
			cl.htm, err = r.String()
		case "htu":
			cl.htu, err = r.String()
		case "ath":
			cl.ath, err = r.String()
		case "nonce":
			cl.nonce, err = r.String()
		case "iat":
			cl.iat, err = jose.NumericDate(&r)
			cl.hasIat = err == nil
		default:
			return r.Skip()
		}
		if err != nil && err != strictjson.ErrDuplicate {
			bad = name
		}
		return err
	})
	switch {
	case err == strictjson.ErrDuplicate:
		return invalid("claims", "each claim once", "a repeated claim")
	case bad != "":
		return invalid("claims", "a string (iat: an integer)", "claim "+jose.Quote(bad)+" of another type")
	case err != nil || r.End() != nil:
		return invalid("claims", "a JSON object", "invalid JSON")
	case cl.jti == "":
		return invalid("jti", "a jti", "none")
	case cl.htm == "":
		return invalid("htm", "an htm", "none")
	case cl.htu == "":
		return invalid("htu", "an htu", "none")
	case !cl.hasIat:
		return invalid("iat", "an iat", "none")
	case len(cl.jti) > maxClaimBytes, len(cl.htm) > maxClaimBytes, len(cl.ath) > maxClaimBytes, len(cl.nonce) > maxClaimBytes:
		return invalid("claims", "jti, htm, ath and nonce of at most 512 bytes", "a longer one")
	}
	return nil
}
