package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KeycloakOptions configures StartKeycloak.
type KeycloakOptions struct {
	// Home is the distribution directory returned by EnsureKeycloakDist.
	Home string
	// RealmJSON, when not empty, is written to
	// <Home>/data/import/<RealmFileName> and imported at start.
	RealmJSON []byte
	// RealmFileName names the import file; empty means "tokenwarden-realm.json".
	RealmFileName string
	// AdminUser and AdminPassword create the bootstrap administrator of the
	// master realm. Empty means "admin" and a random password.
	AdminUser, AdminPassword string
	// LogFile receives Keycloak's output. Empty means a file in the
	// system's temporary directory.
	LogFile string
	// Env is added to Keycloak's environment, e.g.
	// TOKENWARDEN_API_URL=http://127.0.0.1:8081 for the realm's placeholders.
	Env []string
	// Detach starts Keycloak in its own session so that it outlives the
	// calling process. Otherwise it is stopped when the caller exits (on
	// Linux) or when Stop is called.
	Detach bool
	// StartTimeout bounds the wait for readiness; zero means 12 minutes (a loaded two-core machine needs minutes).
	StartTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// HTTPPort is the port to listen on; zero means a free one.
	HTTPPort int
	// Args are kc.sh options added to KeycloakArgs, runtime options only
	// (e.g. --hostname=http://kc.example.test:8080): a build-time option
	// would re-augment the shared distribution.
	Args []string

	// spawned, when set, runs once the process has started and before the
	// wait for readiness (SharedKeycloak records it there, so a starter
	// that dies while waiting leaves nothing untracked). An error stops it.
	spawned func(*Keycloak) error
}

// Keycloak is a running Keycloak started by StartKeycloak.
type Keycloak struct {
	URL           string // http://127.0.0.1:<port>
	ManagementURL string // http://127.0.0.1:<management port>
	AdminUser     string
	AdminPassword string
	PID           int // leader of the Keycloak process group (kc.sh, then java)
	LogFile       string
	Home          string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited; nil when detached
	state  string        // SharedKeycloak's state file
}

