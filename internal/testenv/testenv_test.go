package testenv

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// recorder captures Skip and Fatal instead of stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = true; r.msg = args[0].(string) }
func (r *recorder) Fatal(args ...any) { r.failed = true; r.msg = args[0].(string) }

func TestUnavailable(t *testing.T) {
	tests := []struct {
		ci         string
		wantSkip   bool
		wantFailed bool
	}{
		{ci: "", wantSkip: true},
		{ci: "false", wantSkip: true},
		{ci: "true", wantFailed: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			Unavailable(r, "redis gone")
			if r.skipped != tt.wantSkip || r.failed != tt.wantFailed {
				t.Fatalf("skipped=%v failed=%v, want %v %v", r.skipped, r.failed, tt.wantSkip, tt.wantFailed)
			}
			if !strings.Contains(r.msg, "make services") || !strings.Contains(r.msg, "redis gone") {
				t.Fatalf("message %q does not name the service and make services", r.msg)
			}
		})
	}
}

func TestLookupPrefersEnvironment(t *testing.T) {
	t.Setenv("KEYCLOAK_REALM", "from-env")
	if v, ok := Lookup("KEYCLOAK_REALM"); !ok || v != "from-env" {
		t.Fatalf("Lookup = %q, %v", v, ok)
	}
}

func TestServices(t *testing.T) {
	kc := Keycloak(t)
	if !strings.HasPrefix(kc, "http") {
		t.Fatalf("Keycloak = %q", kc)
	}
	if iss := KeycloakIssuer(t); iss != kc+"/realms/tokenwarden" {
		t.Fatalf("KeycloakIssuer = %q", iss)
	}
	if u, p := KeycloakAdmin(t); u == "" || p == "" {
		t.Fatal("empty admin credentials")
	}
	if r := Redis(t); !strings.HasPrefix(r, "redis://") {
		t.Fatalf("Redis = %q", r)
	}
	bin := RedisServerBin(t)
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		t.Fatalf("RedisServerBin = %q: %v", bin, err)
	}
}

func TestVectors(t *testing.T) {
	dir := Vectors(t)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("Vectors dir %s unreadable or empty: %v", dir, err)
	}
}

// TestSkipShort: -short skips a test that needs a server, except under
// CI=true, where `make test` and -short alike run everything.
func TestSkipShort(t *testing.T) {
	short := flag.Lookup("test.short").Value.String()
	t.Cleanup(func() { flag.Set("test.short", short) })
	for _, tt := range []struct {
		short, ci string
		wantSkip  bool
	}{
		{"true", "", true},
		{"true", "true", false},
		{"false", "", false},
	} {
		flag.Set("test.short", tt.short)
		t.Setenv("CI", tt.ci)
		r := &recorder{TB: t}
		SkipShort(r, "Keycloak")
		if r.skipped != tt.wantSkip || r.failed {
			t.Errorf("-short=%s CI=%q: skipped=%v failed=%v, want skipped=%v", tt.short, tt.ci, r.skipped, r.failed, tt.wantSkip)
		}
		if r.skipped && !strings.Contains(r.msg, "Keycloak") {
			t.Errorf("skip message %q does not name the server", r.msg)
		}
	}
}
