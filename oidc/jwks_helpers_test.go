package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// testVectors returns the third-party vectors directory (testenv.Vectors).
func testVectors(t testing.TB) string {
	t.Helper()
	return testenv.Vectors(t)
}

var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
)

// testRSAKey returns one of three cached RSA-2048 keys.
func testRSAKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK renders a public RSA JWK; extra members override or add.
func rsaJWK(pub *rsa.PublicKey, kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	return merge(m, extra)
}

func ecJWK(t testing.TB, pub *ecdsa.PublicKey, kid string, extra map[string]any) map[string]any {
	t.Helper()
	b, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	size := (len(b) - 1) / 2
	m := map[string]any{"kty": "EC", "kid": kid, "crv": pub.Curve.Params().Name,
		"x": b64(b[1 : 1+size]), "y": b64(b[1+size:])}
	return merge(m, extra)
}

func edJWK(pub ed25519.PublicKey, kid string, extra map[string]any) map[string]any {
	return merge(map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pub)}, extra)
}

func merge(m, extra map[string]any) map[string]any {
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEC(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// skipReason returns the reason and index of an error ParseJWKS reported
// for a key it left out.
func skipReason(t testing.TB, err error) (jose.SkipReason, int) {
	t.Helper()
	sk, ok := err.(*skippedKey)
	if !ok || sk.skip == nil || sk.skip.Reason == "" {
		t.Fatalf("skip error %T %v is not a skippedKey with a reason", err, err)
	}
	if !strings.Contains(err.Error(), string(sk.skip.Reason)) {
		t.Fatalf("skip error %q does not say why", err)
	}
	return sk.skip.Reason, sk.index
}

// validateKey is the key check of NewStaticKeySet and the JWKS loader.
func validateKey(k *Key) error { return jose.ValidateKey((*jose.Key)(k)) }

// verifyWithKey checks a compact JWS against key with the algorithm pinned to
// the key; it is a minimal reference verifier for the key tests.
func verifyWithKey(key *Key, compact string) error {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return errors.New("not three segments")
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return err
	}
	if hdr.Alg != key.Algorithm {
		return errors.New("alg differs from the key's")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	var h hash.Hash
	var ch crypto.Hash
	switch key.Algorithm[2:] {
	case "256":
		h, ch = sha256.New(), crypto.SHA256
	case "384":
		h, ch = sha512.New384(), crypto.SHA384
	case "512":
		h, ch = sha512.New(), crypto.SHA512
	}
	signed := []byte(parts[0] + "." + parts[1])
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		h.Write(signed)
		if key.Algorithm[0] == 'P' {
			return rsa.VerifyPSS(pub, ch, h.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(pub, ch, h.Sum(nil), sig)
	case *ecdsa.PublicKey:
		h.Write(signed)
		n := len(sig) / 2
		if len(sig) != 2*((pub.Curve.Params().BitSize+7)/8) {
			return errors.New("bad signature length")
		}
		if !ecdsa.Verify(pub, h.Sum(nil), new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return errors.New("ecdsa verification failed")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, signed, sig) {
			return errors.New("ed25519 verification failed")
		}
		return nil
	}
	return errors.New("unsupported key")
}

// jwksServer is a mutable fake JWKS endpoint that counts requests.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	status   int
	header   http.Header
	delay    time.Duration
	block    chan struct{} // when set, requests wait until it is closed
	requests atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK, header: http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/certs" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		s.mu.Lock()
		body, status, delay, block := s.body, s.status, s.delay, s.block
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		if block != nil {
			<-block
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body != nil {
		s.body = body
	}
	s.status = status
	if header == nil {
		header = http.Header{}
	}
	s.header = header
}

func (s *jwksServer) url() string { return s.URL + "/certs" }

// fakeClock is an injectable clock that tests advance by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// copyLimited copies at most limit bytes and fails beyond.
func copyLimited(dst *strings.Builder, src io.Reader, limit int64) (int64, error) {
	n, err := io.Copy(dst, io.LimitReader(src, limit+1))
	if err == nil && n > limit {
		return n, errBodyTooLarge
	}
	return n, err
}
