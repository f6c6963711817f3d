package adapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// A request without credentials gets a bare challenge; the handler never
// runs.
func ExampleAuthenticator_Middleware() {
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: nopVerifier{}})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	rec = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer a b")
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer realm="api"
	// 400 Bearer realm="api", error="invalid_request", error_description="malformed authorization"
}

// Guards compose; a refusal names the missing scope.
func ExampleAny() {
	q := adapter.Any(adapter.RequireRealmRole("admin"), adapter.RequireScope("orders:write"))
	c := &oidc.Claims{Scope: "openid orders:read", RealmRoles: []string{"user"}}
	fmt.Println(q.Allow(c))
	c.Scope += " orders:write"
	fmt.Println(q.Allow(c))
	// Output:
	// false
	// true
}

type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string) (*oidc.Claims, error) {
	return nil, &oidc.ValidationError{Kind: oidc.ErrMalformed}
}

// quickStartParts returns the import block of src and the body of its func
// fn.
func quickStartParts(t *testing.T, src, fn string) (imports, body string) {
	t.Helper()
	i := strings.Index(src, "import (\n")
	j := strings.Index(src, "\n)\n")
	k := strings.Index(src, "\nfunc "+fn+"() {\n")
	if i < 0 || j < i || k < j {
		t.Fatalf("no import block and func %s in\n%s", fn, src)
	}
	body = src[k+len("\nfunc "+fn+"() {\n"):]
	end := strings.Index(body, "\n}\n")
	if end < 0 {
		t.Fatalf("func %s does not end", fn)
	}
	return src[i:j], body[:end]
}

// TestReadmeQuickStart: README.md's quick start is Example's imports and
// body, so that it compiles (and vet checks it) with every change.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "## Quick start")
	if i < 0 {
		t.Fatal("README.md has no quick start")
	}
	s = s[i:]
	i = strings.Index(s, "```go\n")
	j := strings.Index(s[i+1:], "```\n")
	if i < 0 || j < 0 {
		t.Fatal("the quick start has no go block")
	}
	block := s[i+len("```go\n") : i+1+j]
	src, err := os.ReadFile("example_quickstart_test.go")
	if err != nil {
		t.Fatal(err)
	}
	wantImports, wantBody := quickStartParts(t, string(src), "Example")
	gotImports, gotBody := quickStartParts(t, block, "main")
	if gotImports != wantImports || gotBody != wantBody {
		t.Errorf("README.md's quick start differs from Example in example_quickstart_test.go:\n--- README\n%s\n--- Example\n%s\n%s",
			block, wantImports, wantBody)
	}
}
