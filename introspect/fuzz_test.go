package introspect

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseIntrospectionResponse feeds arbitrary bodies to the response
// parser and the error-body reader. Seeds: testdata/fuzz/FuzzParseIntrospectionResponse.
func FuzzParseIntrospectionResponse(f *testing.F) {
	f.Add([]byte(`{"active":false}`))
	f.Add([]byte(`{"active":true,"exp":1800000300,"iss":"https://kc/realms/r","aud":["backend"],"azp":"mobile"}`))
	f.Add([]byte(`{"error":"invalid_request","error_description":"Unsupported token type."}`))
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseResponse(body)
		if err == nil && r.active {
			if r.result == nil || r.result.Claims == nil {
				t.Fatal("active answer without claims")
			}
			if !bytes.Contains(body, []byte("true")) {
				t.Fatal("active without a literal true in the body")
			}
		}
		if err == nil && r.active && r.errMember {
			t.Fatal("both active and error")
		}
		withToken := bytes.ReplaceAll(body, []byte("TOKEN"), []byte(token))
		e := errorFromBody(EndpointIntrospection, 400, withToken, token)
		if msg := e.Error(); strings.Contains(msg, token) {
			t.Fatalf("error contains the token: %q", msg)
		}
		if len(e.Description) > maxDescription+len("…") || len(e.Code) > maxDescription+len("…") {
			t.Fatalf("unbounded description: %d bytes", len(e.Description))
		}
	})
}
