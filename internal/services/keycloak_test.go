package services

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeHome makes a Keycloak home whose bin/kc.sh is script.
func fakeHome(t *testing.T, script string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "bin", "kc.sh"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestStartKeycloakFailureShowsLog(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    []string
		notWant string
	}{
		{
			name:    "exits",
			script:  "i=0; while [ $i -lt 80 ]; do echo \"log line $i\"; i=$((i+1)); done; exit 1\n",
			want:    []string{"exited before it was ready", "last 50 lines", "log line 30", "log line 79"},
			notWant: "log line 29\n",
		},
		{
			name:    "hangs",
			script:  "echo starting; sleep 60\n",
			timeout: 1500 * time.Millisecond,
			want:    []string{"not ready", "/health/ready", "starting"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := fakeHome(t, tt.script)
			_, err := StartKeycloak(t.Context(), KeycloakOptions{
				Home: home, RealmJSON: []byte(`{"realm":"x"}`), LogFile: filepath.Join(t.TempDir(), "kc.log"),
				StartTimeout: tt.timeout,
			})
			if err == nil {
				t.Fatal("StartKeycloak succeeded with a broken kc.sh")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error()+"\n", tt.notWant) {
				t.Errorf("error holds more than the last 50 lines")
			}
			if b, err := os.ReadFile(filepath.Join(home, "data", "import", "tokenwarden-realm.json")); err != nil || string(b) != `{"realm":"x"}` {
				t.Errorf("realm not written for import: %q %v", b, err)
			}
		})
	}
}

func TestKeycloakArgsBindLoopback(t *testing.T) {
	args := strings.Join(KeycloakArgs(1234, 5678), " ")
	for _, w := range []string{"start-dev", "--db=dev-mem", "--http-host=127.0.0.1", "--http-port=1234", "--http-management-port=5678", "--health-enabled=true", "--import-realm"} {
		if !strings.Contains(args, w) {
			t.Errorf("kc.sh args %q lack %s", args, w)
		}
	}
}

func TestKeycloakEnvDropsCallerConfig(t *testing.T) {
	got := keycloakEnv([]string{"PATH=/bin", "KC_DB=postgres", "KEYCLOAK_ADMIN=x", "HOME=/root"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/root" {
		t.Fatalf("keycloakEnv = %v", got)
	}
}

// fakeMvn puts an mvn on PATH that "downloads" content as the archive.
func fakeMvn(t *testing.T, content string) {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done
printf '%s' '` + content + `' > "$out/keycloak-quarkus-dist-` + KeycloakVersion + `.tar.gz"
echo called >> "` + filepath.Join(dir, "calls") + `"
`
	if err := os.WriteFile(filepath.Join(dir, "mvn"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestEnsureKeycloakDistRejectsBadChecksum(t *testing.T) {
	fakeMvn(t, "not the keycloak archive")
	cache := t.TempDir()
	_, err := EnsureKeycloakDist(t.Context(), cache, nil)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("err = %v, want a checksum mismatch", err)
	}
	if _, err := os.Stat(KeycloakHome(cache)); !os.IsNotExist(err) {
		t.Fatal("a distribution failing its checksum was installed")
	}
}

func TestEnsureKeycloakDistReusesCache(t *testing.T) {
	fakeMvn(t, "unused")
	cache := t.TempDir()
	home := KeycloakHome(cache)
	os.MkdirAll(filepath.Join(home, "bin"), 0o755)
	os.WriteFile(filepath.Join(home, distMarker), []byte(KeycloakDistSHA256+"\n"), 0o644)
	got, err := EnsureKeycloakDist(t.Context(), cache, nil)
	if err != nil || got != home {
		t.Fatalf("EnsureKeycloakDist = %q, %v", got, err)
	}
	mvnDir := filepath.Dir(strings.Split(os.Getenv("PATH"), string(os.PathListSeparator))[0] + "/x")
	if _, err := os.Stat(filepath.Join(mvnDir, "calls")); !os.IsNotExist(err) {
		t.Fatal("mvn was called although the distribution is cached")
	}
}
