package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// server is an authorization server's token endpoint (/token) and an API
// (/api) that check proofs with a Verifier requiring nonces, answering
// use_dpop_nonce the way each does (RFC 9449 §8, §9).
type server struct {
	*httptest.Server
	v         *Verifier
	key       *Key
	tokens    atomic.Int32 // token requests accepted
	apiCalls  atomic.Int32 // API requests accepted
	attempts  atomic.Int32 // requests received
	lastBody  atomic.Value
	nonceless bool
}

func newServer(t *testing.T, key *Key, nonces bool) *server {
	t.Helper()
	s := &server{key: key}
	cfg := Config{Replay: newSeen()}
	if nonces {
		cfg.NonceSecret = []byte(strings.Repeat("n", 32))
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.v = v
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.lastBody.Store(string(b))
		_, err := s.v.Verify(r.Context(), r, "", "")
		w.Header().Set("Content-Type", "application/json")
		var e *Error
		if errors.As(err, &e) {
			if e.Code == codeUseNonce {
				w.Header().Set("DPoP-Nonce", s.v.Nonce())
			}
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code})
			return
		}
		s.tokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + key.Thumbprint()[:8], "token_type": "DPoP", "expires_in": 300})
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.lastBody.Store(string(b))
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "DPoP ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, err := s.v.Verify(r.Context(), r, auth[5:], key.Thumbprint())
		var e *Error
		if errors.As(err, &e) {
			if e.Code == codeUseNonce {
				w.Header().Set("DPoP-Nonce", s.v.Nonce())
			}
			w.Header().Set("WWW-Authenticate", `DPoP error="`+e.Code+`", algs="ES256"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.apiCalls.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// TestTransportNonceRetry: the first request to each server is refused
// for want of a nonce and sent again once with it, body replayed; later
// requests carry the remembered nonce at once.
func TestTransportNonceRetry(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, key, true)
	hc := &http.Client{Transport: &Transport{Key: key}}

	resp, err := hc.Post(s.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=password"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.tokens.Load() != 1 || s.attempts.Load() != 2 || s.lastBody.Load() != "grant_type=password" {
		t.Fatalf("token: %d, %d accepted of %d, body %q", resp.StatusCode, s.tokens.Load(), s.attempts.Load(), s.lastBody.Load())
	}
	req, _ := http.NewRequest("POST", s.URL+"/api", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "DPoP at-"+key.Thumbprint()[:8])
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// One origin: the nonce learnt at the token endpoint serves the API.
	if resp.StatusCode != 200 || s.apiCalls.Load() != 1 || s.attempts.Load() != 3 {
		t.Fatalf("api: %d after %d attempts", resp.StatusCode, s.attempts.Load())
	}
}

// TestTransportNoRetryWithoutGetBody: a body that cannot be replayed is
// not sent twice; the refusal is returned as is.
func TestTransportNoRetryWithoutGetBody(t *testing.T) {
	key, _ := GenerateKey()
	s := newServer(t, key, true)
	req, _ := http.NewRequest("POST", s.URL+"/token", io.NopCloser(strings.NewReader("grant_type=password")))
	req.GetBody = nil
	resp, err := (&Transport{Key: key}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || s.attempts.Load() != 1 || !strings.Contains(string(b), "use_dpop_nonce") {
		t.Fatalf("%d after %d attempts: %s", resp.StatusCode, s.attempts.Load(), b)
	}
}

// TestTransportWrongKey: the API refuses the proof of another key, and the
// transport does not retry a refusal that is not use_dpop_nonce.
func TestTransportWrongKey(t *testing.T) {
	key, _ := GenerateKey()
	other, _ := GenerateKey()
	s := newServer(t, key, false)
	req, _ := http.NewRequest("GET", s.URL+"/api", nil)
	req.Header.Set("Authorization", "DPoP at")
	resp, err := (&http.Client{Transport: &Transport{Key: other}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || s.attempts.Load() != 1 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("%d %q after %d attempts", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), s.attempts.Load())
	}
}

// TestTransportRequestUnchanged: the caller's request is not modified.
func TestTransportRequestUnchanged(t *testing.T) {
	key, _ := GenerateKey()
	s := newServer(t, key, false)
	req, _ := http.NewRequest("GET", s.URL+"/api", nil)
	req.Header.Set("Authorization", "DPoP at-"+key.Thumbprint()[:8])
	resp, err := (&Transport{Key: key}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || req.Header.Get("DPoP") != "" {
		t.Fatalf("%d; request header %q", resp.StatusCode, req.Header.Get("DPoP"))
	}
	if _, err := (&Transport{}).RoundTrip(req); err == nil {
		t.Fatal("a Transport without Key sent a request")
	}
}

// TestNewKey: each supported key type signs proofs with its algorithm
// that the Verifier accepts; weak or unsupported keys are refused.
func TestNewKey(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{{"P-256", ecP256, "ES256"}, {"P-384", ecP384, "ES384"}, {"P-521", ecP521, "ES512"}, {"RSA", rsa2048, "PS256"}, {"Ed25519", edKey, "EdDSA"}} {
		k, err := NewKey(tc.key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if k.alg.String() != tc.alg {
			t.Fatalf("%s: alg %s", tc.name, k.alg)
		}
		f := newFixture(t, Config{})
		proof, err := k.proof("GET", testURL+"?q=1#f", testToken, "", f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.v.Verify(context.Background(), request("GET", testURL, proof), testToken, k.Thumbprint()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, s := range map[string]crypto.Signer{"rsa 1024": rsa1024, "P-224": p224, "nil": nil} {
		if _, err := NewKey(s); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := ecP256Key(t).Proof("GET", "/relative", "", ""); err == nil {
		t.Error("proof for a relative URL")
	}
}

func ecP256Key(t *testing.T) *Key {
	k, err := NewKey(ecP256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// derSigner is a crypto.Signer as a key store exposes one: only Public and
// Sign (ASN.1 DER for ECDSA).
type derSigner struct{ k *ecdsa.PrivateKey }

func (s derSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s derSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

// TestKeyOpaqueSigner: a signer that is not an *ecdsa.PrivateKey (an HSM,
// a platform keystore) works the same.
func TestKeyOpaqueSigner(t *testing.T) {
	testKeys(t)
	k, err := NewKey(derSigner{ecP256})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Config{})
	proof, err := k.proof("GET", testURL, testToken, "", f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.verify(proof); err != nil {
		t.Fatal(err)
	}
}
