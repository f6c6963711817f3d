// Package scripts_test checks the repository's shell scripts by running them.
package scripts_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/services"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// vulncheck runs scripts/vulncheck.sh with args and env (on top of a
// cleaned environment) and returns its output, exit status and recorded
// outcome.
func vulncheck(t *testing.T, env []string, args ...string) (out string, code int, outcome string) {
	t.Helper()
	root, err := services.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result")
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "vulncheck.sh")}, args...)...)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "CI", "GOVULNDB", "TOKENWARDEN_VULNCHECK", "TOKENWARDEN_VULNDB_SNAPSHOT", "VULNCHECK_RESULT":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "VULNCHECK_RESULT="+result)
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run vulncheck.sh: %v\n%s", err, b)
	}
	r, _ := os.ReadFile(result)
	return string(b), cmd.ProcessState.ExitCode(), strings.TrimSpace(string(r))
}

// refusedURL returns an http URL on 127.0.0.1 where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// snapshot returns the offline vulnerability database
// (TOKENWARDEN_VULNDB_SNAPSHOT, else ../shared/vulndb beside the
// repository) and its modified date.
func snapshot(t *testing.T) (dir, modified string) {
	t.Helper()
	dir = os.Getenv("TOKENWARDEN_VULNDB_SNAPSHOT")
	if dir == "" {
		root, err := services.RepoRoot(".")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "vulndb")
	}
	b, err := os.ReadFile(filepath.Join(dir, "index", "db.json"))
	if err != nil {
		msg := "offline vulnerability database: " + err.Error() + " (set TOKENWARDEN_VULNDB_SNAPSHOT)"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var db struct{ Modified string }
	if err := json.Unmarshal(b, &db); err != nil || db.Modified == "" {
		t.Fatalf("%s/index/db.json: no modified date (%v)", dir, err)
	}
	return dir, db.Modified
}

// TestVulncheckFindingFails proves that a finding fails the step: with the
// network database unreachable, the script falls back to the offline
// snapshot, names it and its date, and exits 3 on the known-vulnerable
// module under testdata.
func TestVulncheckFindingFails(t *testing.T) {
	if testing.Short() && !testenv.CI() {
		t.Skip("-short: installs and runs govulncheck")
	}
	dir, modified := snapshot(t)
	out, code, outcome := vulncheck(t, []string{
		"CI=true",
		"GOVULNDB=" + refusedURL(t),
		"TOKENWARDEN_VULNDB_SNAPSHOT=" + dir,
	}, "testdata/vulncheck/vulnerable")
	if code != 3 || outcome != "findings" {
		t.Fatalf("exit %d, outcome %q; want 3, findings\n%s", code, outcome, out)
	}
	abs, _ := filepath.Abs(dir)
	for _, want := range []string{
		"falling back to the offline snapshot",
		"database file://" + abs + ", modified " + modified,
		"GO-2024-2687",
		"VULNERABLE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestVulncheckUnreachableDatabase: with no database to reach nothing is
// scanned; that fails under CI=true and passes, loudly, outside CI.
func TestVulncheckUnreachableDatabase(t *testing.T) {
	env := []string{"GOVULNDB=" + refusedURL(t), "TOKENWARDEN_VULNDB_SNAPSHOT=" + filepath.Join(t.TempDir(), "absent")}
	for _, tt := range []struct {
		env  []string
		code int
	}{
		{[]string{"CI=true"}, 4},
		{[]string{"TOKENWARDEN_VULNCHECK=required"}, 4},
		{nil, 0},
	} {
		out, code, outcome := vulncheck(t, append(tt.env, env...))
		if code != tt.code || outcome != "not-run" || !strings.Contains(out, "VULNCHECK NOT RUN") {
			t.Errorf("%v: exit %d, outcome %q; want %d, not-run and the banner\n%s", tt.env, code, outcome, tt.code, out)
		}
		if strings.Contains(out, "govulncheck ./...") {
			t.Errorf("%v: a module was scanned without a database:\n%s", tt.env, out)
		}
	}
}
