// Command demo-web serves the app's web build (examples/capacitor-web) and
// the capacitor backend for a person to click through in their own browser:
// `make demo-web` (scripts/demo-web.sh starts Keycloak and builds the app
// first). It imports a throwaway copy of the tokenwarden realm whose
// back-channel logout URL and admin URL point at the backend, runs the
// backend in-process with the Memory deny-list, serves the app, prints the
// URL, and on Ctrl-C (or `quit`) stops both and deletes the realm.
//
//	demo-web -dist examples/capacitor-web/dist [-web 127.0.0.1:8100] [-api 127.0.0.1:0]
//
// Keycloak comes from KEYCLOAK_URL, KEYCLOAK_ADMIN_USER and
// KEYCLOAK_ADMIN_PASSWORD (.services.env). Typing `logout alice` signs alice
// out in Keycloak, as an administrator would: the app's next call is refused.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	capacitorweb "github.com/tokenwarden/tokenwarden/examples/capacitor-web"
	"github.com/tokenwarden/tokenwarden/examples/demo"
)

func main() {
	dist := flag.String("dist", "examples/capacitor-web/dist", "the built app (npm run build)")
	webAddr := flag.String("web", envOr("DEMO_WEB_ADDR", capacitorweb.DefaultAddr), "address of the app (env DEMO_WEB_ADDR)")
	apiAddr := flag.String("api", envOr("DEMO_API_ADDR", "127.0.0.1:0"), "address of the API; port 0 picks a free one (env DEMO_API_ADDR)")
	variant := flag.String("variant", capacitorweb.VariantKeycloakJS, "default variant: "+strings.Join(capacitorweb.Variants(), ", "))
	logFile := flag.String("log", ".run/demo-web-backend.log", "file receiving the backend's JSON log")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, stop, options{dist: *dist, webAddr: *webAddr, apiAddr: *apiAddr, variant: *variant, logFile: *logFile}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type options struct{ dist, webAddr, apiAddr, variant, logFile string }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, stop func(), o options) (err error) {
	kc := &demo.Keycloak{BaseURL: strings.TrimRight(os.Getenv("KEYCLOAK_URL"), "/"), AdminUser: os.Getenv("KEYCLOAK_ADMIN_USER"),
		AdminPassword: os.Getenv("KEYCLOAK_ADMIN_PASSWORD"), HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if kc.BaseURL == "" || kc.AdminUser == "" {
		return errors.New("demo-web: KEYCLOAK_URL and KEYCLOAK_ADMIN_USER are not set (make services writes them to .services.env)")
	}
	webL, err := net.Listen("tcp", o.webAddr)
	if err != nil {
		return fmt.Errorf("demo-web: the app's address: %w (pass -web or DEMO_WEB_ADDR with a free port)", err)
	}
	defer webL.Close()
	apiL, err := net.Listen("tcp", o.apiAddr)
	if err != nil {
		return fmt.Errorf("demo-web: the API's address: %w", err)
	}
	defer apiL.Close()
	webURL, apiURL := "http://"+webL.Addr().String(), "http://"+apiL.Addr().String()

	realm, err := kc.ImportRealm(ctx, apiURL)
	if err != nil {
		return err
	}
	defer func() {
		if derr := kc.DeleteRealm(context.WithoutCancel(ctx), realm); derr != nil {
			err = errors.Join(err, derr)
		} else {
			fmt.Printf("demo-web: deleted realm %s\n", realm)
		}
	}()
	if webURL != "http://"+capacitorweb.DefaultAddr {
		// The realm lists only the default origin of the web build.
		for _, client := range []string{"mobile", "mobile-dpop"} {
			if err := kc.AllowWebApp(ctx, realm, client, webURL); err != nil {
				return err
			}
		}
	}

	if err := os.MkdirAll(".run", 0o755); err != nil {
		return err
	}
	logf, err := os.Create(o.logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	// DPoP proofs must carry the API's nonce (RFC 9449 §9): the DPoP
	// variant shows the use_dpop_nonce round trip on its first call.
	nonceSecret := make([]byte, 32)
	if _, err := rand.Read(nonceSecret); err != nil {
		return err
	}
	a, err := app.New(ctx, app.Config{Issuer: kc.BaseURL + "/realms/" + realm, ClientSecret: "backend-secret",
		CORSOrigins: []string{webURL}, DPoPNonceSecret: nonceSecret}, slog.New(slog.NewJSONHandler(logf, nil)))
	if err != nil {
		return err
	}
	defer a.Close()
	web, err := capacitorweb.Handler(capacitorweb.Config{Dir: o.dist, KeycloakURL: kc.BaseURL, Realm: realm, API: apiURL, Variant: o.variant})
	if err != nil {
		return err
	}
	servers := []*http.Server{
		{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second},
		{Handler: web, ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, 2)
	for i, l := range []net.Listener{apiL, webL} {
		go func() { errc <- servers[i].Serve(l) }()
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
		fmt.Printf("demo-web: stopped; the backend's log: %s\n", o.logFile)
	}()

	fmt.Printf(`demo-web: Keycloak %s, realm %s (a copy of tokenwarden: its back-channel
          logout and admin URLs point at the API, deleted when the demo stops)
demo-web: API  %s (examples/capacitor-backend, Memory deny-list, DPoP nonces; log %s)
demo-web: app  %s/   <- open it in a browser on this machine
          log in as alice / alice-password (role user) or bob / bob-password (user, admin)
          variants: %s/?variant=keycloak-js  %s/?variant=oidc-client-ts
                    %s/?variant=oidc-client-ts-dpop (tokens bound to the browser's key)
          type "logout alice" + Enter to sign alice out in Keycloak as an admin would
          (the app's next call is refused), "quit" or Ctrl-C to stop
`, kc.BaseURL, realm, apiURL, o.logFile, webURL, webURL, webURL, webURL)

	go commands(ctx, stop, kc, realm, os.Stdin)
	select {
	case <-ctx.Done():
		fmt.Println()
		return nil
	case err := <-errc:
		return err
	}
}

// commands reads "logout <user>" and "quit" from the terminal.
func commands(ctx context.Context, stop func(), kc *demo.Keycloak, realm string, in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "quit" || f[0] == "exit":
			stop()
			return
		case f[0] == "logout" && len(f) == 2:
			path, status, err := kc.LogoutUser(ctx, realm, f[1])
			if err != nil {
				fmt.Printf("demo-web: %v\n", err)
				continue
			}
			fmt.Printf("demo-web: POST %s -> %d: Keycloak ended %s's sessions, each announced to the API by a back-channel logout\n", path, status, f[1])
		default:
			fmt.Println(`demo-web: commands: "logout <user>", "quit"`)
		}
	}
}
