package attack

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// Defaults of NewMaterial.
const (
	DefaultIssuer   = "https://kc.example.test/realms/tokenwarden"
	DefaultAudience = "backend"
	DefaultKID      = "rsa-1"
)

// Material is what the corpus is generated from.
type Material struct {
	// Issuer is the issuer the verifier trusts.
	Issuer string
	// Audience is the client id the verifier requires in aud.
	Audience string
	// Key is the issuer's RS256 signing key; its public half is in JWKS.
	Key *rsa.PrivateKey
	// KID names Key in the JWKS.
	KID string
	// Attacker is a key the verifier does not trust.
	Attacker *rsa.PrivateKey
	// Now is the verifier's clock.
	Now time.Time
}

var (
	keyOnce sync.Once
	keyPair [2]*rsa.PrivateKey
	keyErr  error
)

// NewMaterial returns Material with the default issuer, audience and kid,
// two RSA-2048 keys (generated once per process) and Now truncated to the
// second; it fails the test if the keys cannot be generated.
func NewMaterial(tb testing.TB) *Material {
	tb.Helper()
	m, err := GenerateMaterial()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// GenerateMaterial is NewMaterial outside a test.
func GenerateMaterial() (*Material, error) {
	keyOnce.Do(func() {
		for i := range keyPair {
			if keyPair[i], keyErr = rsa.GenerateKey(rand.Reader, 2048); keyErr != nil {
				return
			}
		}
	})
	if keyErr != nil {
		return nil, fmt.Errorf("attack: generate keys: %w", keyErr)
	}
	return &Material{Issuer: DefaultIssuer, Audience: DefaultAudience, Key: keyPair[0], KID: DefaultKID,
		Attacker: keyPair[1], Now: time.Now().Truncate(time.Second)}, nil
}

func (m *Material) check() error {
	if m == nil || m.Issuer == "" || m.Audience == "" || m.Key == nil || m.KID == "" || m.Attacker == nil || m.Now.IsZero() {
		return errors.New("attack: incomplete material")
	}
	if m.Key.N.BitLen() < 2048 || m.Attacker.N.BitLen() < 2048 {
		return errors.New("attack: keys must have at least 2048 bits")
	}
	return nil
}

// Enc is unpadded base64url.
func Enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jsonText marshals v: maps of strings, numbers, booleans and slices,
// which always marshal.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// override sets the members of over in m, deleting those whose value is nil.
func override(m, over map[string]any) {
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

// Header returns the JSON of a JWS header with alg and kid (omitted when
// empty) and the extra members.
func Header(alg, kid string, extra map[string]any) string {
	m := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		m["kid"] = kid
	}
	override(m, extra)
	return jsonText(m)
}

// RS256Header is the header Keycloak sends with Key.
func (m *Material) RS256Header() string { return Header("RS256", m.KID, nil) }

// ClaimsMap returns a Keycloak-shaped access-token payload for m with
// overrides applied (a nil value deletes the member).
func (m *Material) ClaimsMap(over map[string]any) map[string]any {
	now := m.Now.Unix()
	c := map[string]any{
		"exp":                now + 300,
		"iat":                now - 10,
		"auth_time":          now - 20,
		"jti":                "onrtac:5b0f5c4e-1f5d-4a3b-9a55-1c1f1e0d7f11",
		"iss":                m.Issuer,
		"aud":                []string{m.Audience, "account"},
		"sub":                "8d1f0c77-2b51-4d6e-9a3c-5f5e8c2a1b90",
		"typ":                "Bearer",
		"azp":                "mobile",
		"sid":                "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21",
		"scope":              "openid profile email",
		"realm_access":       map[string]any{"roles": []string{"user"}},
		"resource_access":    map[string]any{m.Audience: map[string]any{"roles": []string{"reader"}}},
		"preferred_username": "bob",
	}
	override(c, over)
	return c
}

// BackchannelLogoutEvent is the events member of a back-channel logout
// token (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutHeader is the header Keycloak sends with a logout token.
func (m *Material) LogoutHeader() string {
	return Header("RS256", m.KID, map[string]any{"typ": "logout+jwt"})
}

// LogoutPayload returns a Keycloak-shaped back-channel logout token payload
// for the client aud, with overrides applied (a nil value deletes the
// member).
func (m *Material) LogoutPayload(aud string, over map[string]any) string {
	now := m.Now.Unix()
	c := map[string]any{
		"iat":    now - 5,
		"exp":    now + 115,
		"jti":    "4c0a4b4e-3c1f-4e52-b0a5-1d2d7e8f9a10",
		"iss":    m.Issuer,
		"aud":    aud,
		"sub":    "8d1f0c77-2b51-4d6e-9a3c-5f5e8c2a1b90",
		"typ":    "Logout",
		"sid":    "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21",
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}, "revoke_offline_access": true},
	}
	override(c, over)
	return jsonText(c)
}

