package services

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFakeKeycloakServer is not a test: run by the fake kc.sh of
// fakeSharedHome (FAKE_KEYCLOAK=1), it answers the readiness and discovery
// requests of StartKeycloak and WaitKeycloak on the ports kc.sh was given,
// until it is signalled.
func TestFakeKeycloakServer(t *testing.T) {
	if os.Getenv("FAKE_KEYCLOAK") != "1" {
		t.Skip("helper process for TestSharedKeycloak")
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/ready" || strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			w.Write([]byte("{}"))
			return
		}
		http.NotFound(w, r)
	})
	for _, a := range os.Args {
		for _, flag := range []string{"--http-port=", "--http-management-port="} {
			if port, found := strings.CutPrefix(a, flag); found {
				go http.ListenAndServe("127.0.0.1:"+port, ok)
			}
		}
	}
	select {}
}

// fakeSharedHome installs, as the cached distribution in a new cache
// directory, a kc.sh that runs TestFakeKeycloakServer. Its command line
// holds the home directory, as Keycloak's does.
func fakeSharedHome(t *testing.T) string {
	t.Helper()
	cache := t.TempDir()
	home := KeycloakHome(cache)
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nFAKE_KEYCLOAK=1 exec " + strconv.Quote(os.Args[0]) +
		" -test.run='^TestFakeKeycloakServer$' -- \"$0\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(home, "bin", "kc.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, distMarker), []byte(KeycloakDistSHA256+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := StopShared(cache, nil); err != nil {
			t.Error(err)
		}
	})
	return cache
}

// TestSharedKeycloak: concurrent callers get one server, later callers
// reuse it, a dead one is replaced, StopShared stops it and its watchdog.
func TestSharedKeycloak(t *testing.T) {
	cache := fakeSharedHome(t)
	opts := SharedOptions{CacheDir: cache, RealmJSON: []byte(`{"realm":"r"}`), Realm: "r", IdleStop: time.Hour}

	var wg sync.WaitGroup
	got := make([]*Keycloak, 3)
	for i := range got {
		wg.Go(func() {
			k, err := SharedKeycloak(t.Context(), opts)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = k
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	first := got[0]
	for _, k := range got[1:] {
		if k.PID != first.PID || k.URL != first.URL || k.AdminPassword != first.AdminPassword {
			t.Fatalf("concurrent callers got different servers: pid %d at %s and pid %d at %s", first.PID, first.URL, k.PID, k.URL)
		}
	}
	states, _ := SharedStates(cache)
	if len(states) != 1 {
		t.Fatalf("state files %v, want one", states)
	}
	env, err := ReadEnvFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	watchdog, _ := strconv.Atoi(env["WATCHDOG_PID"])
	if env["READY"] != "1" || env["KEYCLOAK_PID"] != strconv.Itoa(first.PID) || !Alive(watchdog) {
		t.Fatalf("state %v: want READY=1, KEYCLOAK_PID=%d and a live watchdog", env, first.PID)
	}

	old := time.Now().Add(-time.Minute)
	os.Chtimes(states[0], old, old)
	first.KeepAlive()
	if fi, _ := os.Stat(states[0]); time.Since(fi.ModTime()) > 10*time.Second {
		t.Fatal("KeepAlive did not touch the state file")
	}

	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	again, err := SharedKeycloak(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.PID == first.PID || !Alive(again.PID) {
		t.Fatalf("a dead shared server was not replaced: pid %d, then %d", first.PID, again.PID)
	}

	if err := StopShared(cache, nil); err != nil {
		t.Fatal(err)
	}
	if Alive(again.PID) {
		t.Fatalf("StopShared left pid %d running", again.PID)
	}
	if states, _ := SharedStates(cache); len(states) != 0 {
		t.Fatalf("StopShared left %v", states)
	}
}

// TestSharedKeycloakIdleStop: the watchdog stops a server nobody touched
// for the idle time.
func TestSharedKeycloakIdleStop(t *testing.T) {
	cache := fakeSharedHome(t)
	k, err := SharedKeycloak(t.Context(), SharedOptions{CacheDir: cache, RealmJSON: []byte(`{"realm":"r"}`), Realm: "r", IdleStop: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for Alive(k.PID) {
		if time.Now().After(deadline) {
			t.Fatalf("shared server %d still running 30s after a 2s idle stop", k.PID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSharedKeyDiffers(t *testing.T) {
	a := SharedOptions{Realm: "r", RealmJSON: []byte(`{"realm":"r"}`), Env: []string{"A=1", "B=2"}}
	b := a
	b.Env = []string{"B=2", "A=1"}
	if sharedKey(a) != sharedKey(b) {
		t.Error("the order of Env changed the key")
	}
	for _, c := range []SharedOptions{
		{Realm: "s", RealmJSON: a.RealmJSON, Env: a.Env},
		{Realm: "r", RealmJSON: []byte(`{"realm":"r","x":1}`), Env: a.Env},
		{Realm: "r", RealmJSON: a.RealmJSON},
	} {
		if sharedKey(c) == sharedKey(a) {
			t.Errorf("%+v shares a key with %+v", c, a)
		}
	}
}
