package services

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestVersionMatchesDotEnv(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	env, err := ReadEnvFile(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	if got := env["KEYCLOAK_VERSION"]; got != KeycloakVersion {
		t.Errorf(".env KEYCLOAK_VERSION = %q, KeycloakVersion = %q", got, KeycloakVersion)
	}
	if got := env["KEYCLOAK_DIST_SHA256"]; got != KeycloakDistSHA256 {
		t.Errorf(".env KEYCLOAK_DIST_SHA256 = %q, KeycloakDistSHA256 = %q", got, KeycloakDistSHA256)
	}
}

func TestParseEnv(t *testing.T) {
	got := ParseEnv([]byte("# comment\n\nA=1\nexport B = two \nC=\"quoted value\"\nD='x'\nnot a pair\nE=a=b\n"))
	want := map[string]string{"A": "1", "B": "two", "C": "quoted value", "D": "x", "E": "a=b"}
	if len(got) != len(want) {
		t.Fatalf("ParseEnv = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ParseEnv[%q] = %q, want %q", k, got[k], v)
		}
	}
}

func TestWriteReadEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.env")
	in := map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:1", "REDIS_URL": "redis://127.0.0.1:2/0"}
	if err := WriteEnvFile(path, "header line", in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if modulePath(filepath.Join(root, "go.mod")) != ModulePath {
		t.Fatalf("RepoRoot = %s, its go.mod is not module %s", root, ModulePath)
	}
	// A nested module (examples/, bench/) still resolves to the root.
	nested := filepath.Join(t.TempDir(), "repo", "examples")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	top := filepath.Dir(nested)
	os.WriteFile(filepath.Join(top, "go.mod"), []byte("module "+ModulePath+"\n"), 0o644)
	os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module "+ModulePath+"/examples\n"), 0o644)
	got, err := RepoRoot(nested)
	if err != nil || got != top {
		t.Fatalf("RepoRoot(nested) = %q, %v; want %q", got, err, top)
	}
}

func TestFreePortAndAlive(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 {
		t.Fatalf("FreePort = %d, %v", p, err)
	}
	if !Alive(os.Getpid()) {
		t.Error("Alive(self) = false")
	}
	if Alive(0) || Alive(-1) {
		t.Error("Alive(0 or -1) = true")
	}
}

func TestStopGroupRefusesForeignProcess(t *testing.T) {
	// The test binary itself is alive but its command line lacks the marker:
	// StopGroup must refuse rather than signal it.
	if err := StopGroup(os.Getpid(), "no-such-marker-in-cmdline", time.Second); err == nil {
		t.Fatal("StopGroup signalled a process whose command line lacks the marker")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	os.WriteFile(path, []byte("1\n2\n3\n4\n5\n"), 0o644)
	if got := Tail(path, 2); got != "4\n5" {
		t.Fatalf("Tail = %q", got)
	}
}

// skipShort skips a test that runs a real server under -short, unless CI
// is "true" (testenv.SkipShort, which this package cannot import).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("runs redis-server: skipped under -short")
	}
}

func TestStartStopRedis(t *testing.T) {
	skipShort(t)
	bin, err := RedisServerBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("%v (make services installs it)", err)
	}
	r, err := StartRedis(t.Context(), RedisOptions{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := RedisPing(r.Addr); err != nil {
		t.Fatalf("PING after start: %v", err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if Alive(r.PID) {
		t.Fatalf("redis-server pid %d still alive after Stop", r.PID)
	}
	if err := RedisPing(r.Addr); err == nil {
		t.Fatal("redis still answers after Stop")
	}
}