// Payload is ClaimsMap as JSON text.
func (m *Material) Payload(over map[string]any) string { return jsonText(m.ClaimsMap(over)) }

// SignWith signs header.payload (JSON texts) with RS256 under key.
func SignWith(key *rsa.PrivateKey, header, payload string) string {
	return SignInput(key, Enc([]byte(header))+"."+Enc([]byte(payload)))
}

// SignInput appends an RS256 signature of the signing input under key.
func SignInput(key *rsa.PrivateKey, input string) string {
	h := sha256.Sum256([]byte(input))
	// Fails only for a modulus too small for SHA-256; Cases refuses
	// material with keys under 2048 bits.
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	return input + "." + Enc(sig)
}

// Sign signs with the issuer's real key.
func (m *Material) Sign(header, payload string) string { return SignWith(m.Key, header, payload) }

// Valid returns an access token the verifier must accept: the control
// that keeps a refusal test from passing vacuously.
func (m *Material) Valid() string { return m.Sign(m.RS256Header(), m.Payload(nil)) }

// PublicJWK is the issuer's key as its JWKS lists it.
func (m *Material) PublicJWK() map[string]any {
	return rsaJWK(&m.Key.PublicKey, m.KID)
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	j := map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256",
		"n": Enc(pub.N.Bytes()), "e": Enc(big.NewInt(int64(pub.E)).Bytes())}
	if kid != "" {
		j["kid"] = kid
	}
	return j
}

// JWKS is the issuer's key set: the RS256 key only.
func (m *Material) JWKS() []byte {
	return []byte(jsonText(map[string]any{"keys": []any{m.PublicJWK()}}))
}

// KeySource returns a RemoteKeySet over ks with the clock fixed at m.Now:
// its unknown-kid cooldown never passes during a test, so the corpus may
// cause at most one unknown-kid fetch. Closed when the test ends.
func (m *Material) KeySource(tb testing.TB, ks *KeyServer) *oidc.RemoteKeySet {
	tb.Helper()
	rks, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: ks.URL + "/certs", InsecureAllowHTTP: true,
		HTTPClient: ks.Client(), Now: func() time.Time { return m.Now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rks.Close)
	return rks
}

// Verifier returns the oidc.Verifier the corpus is written for: issuer
// m.Issuer, audience m.Audience (no authorized-party rule), RS256 only,
// Keycloak mode, the clock at m.Now, and keys (for example KeySource).
func (m *Material) Verifier(tb testing.TB, keys oidc.KeySource) *oidc.Verifier {
	tb.Helper()
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: m.Issuer, Keys: keys, Audience: []string{m.Audience},
		Now: func() time.Time { return m.Now }})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// KeyServer serves a JWKS at /certs and counts the requests it answers.
type KeyServer struct {
	*httptest.Server
	fetches atomic.Int64
}

// NewKeyServer starts a KeyServer for jwks, closed when the test ends.
func NewKeyServer(tb testing.TB, jwks []byte) *KeyServer {
	tb.Helper()
	ks := &KeyServer{}
	body := append([]byte(nil), jwks...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		if r.URL.Path != "/certs" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body)
	}))
	tb.Cleanup(ks.Close)
	return ks
}

// Fetches returns how many requests the server has answered.
func (ks *KeyServer) Fetches() int64 { return ks.fetches.Load() }
