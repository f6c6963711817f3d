package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// DefaultIdleStop is how long a shared Keycloak runs without a test using
// it before it stops itself.
const DefaultIdleStop = 30 * time.Minute

// SharedOptions configures SharedKeycloak.
type SharedOptions struct {
	// CacheDir holds the distribution (EnsureKeycloakDist) and the shared
	// servers' state files shared-keycloak-<key>.{env,lock,log}.
	CacheDir string
	// RealmJSON is imported at start; Realm is its name.
	RealmJSON []byte
	Realm     string
	// Env is added to Keycloak's environment.
	Env []string
	// IdleStop stops the server after this long without a SharedKeycloak
	// or KeepAlive call. Zero means $KEYCLOAKTEST_IDLE (a Go duration),
	// else DefaultIdleStop.
	IdleStop time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// SharedKeycloak returns the Keycloak shared by every process that asks for
// the same release, realm and environment: `go test ./...` runs one process
// per package, and they all get the one server. The first caller starts it
// detached from the distribution in CacheDir; the others find it through
// the state file and reuse it. A file lock makes concurrent callers wait
// for one start instead of each starting their own.
//
// The server outlives its starter. A watchdog process stops it once the
// state file has not been touched (by SharedKeycloak or KeepAlive) for the
// idle time; StopShared stops it at once (`make services-stop`). A server
// that died, never became ready (its starter died first), is about to stop
// for idleness or does not answer within a minute is replaced.
func SharedKeycloak(ctx context.Context, o SharedOptions) (*Keycloak, error) {
	logw := progress(o.Log)
	if o.Realm == "" {
		return nil, errors.New("services: SharedOptions.Realm is empty")
	}
	cache, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return nil, err
	}
	idle, err := idleStop(o.IdleStop)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(cache, "shared-keycloak-"+sharedKey(o))
	state := base + ".env"
	unlock, err := lockFile(base + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	if k := reuseShared(ctx, state, o.Realm, logw); k != nil {
		return k, nil
	}

	home, err := EnsureKeycloakDist(ctx, cache, logw)
	if err != nil {
		return nil, err
	}
	opts := KeycloakOptions{
		Home:          home,
		RealmJSON:     o.RealmJSON,
		RealmFileName: o.Realm + "-realm.json",
		LogFile:       base + ".log",
		Env:           o.Env,
		Detach:        true,
		Log:           logw,
	}
	var watchdog int
	opts.spawned = func(k *Keycloak) error {
		k.state = state
		if err := writeShared(state, k, o.Realm, idle, 0, false); err != nil {
			return err
		}
		watchdog, err = startWatchdog(k.PID, state, idle)
		if err != nil {
			return err
		}
		return writeShared(state, k, o.Realm, idle, watchdog, false)
	}
	k, err := StartKeycloak(ctx, opts)
	if err == nil {
		if err = WaitKeycloak(ctx, k.URL, "", o.Realm, 30*time.Second); err != nil {
			_ = k.Stop()
			err = fmt.Errorf("services: realm %s was not imported: %w\n%s", o.Realm, err, Tail(k.LogFile, 50))
		}
	}
	if err == nil {
		err = writeShared(state, k, o.Realm, idle, watchdog, true)
	}
	if err != nil {
		if watchdog != 0 {
			_ = StopGroup(watchdog, watchdogName, time.Second)
		}
		os.Remove(state)
		return nil, err
	}
	fmt.Fprintf(logw, "keycloak: shared by the test processes until idle for %s (state %s; make services-stop stops it)\n", idle, state)
	return k, nil
}

// KeepAlive marks a shared Keycloak as in use, postponing its idle stop. It
// does nothing for a Keycloak that is not shared.
func (k *Keycloak) KeepAlive() {
	if k != nil && k.state != "" {
		now := time.Now()
		_ = os.Chtimes(k.state, now, now)
	}
}

// StopShared stops every shared Keycloak recorded in cacheDir and its
// watchdog, and removes their state files.
func StopShared(cacheDir string, logw io.Writer) error {
	logw = progress(logw)
	states, err := SharedStates(cacheDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, state := range states {
		errs = append(errs, stopShared(state, logw))
	}
	return errors.Join(errs...)
}

// SharedStates returns the state files of the shared Keycloaks recorded in
// cacheDir (KEY=VALUE files as .services.env, readable by ReadEnvFile).
func SharedStates(cacheDir string) ([]string, error) {
	return filepath.Glob(filepath.Join(cacheDir, "shared-keycloak-*.env"))
}

func stopShared(state string, logw io.Writer) error {
	env, err := ReadEnvFile(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(env["KEYCLOAK_PID"])
	if Alive(pid) {
		fmt.Fprintf(logw, "keycloak: stopping the shared server at %s (pid %d)\n", env["KEYCLOAK_URL"], pid)
	}
	err = StopKeycloakPID(pid, env["KEYCLOAK_HOME"])
	if wd, _ := strconv.Atoi(env["WATCHDOG_PID"]); wd != 0 {
		err = errors.Join(err, StopGroup(wd, watchdogName, time.Second))
	}
	if err != nil {
		return err
	}
	if err := os.Remove(state); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// reuseShared returns the server recorded in state when it is alive, ready,
// not close to its idle stop and serving realm; otherwise it stops what is
// left of it and returns nil.
func reuseShared(ctx context.Context, state, realm string, logw io.Writer) *Keycloak {
	env, err := ReadEnvFile(state)
	if err != nil {
		return nil
	}
	fi, err := os.Stat(state)
	if err != nil {
		return nil
	}
	pid, _ := strconv.Atoi(env["KEYCLOAK_PID"])
	idle, _ := time.ParseDuration(env["KEYCLOAK_IDLE_STOP"])
	// The watchdog polls every idle/4 (at most 20 s): leave it a margin so
	// that it cannot stop a server handed out here.
	margin := min(2*time.Minute, idle/2)
	why := ""
	switch {
	case !Alive(pid) || !cmdlineContains(pid, env["KEYCLOAK_HOME"]):
		why = "not running"
	case env["READY"] != "1":
		why = "its start did not finish"
	case time.Since(fi.ModTime()) > idle-margin:
		why = "about to stop for idleness"
	case WaitKeycloak(ctx, env["KEYCLOAK_URL"], env["KEYCLOAK_MANAGEMENT_URL"], realm, time.Minute) != nil:
		why = "not answering"
	}
	if why == "" {
		k := &Keycloak{
			URL:           env["KEYCLOAK_URL"],
			ManagementURL: env["KEYCLOAK_MANAGEMENT_URL"],
			AdminUser:     env["KEYCLOAK_ADMIN_USER"],
			AdminPassword: env["KEYCLOAK_ADMIN_PASSWORD"],
			PID:           pid,
			LogFile:       env["KEYCLOAK_LOG"],
			Home:          env["KEYCLOAK_HOME"],
			state:         state,
		}
		k.KeepAlive()
		fmt.Fprintf(logw, "keycloak: reusing the shared server at %s (pid %d)\n", k.URL, pid)
		return k
	}
	fmt.Fprintf(logw, "keycloak: replacing the shared server recorded in %s: %s\n", state, why)
	if err := stopShared(state, logw); err != nil {
		fmt.Fprintf(logw, "keycloak: %v\n", err)
		os.Remove(state)
	}
	return nil
}

func writeShared(state string, k *Keycloak, realm string, idle time.Duration, watchdog int, ready bool) error {
	env := map[string]string{
		"KEYCLOAK_URL":            k.URL,
		"KEYCLOAK_MANAGEMENT_URL": k.ManagementURL,
		"KEYCLOAK_ADMIN_USER":     k.AdminUser,
		"KEYCLOAK_ADMIN_PASSWORD": k.AdminPassword,
		"KEYCLOAK_REALM":          realm,
		"KEYCLOAK_VERSION":        KeycloakVersion,
		"KEYCLOAK_PID":            strconv.Itoa(k.PID),
		"KEYCLOAK_HOME":           k.Home,
		"KEYCLOAK_LOG":            k.LogFile,
		"KEYCLOAK_IDLE_STOP":      idle.String(),
	}
	if watchdog != 0 {
		env["WATCHDOG_PID"] = strconv.Itoa(watchdog)
	}
	if ready {
		env["READY"] = "1"
	}
	const header = "a Keycloak shared by test processes (internal/services.SharedKeycloak); it stops\n" +
		"itself once this file is older than KEYCLOAK_IDLE_STOP; make services-stop stops it now"
	return WriteEnvFile(state, header, env)
}

// sharedKey tells servers apart that differ in release, realm or
// environment.
func sharedKey(o SharedOptions) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", KeycloakVersion, o.Realm)
	h.Write(o.RealmJSON)
	env := slices.Clone(o.Env)
	slices.Sort(env)
	for _, kv := range env {
		fmt.Fprintf(h, "\x00%s", kv)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func idleStop(d time.Duration) (time.Duration, error) {
	if d == 0 {
		v := os.Getenv("KEYCLOAKTEST_IDLE")
		if v == "" {
			return DefaultIdleStop, nil
		}
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("services: KEYCLOAKTEST_IDLE: %w", err)
		}
	}
	if d < time.Second {
		return 0, fmt.Errorf("services: idle stop %s: want at least 1s", d)
	}
	return d, nil
}

// watchdogName is the watchdog's $0, on its command line for StopGroup's
// check.
const watchdogName = "tokenwarden-keycloak-idle-stop"

// watchdogScript stops process group $1 once file $2 is older than $3
// seconds (or gone), polling every $4 seconds; it ends with the process.
const watchdogScript = `pid=$1 state=$2 idle=$3 poll=$4
while kill -0 "$pid" 2>/dev/null; do
	m=$(date -r "$state" +%s 2>/dev/null) || m=0
	if [ $(( $(date +%s) - m )) -ge "$idle" ]; then
		kill -s TERM -- "-$pid" 2>/dev/null || kill -s TERM "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done
		kill -s KILL -- "-$pid" 2>/dev/null
		if grep -q "^KEYCLOAK_PID=$pid\$" "$state" 2>/dev/null; then rm -f "$state"; fi
		exit 0
	fi
	sleep "$poll"
done
`

// startWatchdog starts, detached, the shell loop that stops pid once state
// has not been touched for idle.
func startWatchdog(pid int, state string, idle time.Duration) (int, error) {
	secs := int(idle.Seconds())
	poll := min(20, max(1, secs/4))
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, watchdogName,
		strconv.Itoa(pid), state, strconv.Itoa(secs), strconv.Itoa(poll))
	cmd.SysProcAttr = sysProcAttr(true)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("services: start the idle watchdog: %w", err)
	}
	wd := cmd.Process.Pid
	// Not waited for: it outlives this process (see StartKeycloak).
	_ = cmd.Process.Release()
	return wd, nil
}