// StartKeycloak starts `kc.sh start-dev` from opts.Home on 127.0.0.1 with
// free ports, an in-memory dev database and the realm import, and waits until
// /health/ready answers 200 and the realm's discovery document is served.
// Starts from one Home are serialised (the first start of a distribution
// re-augments Quarkus, which later starts reuse). On failure the error holds
// the last 50 lines of Keycloak's log and the process is stopped.
func StartKeycloak(ctx context.Context, opts KeycloakOptions) (*Keycloak, error) {
	logw := progress(opts.Log)
	if opts.Home == "" {
		return nil, errors.New("services: KeycloakOptions.Home is empty")
	}
	if _, err := exec.LookPath("java"); err != nil && os.Getenv("JAVA_HOME") == "" {
		return nil, errors.New("services: java not found: Keycloak needs Java 17 or newer")
	}
	unlock, err := lockFile(filepath.Join(opts.Home, ".start.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	if len(opts.RealmJSON) > 0 {
		name := opts.RealmFileName
		if name == "" {
			name = Realm + "-realm.json"
		}
		dir := filepath.Join(opts.Home, "data", "import")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, opts.RealmJSON, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}

	k := &Keycloak{Home: opts.Home, AdminUser: opts.AdminUser, AdminPassword: opts.AdminPassword, LogFile: opts.LogFile}
	if k.AdminUser == "" {
		k.AdminUser = "admin"
	}
	if k.AdminPassword == "" {
		k.AdminPassword = randomHex(12)
	}
	if k.LogFile == "" {
		f, err := os.CreateTemp("", "keycloak-*.log")
		if err != nil {
			return nil, err
		}
		f.Close()
		k.LogFile = f.Name()
	}
	httpPort := opts.HTTPPort
	if httpPort == 0 {
		if httpPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	mgmtPort, err := FreePort()
	for err == nil && mgmtPort == httpPort {
		mgmtPort, err = FreePort()
	}
	if err != nil {
		return nil, err
	}
	k.URL = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	k.ManagementURL = "http://127.0.0.1:" + strconv.Itoa(mgmtPort)

	logf, err := os.OpenFile(k.LogFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	cmd := exec.Command(filepath.Join(opts.Home, "bin", "kc.sh"), append(KeycloakArgs(httpPort, mgmtPort), opts.Args...)...)
	cmd.Dir = opts.Home
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(keycloakEnv(os.Environ()),
		"KC_BOOTSTRAP_ADMIN_USERNAME="+k.AdminUser,
		"KC_BOOTSTRAP_ADMIN_PASSWORD="+k.AdminPassword,
		// Keycloak sizes its heap from the machine's memory by default;
		// a test server needs little.
		"JAVA_OPTS_KC_HEAP=-Xms64m -Xmx768m",
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.SysProcAttr = sysProcAttr(opts.Detach)

	start := time.Now()
	fmt.Fprintf(logw, "keycloak: starting %s on %s (log %s)\n", KeycloakVersion, k.URL, k.LogFile)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("services: start kc.sh: %w", err)
	}
	k.cmd = cmd
	k.PID = cmd.Process.Pid
	if !opts.Detach {
		k.exited = make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(k.exited)
		}()
	}
	// A detached server is not waited for: it outlives this process, and a
	// goroutine blocked on it for the rest of a test run would count as a
	// leak. waitReady notices its exit through Alive (a zombie is dead).
	if opts.spawned != nil {
		if err := opts.spawned(k); err != nil {
			_ = k.Stop()
			return nil, err
		}
	}

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 12 * time.Minute
	}
	if err := k.waitReady(ctx, timeout); err != nil {
		_ = k.Stop()
		return nil, fmt.Errorf("%w\n--- last 50 lines of %s ---\n%s", err, k.LogFile, Tail(k.LogFile, 50))
	}
	fmt.Fprintf(logw, "keycloak: ready in %.1fs (pid %d)\n", time.Since(start).Seconds(), k.PID)
	return k, nil
}

// KeycloakArgs are the kc.sh arguments used for every start. The build-time
// options among them (db, health) must stay the same from start to start, or
// Keycloak re-augments.
func KeycloakArgs(httpPort, mgmtPort int) []string {
	return []string{
		"start-dev",
		"--db=dev-mem",
		"--health-enabled=true",
		"--http-host=127.0.0.1",
		"--http-port=" + strconv.Itoa(httpPort),
		"--http-management-port=" + strconv.Itoa(mgmtPort),
		"--hostname-strict=false",
		"--import-realm",
	}
}

// keycloakEnv drops KC_* variables of the caller so that the server's
// configuration is the one given here.
func keycloakEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "KC_") || strings.HasPrefix(kv, "KEYCLOAK_ADMIN") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (k *Keycloak) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	health := k.ManagementURL + "/health/ready"
	discovery := k.URL + "/realms/master/.well-known/openid-configuration"
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	defer client.CloseIdleConnections()
	for {
		if httpOK(ctx, client, health) && httpOK(ctx, client, discovery) {
			return nil
		}
		if k.exited == nil && !Alive(k.PID) {
			return fmt.Errorf("services: keycloak exited before it was ready")
		}
		select {
		case <-k.exited:
			return fmt.Errorf("services: keycloak exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("services: keycloak not ready at %s after %s: %w", health, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitKeycloak waits until a Keycloak at baseURL serves realm's discovery
// document (and, when managementURL is set, /health/ready answers 200).
func WaitKeycloak(ctx context.Context, baseURL, managementURL, realm string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Its own transport, closed at the end: no keep-alive goroutine is
	// left behind for a leak check to find.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for {
		ok := httpOK(ctx, client, baseURL+"/realms/"+realm+"/.well-known/openid-configuration")
		if ok && managementURL != "" {
			ok = httpOK(ctx, client, managementURL+"/health/ready")
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("services: keycloak at %s not ready: %w", baseURL, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func httpOK(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop stops Keycloak (SIGTERM to its process group, SIGKILL after 30 s).
func (k *Keycloak) Stop() error {
	if k == nil || k.PID == 0 {
		return nil
	}
	return StopKeycloakPID(k.PID, k.Home)
}

// StopKeycloakPID stops the Keycloak process group led by pid, provided the
// process runs from home (a guard against reused pids).
func StopKeycloakPID(pid int, home string) error {
	return StopGroup(pid, home, 30*time.Second)
}
