package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seen is an in-memory ReplayStore.
type seen struct {
	mu   sync.Mutex
	m    map[string]time.Time
	err  error
	iss  string
	keys []string
}

func newSeen() *seen { return &seen{m: map[string]time.Time{}} }

func (s *seen) SeenOnce(_ context.Context, iss, jti string, exp time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	s.iss = iss
	s.keys = append(s.keys, jti)
	k := iss + "\x00" + jti
	if _, ok := s.m[k]; ok {
		return false, nil
	}
	s.m[k] = exp
	return true, nil
}

var (
	keysOnce sync.Once
	ecP256   *ecdsa.PrivateKey
	ecP384   *ecdsa.PrivateKey
	ecP521   *ecdsa.PrivateKey
	rsa2048  *rsa.PrivateKey
	rsa1024  *rsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		ecP256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecP384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		ecP521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		rsa2048, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsa1024, _ = rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a weak key the verifier must refuse
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf returns the public JWK of a private key as a map.
func jwkOf(t testing.TB, priv crypto.Signer) map[string]any {
	t.Helper()
	switch k := priv.Public().(type) {
	case *ecdsa.PublicKey:
		pt, _ := k.Bytes()
		size := (len(pt) - 1) / 2
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name, "x": b64(pt[1 : 1+size]), "y": b64(pt[1+size:])}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64([]byte{1, 0, 1})}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}
	}
	t.Fatalf("no jwk for %T", priv)
	return nil
}

// signJWS signs header.payload (both already JSON text) with priv under
// alg, as RFC 7518 encodes each algorithm's signature.
func signJWS(t testing.TB, alg string, priv crypto.Signer, header, payload string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	var sig []byte
	var err error
	switch alg {
	case "ES256", "ES384", "ES512":
		k := priv.(*ecdsa.PrivateKey)
		var d []byte
		switch alg {
		case "ES256":
			s := sha256.Sum256([]byte(input))
			d = s[:]
		default:
			h := map[string]crypto.Hash{"ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg].New()
			h.Write([]byte(input))
			d = h.Sum(nil)
		}
		r, s, e := ecdsa.Sign(rand.Reader, k, d)
		if e != nil {
			t.Fatal(e)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
	case "RS256", "PS256":
		s := sha256.Sum256([]byte(input))
		if alg == "RS256" {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, s[:])
		} else {
			sig, err = rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, s[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	case "EdDSA":
		sig = ed25519.Sign(priv.(ed25519.PrivateKey), []byte(input))
	case "none":
		return input + "."
	default:
		t.Fatalf("cannot sign %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// athOf is the ath of a token.
func athOf(token string) string {
	s := sha256.Sum256([]byte(token))
	return b64(s[:])
}

// fixture is a verifier on a test clock and replay store, and a proof
// builder for one key.
type fixture struct {
	t     testing.TB
	clk   *clock
	store *seen
	v     *Verifier
	alg   string
	priv  crypto.Signer
	jkt   string
}

const (
	testURL   = "https://api.example.com/api/profile"
	testToken = "header.payload.signature"
)

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	testKeys(t)
	f := &fixture{t: t, clk: newClock(), store: newSeen(), alg: "ES256", priv: ecP256}
	if cfg.Replay == nil {
		cfg.Replay = f.store
	}
	if cfg.Now == nil {
		cfg.Now = f.clk.Now
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	k, err := NewKey(ecP256)
	if err != nil {
		t.Fatal(err)
	}
	f.jkt = k.Thumbprint()
	return f
}

// parts are the editable header and claims of a proof.
type parts struct {
	header map[string]any
	claims map[string]any
}

func (f *fixture) parts() parts {
	return parts{
		header: map[string]any{"typ": "dpop+jwt", "alg": f.alg, "jwk": jwkOf(f.t, f.priv)},
		claims: map[string]any{"jti": b64(randBytes(16)), "htm": "GET", "htu": testURL,
			"iat": f.clk.Now().Unix(), "ath": athOf(testToken)},
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sign turns parts into a proof signed by the fixture's key.
func (f *fixture) sign(p parts) string {
	return signJWS(f.t, p.header["alg"].(string), f.priv, mustJSON(f.t, p.header), mustJSON(f.t, p.claims))
}

// request is a GET of testURL (as the API sees it behind a proxy: the
// verifier's ExternalURL gives the scheme and host) with the proofs.
func request(method, target string, proofs ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// verify checks proof on a GET of testURL with testToken bound to the
// fixture's key.
func (f *fixture) verify(proof string) error {
	_, err := f.v.Verify(context.Background(), request("GET", testURL, proof), testToken, f.jkt)
	return err
}

// refusal asserts err is an *Error with code and check.
func refusal(t testing.TB, err error, code, check string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *dpop.Error %s/%s", err, code, check)
	}
	if e.Code != code || e.Check != check {
		t.Fatalf("refusal %s/%s (%v), want %s/%s", e.Code, e.Check, e, code, check)
	}
	return e
}
