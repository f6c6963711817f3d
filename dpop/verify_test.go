package dpop

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestVerifyAlgorithms: a proof signed with each supported algorithm is
// accepted, and its thumbprint is the key's.
func TestVerifyAlgorithms(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		alg  string
		priv crypto.Signer
	}{
		{"ES256", ecP256}, {"ES384", ecP384}, {"ES512", ecP521},
		{"RS256", rsa2048}, {"PS256", rsa2048}, {"EdDSA", edKey},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.alg, f.priv = tc.alg, tc.priv
			k, err := NewKey(tc.priv)
			if err != nil {
				t.Fatal(err)
			}
			f.jkt = k.Thumbprint()
			p, err := f.v.Verify(context.Background(), request("GET", testURL, f.sign(f.parts())), testToken, f.jkt)
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != f.jkt || p.ID == "" || !p.IssuedAt.Equal(f.clk.Now()) {
				t.Fatalf("proof %+v", p)
			}
		})
	}
}

// TestVerifyRefusals: every check of RFC 9449 §4.3 and §7 refuses a proof
// that fails it, with the right code and check.
func TestVerifyRefusals(t *testing.T) {
	f := newFixture(t, Config{})
	edit := func(fn func(p *parts)) string {
		p := f.parts()
		fn(&p)
		return f.sign(p)
	}
	raw := func(header, claims string) string { return signJWS(t, "ES256", ecP256, header, claims) }
	good := f.parts()
	jwk := mustJSON(t, good.header["jwk"])
	claims := mustJSON(t, good.claims)
	tests := []struct {
		name, proof, code, check string
	}{
		// The header field and the JWS.
		{"empty", "", codeInvalidProof, "header"},
		{"two segments", "a.b", codeInvalidProof, "header"},
		{"json serialization", `{"payload":"e30","signatures":[]}`, codeInvalidProof, "header"},
		{"too large", strings.Repeat("a", 9<<10) + ".b.c", codeInvalidProof, "header"},
		{"padded base64", strings.Replace(edit(func(*parts) {}), ".", "=.", 1), codeInvalidProof, "header"},
		{"whitespace", " " + edit(func(*parts) {}), codeInvalidProof, "header"},
		{"crit header", edit(func(p *parts) { p.header["crit"] = []string{"exp"} }), codeInvalidProof, "header"},
		{"duplicate header member", raw(`{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":`+jwk+`}`, claims), codeInvalidProof, "header"},
		{"case-variant header member", raw(`{"typ":"dpop+jwt","alg":"ES256","ALG":"none","jwk":`+jwk+`}`, claims), codeInvalidProof, "header"},
		// typ.
		{"no typ", edit(func(p *parts) { delete(p.header, "typ") }), codeInvalidProof, "typ"},
		{"typ JWT", edit(func(p *parts) { p.header["typ"] = "JWT" }), codeInvalidProof, "typ"},
		{"typ at+jwt", edit(func(p *parts) { p.header["typ"] = "at+jwt" }), codeInvalidProof, "typ"},
		{"typ upper case", edit(func(p *parts) { p.header["typ"] = "DPOP+JWT" }), codeInvalidProof, "typ"},
		// alg.
		{"alg none", raw(`{"typ":"dpop+jwt","alg":"none","jwk":`+jwk+`}`, claims), codeInvalidProof, "alg"},
		{"alg HS256", raw(`{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"c2VjcmV0"}}`, claims), codeInvalidProof, "alg"},
		{"alg lower case", raw(`{"typ":"dpop+jwt","alg":"es256","jwk":`+jwk+`}`, claims), codeInvalidProof, "alg"},
		// jwk.
		{"no jwk", edit(func(p *parts) { delete(p.header, "jwk") }), codeInvalidProof, "jwk"},
		{"jwk not an object", edit(func(p *parts) { p.header["jwk"] = "key" }), codeInvalidProof, "header"},
		{"jwk with private member", edit(func(p *parts) {
			p.header["jwk"].(map[string]any)["d"] = b64(ecP256.D.Bytes())
		}), codeInvalidProof, "jwk"},
		{"jwk off curve", edit(func(p *parts) {
			y := []byte(p.header["jwk"].(map[string]any)["y"].(string))
			y[5] ^= 1
			p.header["jwk"].(map[string]any)["y"] = string(y)
		}), codeInvalidProof, "jwk"},
		{"jwk of another curve", edit(func(p *parts) { p.header["jwk"] = jwkOf(t, ecP384) }), codeInvalidProof, "jwk"},
		{"jwk alg differs", edit(func(p *parts) { p.header["jwk"].(map[string]any)["alg"] = "ES384" }), codeInvalidProof, "jwk"},
		{"jwk RSA for ES256", edit(func(p *parts) { p.header["jwk"] = jwkOf(t, rsa2048) }), codeInvalidProof, "jwk"},
		{"jwk repeated member", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+strings.Replace(jwk, `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1)+`}`, claims), codeInvalidProof, "header"},
		// The binding and the signature.
		{"key of another token", edit(func(p *parts) { p.header["jwk"] = jwkOf(t, mustP256(t)) }), codeInvalidToken, "jkt"},
		{"signature by another key", func() string {
			g := newFixture(t, Config{})
			g.priv = mustP256(t)
			p := f.parts()
			return g.sign(p) // header names f's key, signed by another
		}(), codeInvalidProof, "sig"},
		{"unsigned", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, claims)[:strings.LastIndexByte(raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, claims), '.')+1], codeInvalidProof, "header"},
		// Claims.
		{"claims not an object", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, `[]`), codeInvalidProof, "claims"},
		{"duplicate claim", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, strings.Replace(claims, `{`, `{"htm":"GET",`, 1)), codeInvalidProof, "claims"},
		{"case-variant claim", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, strings.Replace(claims, `{`, `{"HTM":"POST",`, 1)), codeInvalidProof, "claims"},
		{"no jti", edit(func(p *parts) { delete(p.claims, "jti") }), codeInvalidProof, "jti"},
		{"no htm", edit(func(p *parts) { delete(p.claims, "htm") }), codeInvalidProof, "htm"},
		{"no htu", edit(func(p *parts) { delete(p.claims, "htu") }), codeInvalidProof, "htu"},
		{"no iat", edit(func(p *parts) { delete(p.claims, "iat") }), codeInvalidProof, "iat"},
		{"jti a number", edit(func(p *parts) { p.claims["jti"] = 7 }), codeInvalidProof, "claims"},
		{"jti null", edit(func(p *parts) { p.claims["jti"] = nil }), codeInvalidProof, "claims"},
		{"jti too long", edit(func(p *parts) { p.claims["jti"] = strings.Repeat("j", 513) }), codeInvalidProof, "claims"},
		{"iat a string", edit(func(p *parts) { p.claims["iat"] = "1800000000" }), codeInvalidProof, "claims"},
		{"iat fractional", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, strings.Replace(claims, `"iat":1800000000`, `"iat":1800000000.5`, 1)), codeInvalidProof, "claims"},
		{"iat 1e300", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, strings.Replace(claims, `"iat":1800000000`, `"iat":1e300`, 1)), codeInvalidProof, "claims"},
		{"trailing data", raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, claims+`{}`), codeInvalidProof, "claims"},
		// The request.
		{"other method", edit(func(p *parts) { p.claims["htm"] = "POST" }), codeInvalidProof, "htm"},
		{"method in lower case", edit(func(p *parts) { p.claims["htm"] = "get" }), codeInvalidProof, "htm"},
		{"other path", edit(func(p *parts) { p.claims["htu"] = "https://api.example.com/api/admin" }), codeInvalidProof, "htu"},
		{"other host", edit(func(p *parts) { p.claims["htu"] = "https://evil.example.com/api/profile" }), codeInvalidProof, "htu"},
		{"other scheme", edit(func(p *parts) { p.claims["htu"] = "http://api.example.com/api/profile" }), codeInvalidProof, "htu"},
		{"user info", edit(func(p *parts) { p.claims["htu"] = "https://u@api.example.com/api/profile" }), codeInvalidProof, "htu"},
		{"relative htu", edit(func(p *parts) { p.claims["htu"] = "/api/profile" }), codeInvalidProof, "htu"},
		{"iat too old", edit(func(p *parts) { p.claims["iat"] = f.clk.Now().Add(-61 * time.Second).Unix() }), codeInvalidProof, "iat"},
		{"iat in the future", edit(func(p *parts) { p.claims["iat"] = f.clk.Now().Add(6 * time.Second).Unix() }), codeInvalidProof, "iat"},
		{"no ath", edit(func(p *parts) { delete(p.claims, "ath") }), codeInvalidProof, "ath"},
		{"ath of another token", edit(func(p *parts) { p.claims["ath"] = athOf("another.token.here") }), codeInvalidProof, "ath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := refusal(t, f.verify(tt.proof), tt.code, tt.check)
			if strings.Contains(e.Error(), testToken) || (tt.proof != "" && len(tt.proof) > 40 && strings.Contains(e.Error(), tt.proof[:40])) {
				t.Fatalf("refusal %q leaks the token or the proof", e)
			}
		})
	}
	if len(f.store.keys) != 0 {
		t.Fatalf("refused proofs were recorded: %d", len(f.store.keys))
	}
}

func mustP256(t testing.TB) crypto.Signer {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.signer
}

// TestVerifyIATWindow: iat is accepted from MaxAge back to Leeway ahead,
// both ends included, and the window is configurable.
func TestVerifyIATWindow(t *testing.T) {
	for _, tc := range []struct {
		cfg      Config
		back, fw time.Duration
	}{
		{Config{}, 60 * time.Second, 5 * time.Second},
		{Config{MaxAge: 10 * time.Second, Leeway: -1}, 10 * time.Second, 0},
	} {
		f := newFixture(t, tc.cfg)
		at := func(d time.Duration) error {
			p := f.parts()
			p.claims["iat"] = f.clk.Now().Add(d).Unix()
			return f.verify(f.sign(p))
		}
		for _, d := range []time.Duration{-tc.back, 0, tc.fw} {
			if err := at(d); err != nil {
				t.Errorf("%v: iat %v: %v", tc.cfg, d, err)
			}
		}
		for _, d := range []time.Duration{-tc.back - time.Second, tc.fw + time.Second} {
			refusal(t, at(d), codeInvalidProof, "iat")
		}
	}
}

// TestVerifySetting: a refusal that a Config field decides names it, and
// an iat outside the window names the bound it crossed with the clock; a
// refusal that is the proof's fault alone names none.
func TestVerifySetting(t *testing.T) {
	f := newFixture(t, Config{})
	at := func(d time.Duration) error {
		p := f.parts()
		p.claims["iat"] = f.clk.Now().Add(d).Unix()
		return f.verify(f.sign(p))
	}
	old := refusal(t, at(-61*time.Second), codeInvalidProof, "iat")
	ahead := refusal(t, at(6*time.Second), codeInvalidProof, "iat")
	now := f.clk.Now()
	for _, tc := range []struct {
		e                          *Error
		setting, expected, present string
	}{
		{old, "MaxAge", "not before " + now.Add(-time.Minute).UTC().Format(time.RFC3339) + " (now " + now.UTC().Format(time.RFC3339) + " - MaxAge 1m0s)",
			now.Add(-61 * time.Second).UTC().Format(time.RFC3339)},
		{ahead, "Leeway", "not after " + now.Add(5*time.Second).UTC().Format(time.RFC3339) + " (now " + now.UTC().Format(time.RFC3339) + " + Leeway 5s)",
			now.Add(6 * time.Second).UTC().Format(time.RFC3339)},
	} {
		if tc.e.Setting != tc.setting || tc.e.Expected != tc.expected || tc.e.Presented != tc.present {
			t.Errorf("iat refusal %+v, want setting %q, expected %q, presented %q", tc.e, tc.setting, tc.expected, tc.present)
		}
	}

	p := f.parts()
	p.claims["htu"] = "https://api.example.com/api/admin"
	if e := refusal(t, f.verify(f.sign(p)), codeInvalidProof, "htu"); e.Setting != "ExternalURL" {
		t.Errorf("htu: setting %q", e.Setting)
	}
	g := newFixture(t, Config{Algorithms: []string{"PS256"}})
	if e := refusal(t, g.verify(g.sign(g.parts())), codeInvalidProof, "alg"); e.Setting != "Algorithms" {
		t.Errorf("alg: setting %q", e.Setting)
	}
	n := newFixture(t, Config{NonceSecret: []byte(strings.Repeat("s", 32))})
	if e := refusal(t, n.verify(n.sign(n.parts())), codeUseNonce, "nonce"); e.Setting != "NonceSecret" {
		t.Errorf("nonce: setting %q", e.Setting)
	}
	p = f.parts()
	p.claims["htm"] = "POST"
	if e := refusal(t, f.verify(f.sign(p)), codeInvalidProof, "htm"); e.Setting != "" {
		t.Errorf("htm: setting %q, want none", e.Setting)
	}
}

// TestVerifyHeaders: exactly one DPoP header.
func TestVerifyHeaders(t *testing.T) {
	f := newFixture(t, Config{})
	p := f.sign(f.parts())
	for _, tc := range []struct {
		name   string
		proofs []string
	}{{"none", nil}, {"two", []string{p, p}}, {"two different", []string{p, f.sign(f.parts())}}} {
		_, err := f.v.Verify(context.Background(), request("GET", testURL, tc.proofs...), testToken, f.jkt)
		refusal(t, err, codeInvalidProof, "header")
	}
}

// TestVerifyReplay: a proof is accepted once; again, also through another
// verifier sharing the store (another replica), it is refused. The record
// keys on the key and the jti (hashed, fixed length) under a namespace of
// its own, and lives until iat + MaxAge.
func TestVerifyReplay(t *testing.T) {
	f := newFixture(t, Config{})
	proof := f.sign(f.parts())
	if err := f.verify(proof); err != nil {
		t.Fatal(err)
	}
	refusal(t, f.verify(proof), codeInvalidProof, "replay")
	other, err := NewVerifier(Config{Replay: f.store, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Verify(context.Background(), request("GET", testURL, proof), testToken, f.jkt)
	refusal(t, err, codeInvalidProof, "replay")
	if f.store.iss != replayIssuer || len(f.store.keys[0]) != 43 {
		t.Fatalf("record %q %q", f.store.iss, f.store.keys[0])
	}
	// The same jti under another key is another proof.
	p := f.parts()
	jti := p.claims["jti"]
	p2 := f.parts()
	p2.claims["jti"] = jti
	if err := f.verify(f.sign(p2)); err != nil {
		t.Fatalf("fresh proof: %v", err)
	}
}

// TestVerifyReplayStoreError: a store that fails refuses the proof with
// its error (not an *Error: the caller answers 503), and a refused proof is
// never recorded.
func TestVerifyReplayStoreError(t *testing.T) {
	f := newFixture(t, Config{})
	boom := errors.New("store down")
	f.store.err = boom
	err := f.verify(f.sign(f.parts()))
	var e *Error
	if !errors.Is(err, boom) || errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
}

// TestVerifyNonces: with a nonce secret, a proof without the current (or
// the previous step's) nonce is refused with use_dpop_nonce; Nonce gives
// the one to send; any replica with the same secret accepts it.
func TestVerifyNonces(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	f := newFixture(t, Config{NonceSecret: secret, NonceLifetime: time.Minute})
	withNonce := func(n string) error {
		p := f.parts()
		if n != "" {
			p.claims["nonce"] = n
		}
		return f.verify(f.sign(p))
	}
	refusal(t, withNonce(""), codeUseNonce, "nonce")
	refusal(t, withNonce("made-up"), codeUseNonce, "nonce")
	n := f.v.Nonce()
	if n == "" || n != f.v.Nonce() {
		t.Fatalf("nonce %q not stable within a step", n)
	}
	if err := withNonce(n); err != nil {
		t.Fatal(err)
	}
	replica, _ := NewVerifier(Config{Replay: f.store, Now: f.clk.Now, NonceSecret: secret, NonceLifetime: time.Minute})
	if replica.Nonce() != n {
		t.Fatal("replicas with one secret disagree on the nonce")
	}
	other, _ := NewVerifier(Config{Replay: f.store, Now: f.clk.Now, NonceSecret: []byte(strings.Repeat("t", 32))})
	if other.Nonce() == n {
		t.Fatal("another secret gives the same nonce")
	}
	f.clk.Add(time.Minute) // the next step: the previous nonce still passes
	if f.v.Nonce() == n {
		t.Fatal("nonce did not rotate")
	}
	if err := withNonce(n); err != nil {
		t.Fatalf("previous step's nonce: %v", err)
	}
	f.clk.Add(time.Minute) // two steps later: stale
	e := refusal(t, withNonce(n), codeUseNonce, "nonce")
	if e.Presented == "" {
		t.Fatal("no presented value")
	}
	// Without a secret there is no nonce and none is required.
	g := newFixture(t, Config{})
	if g.v.Nonce() != "" {
		t.Fatal("nonce without secret")
	}
}

// TestVerifyWithoutToken: for a proof that comes without an access token
// (a token endpoint), ath and the binding are not checked.
func TestVerifyWithoutToken(t *testing.T) {
	f := newFixture(t, Config{})
	p := f.parts()
	delete(p.claims, "ath")
	r := request("GET", testURL, f.sign(p))
	if _, err := f.v.Verify(context.Background(), r, "", ""); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyAlgorithmAllowList: Config.Algorithms restricts the proofs;
// unknown and symmetric names are configuration errors.
func TestVerifyAlgorithmAllowList(t *testing.T) {
	f := newFixture(t, Config{Algorithms: []string{"PS256"}})
	e := refusal(t, f.verify(f.sign(f.parts())), codeInvalidProof, "alg")
	if e.Expected != "PS256" || e.Presented != `"ES256"` {
		t.Fatalf("explanation %q / %q", e.Expected, e.Presented)
	}
	if got := f.v.Algorithms(); len(got) != 1 || got[0] != "PS256" {
		t.Fatalf("Algorithms = %v", got)
	}
	g := newFixture(t, Config{})
	if got := strings.Join(g.v.Algorithms(), " "); got != "ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA" {
		t.Fatalf("default algorithms %q", got)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	st := newSeen()
	for name, cfg := range map[string]Config{
		"no replay store":   {},
		"HS256":             {Replay: st, Algorithms: []string{"HS256"}},
		"none":              {Replay: st, Algorithms: []string{"none"}},
		"empty algs":        {Replay: st, Algorithms: []string{}},
		"short secret":      {Replay: st, NonceSecret: []byte("short")},
		"negative max age":  {Replay: st, MaxAge: -time.Second},
		"negative lifetime": {Replay: st, NonceSecret: make([]byte, 32), NonceLifetime: -1},
		"relative url":      {Replay: st, ExternalURL: "/api"},
		"ftp url":           {Replay: st, ExternalURL: "ftp://api.example.com"},
		"url with query":    {Replay: st, ExternalURL: "https://api.example.com/?a=b"},
		"url with user":     {Replay: st, ExternalURL: "https://u:p@api.example.com"},
	} {
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestVerifyReplayRespelt: an ES256 proof has a second valid signature,
// (r, n−s); the replay record keys on what was signed (the key and the
// jti), not on the proof's text, so the respelt proof is a replay too.
func TestVerifyReplayRespelt(t *testing.T) {
	f := newFixture(t, Config{})
	proof := f.sign(f.parts())
	if err := f.verify(proof); err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(proof, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(proof[i+1:])
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	twin := proof[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	if twin == proof {
		t.Fatal("no twin")
	}
	refusal(t, f.verify(twin), codeInvalidProof, "replay")
}
