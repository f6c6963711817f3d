// Command demo runs the scenario of `make demo` (scripts/demo.sh starts
// Keycloak first): it imports a throwaway copy of the tokenwarden realm whose
// back-channel logout URL and admin URL point at the backend, starts the
// capacitor-backend binary on a free port with the Memory store (Redis with
// DEMO_REDIS=1 and REDIS_URL), plays the scenario, then stops the backend and
// deletes the realm. It exits 1 when a step answers differently.
//
//	demo -backend path/to/capacitor-backend [-log file]
//
// Keycloak comes from KEYCLOAK_URL, KEYCLOAK_ADMIN_USER and
// KEYCLOAK_ADMIN_PASSWORD (.services.env).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/demo"
)

func main() {
	backend := flag.String("backend", "", "path of the capacitor-backend binary")
	logFile := flag.String("log", "capacitor-backend.log", "file receiving the backend's JSON log")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *backend, *logFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, backend, logFile string) (err error) {
	if backend == "" {
		return errors.New("demo: -backend is required")
	}
	kc := &demo.Keycloak{BaseURL: os.Getenv("KEYCLOAK_URL"), AdminUser: os.Getenv("KEYCLOAK_ADMIN_USER"),
		AdminPassword: os.Getenv("KEYCLOAK_ADMIN_PASSWORD"), HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if kc.BaseURL == "" || kc.AdminUser == "" {
		return errors.New("demo: KEYCLOAK_URL and KEYCLOAK_ADMIN_USER are not set (make services writes them to .services.env)")
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	apiURL := "http://" + addr

	realm, err := kc.ImportRealm(ctx, apiURL)
	if err != nil {
		return err
	}
	defer func() {
		if derr := kc.DeleteRealm(context.WithoutCancel(ctx), realm); derr != nil {
			err = errors.Join(err, derr)
		} else {
			fmt.Printf("demo: deleted realm %s\n", realm)
		}
	}()
	fmt.Printf("demo: Keycloak %s, realm %s (a copy of tokenwarden whose back-channel logout URL and admin URL point at %s)\n",
		kc.BaseURL, realm, apiURL)

	logf, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	store := "memory"
	env := append(os.Environ(),
		"KEYCLOAK_REALM="+realm,
		"TOKENWARDEN_ISSUER=",
		"TOKENWARDEN_LISTEN="+addr,
		"TOKENWARDEN_CLIENT_SECRET=backend-secret",
	)
	if os.Getenv("DEMO_REDIS") == "1" {
		if os.Getenv("REDIS_URL") == "" {
			return errors.New("demo: DEMO_REDIS=1 but REDIS_URL is not set")
		}
		store = "redis " + os.Getenv("REDIS_URL")
	} else {
		env = append(env, "REDIS_URL=")
	}
	cmd := exec.Command(backend)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		fmt.Printf("demo: stopped the backend (pid %d); its log: %s\n", cmd.Process.Pid, logFile)
	}()
	fmt.Printf("demo: started capacitor-backend (pid %d) at %s, store %s\n", cmd.Process.Pid, apiURL, store)
	if err := waitHealthy(ctx, apiURL, exited); err != nil {
		select {
		case <-exited:
			return fmt.Errorf("%w (the backend exited: %v; see %s)", err, waitErr, logFile)
		default:
			return err
		}
	}
	fmt.Println()
	s := &demo.Scenario{Keycloak: kc, Realm: realm, BackendURL: apiURL, Out: os.Stdout}
	err = s.Run(ctx)
	fmt.Println()
	return err
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHealthy(ctx context.Context, apiURL string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("demo: the backend did not start")
		case <-ctx.Done():
			return fmt.Errorf("demo: the backend did not answer /healthz: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
