package dpop

import (
	"context"
	"net/http/httptest"
	"testing"
)

// TestSameURI: htu is compared after RFC 3986 §6.2.2 and §6.2.3
// normalisation, without query and fragment.
func TestSameURI(t *testing.T) {
	const want = "https://api.example.com/api/profile"
	for _, htu := range []string{
		want,
		want + "?page=2",
		want + "#top",
		"HTTPS://API.Example.COM/api/profile",
		"https://api.example.com:443/api/profile",
		"https://api.example.com:/api/profile",
		"https://api.example.com/api/%70rofile", // unreserved, percent-encoded
		"https://api.example.com/api/./profile",
		"https://api.example.com/x/../api/profile",
	} {
		if !sameURI(htu, want) {
			t.Errorf("%q refused", htu)
		}
	}
	for _, htu := range []string{
		"https://api.example.com/api/Profile",      // paths are case-sensitive
		"https://api.example.com:8443/api/profile", // another port
		"http://api.example.com/api/profile",
		"https://api.example.com/api/profile/",
		"https://api.example.com.evil.com/api/profile",
		"https://user@api.example.com/api/profile",
		"https://api.example.com/api/profile%",
		"https://api.example.com/api/pro file",
		"https://api.example.com/api/pro\x00file",
		"https://api.example.com/api/prof\u00efle",
		"api.example.com/api/profile",
		"",
	} {
		if sameURI(htu, want) {
			t.Errorf("%q accepted", htu)
		}
	}
	// Reserved characters stay encoded, in upper case.
	if !sameURI("https://a.example/x%2fy", "https://a.example/x%2Fy") || sameURI("https://a.example/x%2Fy", "https://a.example/x/y") {
		t.Error("percent-encoded reserved character")
	}
	if !sameURI("http://a.example", "http://a.example:80/") {
		t.Error("empty path and default port")
	}
}

func TestRemoveDotSegments(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b/c/./../../g":    "/a/g",
		"/mid/content=5/../6": "/mid/6",
		"/a/b/..":             "/a/",
		"/a/.":                "/a/",
		"/..":                 "/",
		"/../a":               "/a",
		"/a.b/c":              "/a.b/c",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// TestExternalURL: behind a proxy the API sees http://10.0.0.5:8080/...
// while the client signed https://api.example.com/...; ExternalURL (with
// an optional prefix the proxy strips) makes them agree, and a proof for
// the internal address is then refused.
func TestExternalURL(t *testing.T) {
	for _, tc := range []struct{ ext, signed, internal string }{
		{"https://api.example.com", "https://api.example.com/api/profile", "http://10.0.0.5:8080/api/profile"},
		{"https://API.example.com:443/", "https://api.example.com/api/profile", "http://10.0.0.5:8080/api/profile"},
		{"https://example.com/backend", "https://example.com/backend/api/profile", "http://10.0.0.5:8080/api/profile"},
	} {
		f := newFixture(t, Config{ExternalURL: tc.ext})
		p := f.parts()
		p.claims["htu"] = tc.signed
		if _, err := f.v.Verify(context.Background(), request("GET", tc.internal, f.sign(p)), testToken, f.jkt); err != nil {
			t.Errorf("%s: %v", tc.ext, err)
		}
		p = f.parts()
		p.claims["htu"] = tc.internal
		_, err := f.v.Verify(context.Background(), request("GET", tc.internal, f.sign(p)), testToken, f.jkt)
		refusal(t, err, codeInvalidProof, "htu")
	}
}

// TestRequestURIWithoutExternalURL: the connection's scheme and the Host
// header.
func TestRequestURIWithoutExternalURL(t *testing.T) {
	v := &Verifier{}
	r := httptest.NewRequest("GET", "http://10.0.0.5:8080/a%20b?q=1", nil)
	if got := v.requestURI(r); got != "http://10.0.0.5:8080/a%20b" {
		t.Fatal(got)
	}
	r = httptest.NewRequest("GET", "https://api.example.com/", nil)
	if got := v.requestURI(r); got != "https://api.example.com/" {
		t.Fatal(got)
	}
}
