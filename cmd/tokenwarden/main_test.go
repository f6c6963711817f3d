package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedNow is the clock of golden-file tests.
var fixedNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// result is the outcome of one in-process run.
type result struct {
	code           int
	stdout, stderr string
}

// invoke runs the CLI in process with the given environment and stdin.
func invoke(t testing.TB, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, getenv)
	return result{code, out.String(), errb.String()}
}

// invokeAt is invoke with a fixed clock.
func invokeAt(t testing.TB, now time.Time, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	a.now = func() time.Time { return now }
	code := a.main(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			r := invoke(t, nil, "", c.name, "--help")
			if r.code != exitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "Usage: tokenwarden "+c.name) || !strings.Contains(r.stdout, "Exit codes:") {
				t.Errorf("help lacks usage line or exit codes:\n%s", r.stdout)
			}
			golden(t, "help/"+c.name+".txt", r.stdout)

			// "help <command>" prints the same text.
			r2 := invoke(t, nil, "", "help", c.name)
			if r2.code != exitOK || r2.stdout != r.stdout {
				t.Errorf("help %s: exit %d, output differs from %s --help", c.name, r2.code, c.name)
			}
		})
	}
	t.Run("main", func(t *testing.T) {
		r := invoke(t, nil, "", "--help")
		if r.code != exitOK {
			t.Fatalf("exit %d", r.code)
		}
		for _, c := range commands() {
			if !strings.Contains(r.stdout, "  "+c.name+" ") {
				t.Errorf("main help does not list %s", c.name)
			}
		}
		golden(t, "help/main.txt", r.stdout)
	})
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string // substring of stderr
		notInErr string // must not appear in stderr
	}{
		{"no args", nil, nil, exitUsage, "Usage:", ""},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`, ""},
		{"help unknown", nil, []string{"help", "frobnicate"}, exitUsage, `unknown command "frobnicate"`, ""},
		{"unknown flag", nil, []string{"sessions", "--frob"}, exitUsage, "flag provided but not defined", ""},
		{"client secret flag", nil, []string{"introspect", "--client-secret=s3cr3t-value"}, exitUsage,
			"--client-secret is not accepted on the command line", "s3cr3t-value"},
		{"client secret flag single dash", nil, []string{"revoke", "-client-secret", "s3cr3t-value"}, exitUsage,
			"use --client-secret-file or TOKENWARDEN_CLIENT_SECRET", "s3cr3t-value"},
		{"admin password flag", nil, []string{"sessions", "--admin-password=hunter2"}, exitUsage,
			"--admin-password is not accepted", "hunter2"},
		{"token flag", nil, []string{"verify", "--token", "eyJhbGciOi.x.y"}, exitUsage,
			"use --token-file, stdin or TOKENWARDEN_TOKEN", "eyJhbGciOi"},
		{"positional token", nil, []string{"verify", "eyJhbGciOi.x.y"}, exitUsage,
			"1 unexpected argument(s)", "eyJhbGciOi"},
		{"no issuer", nil, []string{"sessions", "--user", "alice"}, exitUsage, "no issuer", ""},
		{"no admin credentials", map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:1", "KEYCLOAK_REALM": "r"},
			[]string{"sessions", "--user", "alice"}, exitUsage, "no admin credentials", ""},
		{"admin user without password", map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:1", "KEYCLOAK_REALM": "r",
			"KEYCLOAK_ADMIN_USER": "admin"}, []string{"sessions", "--user", "alice"}, exitUsage, "no admin password", ""},
		{"bad issuer", map[string]string{"TOKENWARDEN_ISSUER": "ftp://x/realms/r"}, []string{"sessions", "--user", "a"},
			exitUsage, "--issuer must be an absolute http(s) URL", ""},
		{"issuer with credentials", map[string]string{"TOKENWARDEN_ISSUER": "https://u:p@x/realms/r"},
			[]string{"sessions", "--user", "a"}, exitUsage, "without credentials", "u:p"},
		{"path in realm", map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:1", "KEYCLOAK_REALM": "../master"},
			[]string{"push-not-before"}, exitUsage, "invalid realm name", ""},
		{"unreachable keycloak", map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:1", "KEYCLOAK_REALM": "r",
			"KEYCLOAK_ADMIN_USER": "admin", "KEYCLOAK_ADMIN_PASSWORD": "hunter2-unique"},
			[]string{"sessions", "--user", "alice"}, exitUnavailable, "admin login", "hunter2-unique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, tt.env, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantErr)
			}
			if tt.notInErr != "" && strings.Contains(r.stderr+r.stdout, tt.notInErr) {
				t.Errorf("output echoes %q: %q", tt.notInErr, r.stderr)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name                     string
		o                        options
		base, realm, issuer, err string
	}{
		{"issuer only", options{issuer: "https://sso.example.com/realms/app/"},
			"https://sso.example.com", "app", "https://sso.example.com/realms/app", ""},
		{"issuer with path prefix", options{issuer: "https://h/auth/realms/app"},
			"https://h/auth", "app", "https://h/auth/realms/app", ""},
		{"url and realm", options{keycloakURL: "http://127.0.0.1:8080/", realm: "tokenwarden"},
			"http://127.0.0.1:8080", "tokenwarden", "http://127.0.0.1:8080/realms/tokenwarden", ""},
		{"issuer wins, internal url for admin", options{issuer: "https://public/realms/app", keycloakURL: "http://kc:8080", insecureHTTP: true},
			"http://kc:8080", "app", "https://public/realms/app", ""},
		{"plain http refused off loopback", options{issuer: "http://sso.example.com/realms/app"}, "", "", "", "plain http"},
		{"plain http to localhost", options{keycloakURL: "http://localhost:8080", realm: "r"},
			"http://localhost:8080", "r", "http://localhost:8080/realms/r", ""},
		{"non-keycloak issuer", options{issuer: "https://accounts.example.com"},
			"", "", "https://accounts.example.com", ""},
		{"nothing", options{}, "", "", "", "no issuer"},
		{"realm only", options{realm: "app"}, "", "", "", "no issuer"},
		{"query", options{issuer: "https://h/realms/app?x=1"}, "", "", "", "without credentials, query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, realm, issuer, err := tt.o.endpoint()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if base != tt.base || realm != tt.realm || issuer != tt.issuer {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", base, realm, issuer, tt.base, tt.realm, tt.issuer)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "backend-secret\n")
	empty := write("empty", " \n")
	twoLines := write("two", "a\nb\n")
	huge := write("huge", strings.Repeat("x", maxSecretInput+1))

	tests := []struct {
		name    string
		file    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"file, newline trimmed", good, nil, "backend-secret", ""},
		{"file wins over env", good, map[string]string{"TOKENWARDEN_CLIENT_SECRET": "from-env"}, "backend-secret", ""},
		{"env", "", map[string]string{"TOKENWARDEN_CLIENT_SECRET": "from-env"}, "from-env", ""},
		{"none", "", nil, "", ""},
		{"empty file", empty, nil, "", "is empty"},
		{"two lines", twoLines, nil, "", "more than one line"},
		{"too long", huge, nil, "", "longer than"},
		{"missing file", filepath.Join(dir, "nope"), nil, "", "cannot read the client secret file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(nil, nil, nil, func(k string) string { return tt.env[k] })
			o := options{clientSecretFile: tt.file}
			got, err := o.clientSecret(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
				}
				if strings.Contains(err.Error(), "backend-secret") {
					t.Errorf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	// The env variable for the file path is the flag's default.
	t.Run("file from env", func(t *testing.T) {
		a := newApp(nil, nil, nil, func(k string) string {
			return map[string]string{"TOKENWARDEN_CLIENT_SECRET_FILE": good}[k]
		})
		var o options
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		o.clientFlags(fs, a)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		got, err := o.clientSecret(a)
		if err != nil || got != "backend-secret" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

func TestReadToken(t *testing.T) {
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       options
		env     map[string]string
		stdin   string
		want    string
		wantErr string
	}{
		{"stdin", options{}, nil, tok + "\n", tok, ""},
		{"stdin with bearer prefix", options{}, nil, "Bearer " + tok, tok, ""},
		{"env", options{}, map[string]string{"TOKENWARDEN_TOKEN": tok}, "ignored", tok, ""},
		{"file wins over env", options{tokenFile: file}, map[string]string{"TOKENWARDEN_TOKEN": "other"}, "", tok, ""},
		{"dash is stdin even with env", options{tokenFile: "-"}, map[string]string{"TOKENWARDEN_TOKEN": "other"}, tok, tok, ""},
		{"json access token", options{}, nil, `{"access_token":"` + tok + `","refresh_token":"r.r.r"}`, tok, ""},
		{"json refresh token", options{hint: "refresh_token"}, nil, `{"access_token":"a.a.a","refresh_token":"` + tok + `"}`, tok, ""},
		{"json without member", options{hint: "refresh_token"}, nil, `{"access_token":"a.a.a"}`, "", "no refresh_token member"},
		{"bad json", options{}, nil, `{"access_token":`, "", "does not parse"},
		{"empty", options{}, nil, "  \n", "", "input is empty"},
		{"inner whitespace", options{}, nil, "abc def", "", "whitespace"},
		{"too large", options{}, nil, strings.Repeat("a", maxTokenInput+1), "", "longer than"},
		{"missing file", options{tokenFile: filepath.Join(dir, "nope")}, nil, "", "", "cannot read the token file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(strings.NewReader(tt.stdin), nil, nil, func(k string) string { return tt.env[k] })
			got, err := tt.o.readToken(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSecretOnCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--client-secret=x"}, "--client-secret"},
		{[]string{"-client-secret", "x"}, "--client-secret"},
		{[]string{"--client-secret-file", "/run/secret"}, ""},
		{[]string{"--user", "alice", "--password=x"}, "--password"},
		{[]string{"--", "--token"}, ""},
		{[]string{"--token-file", "-"}, ""},
	}
	for _, tt := range tests {
		got, _ := secretOnCommandLine(tt.args)
		if got != tt.want {
			t.Errorf("secretOnCommandLine(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
