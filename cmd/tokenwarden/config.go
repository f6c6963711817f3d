package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const (
	maxTokenInput  = 64 << 10 // a token, or a token-endpoint JSON answer holding tokens
	maxSecretInput = 4 << 10
	maxCAFile      = 1 << 20
)

// app carries the process environment of one invocation.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
}

// usageError is a configuration or input problem: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// secretFlagAdvice says what to use instead of a flag that would carry a
// secret or a token on the command line; ok is false for other flags.
func secretFlagAdvice(name string) (advice string, ok bool) {
	switch name {
	case "--client-secret":
		return "use --client-secret-file or TOKENWARDEN_CLIENT_SECRET", true
	case "--admin-password", "--password":
		return "use --admin-password-file or KEYCLOAK_ADMIN_PASSWORD", true
	case "--token", "--access-token", "--refresh-token":
		return "use --token-file, stdin or TOKENWARDEN_TOKEN", true
	}
	return "", false
}

// secretOnCommandLine reports the first argument that is a flag meant to
// carry a secret value, in its canonical "--name" spelling.
func secretOnCommandLine(args []string) (string, bool) {
	for _, arg := range args {
		if arg == "--" {
			return "", false
		}
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name := "--" + strings.TrimLeft(arg, "-")
		name, _, _ = strings.Cut(name, "=")
		if _, ok := secretFlagAdvice(name); ok {
			return name, true
		}
	}
	return "", false
}

// options are the settings shared by the commands; each command registers
// the groups it uses.
type options struct {
	issuer      string
	keycloakURL string
	realm       string
	timeout     time.Duration
	caFile      string
	jsonOut     bool
	// insecureHTTP permits plain http to hosts other than loopback ones.
	insecureHTTP bool
	anyAudience  bool

	clientID         string
	clientSecretFile string
	audience         string

	adminUser         string
	adminPasswordFile string
	adminRealm        string

	tokenFile string
	hint      string

	// verify
	parties    string
	algorithms string
	rfc9068    bool
	explain    bool
	// push-not-before
	push bool

	user    string
	userID  string
	session string
}

func (o *options) connFlags(fs *flag.FlagSet, a *app) {
	fs.StringVar(&o.issuer, "issuer", a.getenv("TOKENWARDEN_ISSUER"), "issuer `URL` as in the iss claim, e.g. https://sso.example.com/realms/app (env TOKENWARDEN_ISSUER)")
	fs.StringVar(&o.keycloakURL, "keycloak-url", a.getenv("KEYCLOAK_URL"), "Keycloak base `URL`: with --realm when --issuer is empty; with --issuer, where this tool reaches Keycloak (env KEYCLOAK_URL)")
	fs.StringVar(&o.realm, "realm", a.getenv("KEYCLOAK_REALM"), "realm `name` (env KEYCLOAK_REALM)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "deadline for the whole command")
	fs.StringVar(&o.caFile, "ca-file", a.getenv("TOKENWARDEN_CA_FILE"), "PEM `file` of extra CAs to trust (env TOKENWARDEN_CA_FILE)")
	fs.BoolVar(&o.jsonOut, "json", false, "print JSON instead of text")
	fs.BoolVar(&o.insecureHTTP, "insecure-allow-http", false, "allow plain http to hosts other than localhost/loopback (development only: credentials and tokens cross in clear text)")
}

func (o *options) clientFlags(fs *flag.FlagSet, a *app) {
	fs.StringVar(&o.clientID, "client-id", a.getenv("TOKENWARDEN_CLIENT_ID"), "confidential client `id` (env TOKENWARDEN_CLIENT_ID)")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", a.getenv("TOKENWARDEN_CLIENT_SECRET_FILE"), "`file` holding the client secret (env TOKENWARDEN_CLIENT_SECRET_FILE, or the secret itself in TOKENWARDEN_CLIENT_SECRET)")
}

func (o *options) adminFlags(fs *flag.FlagSet, a *app) {
	fs.StringVar(&o.adminUser, "admin-user", a.getenv("KEYCLOAK_ADMIN_USER"), "Keycloak admin `user`; without it the client's service account is used (env KEYCLOAK_ADMIN_USER)")
	fs.StringVar(&o.adminPasswordFile, "admin-password-file", a.getenv("KEYCLOAK_ADMIN_PASSWORD_FILE"), "`file` holding the admin password (env KEYCLOAK_ADMIN_PASSWORD_FILE, or the password itself in KEYCLOAK_ADMIN_PASSWORD)")
	adminRealm := a.getenv("KEYCLOAK_ADMIN_REALM")
	if adminRealm == "" {
		adminRealm = "master"
	}
	fs.StringVar(&o.adminRealm, "admin-realm", adminRealm, "`realm` the admin user belongs to (env KEYCLOAK_ADMIN_REALM)")
}

func (o *options) tokenFlags(fs *flag.FlagSet, hintDefault string) {
	fs.StringVar(&o.tokenFile, "token-file", "", "read the token from `file` (\"-\" = stdin); default TOKENWARDEN_TOKEN, else stdin")
	fs.StringVar(&o.hint, "token-type-hint", hintDefault, "`type`: access_token or refresh_token; also picks the field when the input is a token-endpoint JSON answer")
}

func (o *options) userFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "the user's `username`")
	fs.StringVar(&o.userID, "user-id", "", "the user's `id` (instead of --user)")
}

// endpoint returns the Keycloak base URL, the realm and the issuer URL.
// Either --issuer or --keycloak-url with --realm must be given; the other
// form is derived.
func (o *options) endpoint() (base, realm, issuer string, err error) {
	switch {
	case o.issuer != "":
		issuer = strings.TrimRight(o.issuer, "/")
		if err := checkURL(issuer, "--issuer"); err != nil {
			return "", "", "", err
		}
		if b, r, ok := strings.Cut(issuer, "/realms/"); ok && validName(r) {
			base, realm = b, r
		}
		if o.keycloakURL != "" {
			base = strings.TrimRight(o.keycloakURL, "/")
		}
		if o.realm != "" {
			realm = o.realm
		}
	case o.keycloakURL != "" && o.realm != "":
		base = strings.TrimRight(o.keycloakURL, "/")
		realm = o.realm
		issuer = base + "/realms/" + url.PathEscape(realm)
	default:
		return "", "", "", usagef("no issuer: set --issuer (TOKENWARDEN_ISSUER), or --keycloak-url and --realm (KEYCLOAK_URL, KEYCLOAK_REALM)")
	}
	if base != "" {
		if err := checkURL(base, "--keycloak-url"); err != nil {
			return "", "", "", err
		}
	}
	for _, u := range []string{issuer, base} {
		if strings.HasPrefix(u, "http://") && !o.insecureHTTP {
			if pu, err := url.Parse(u); err == nil && !isLoopback(pu.Hostname()) {
				return "", "", "", usagef("%s is plain http: use https, or --insecure-allow-http for development", u)
			}
		}
	}
	if realm != "" && !validName(realm) {
		return "", "", "", usagef("invalid realm name %q", realm)
	}
	return base, realm, issuer, nil
}

// keycloak returns the base URL and realm that the admin commands need.
func (o *options) keycloak() (base, realm string, err error) {
	base, realm, _, err = o.endpoint()
	if err != nil {
		return "", "", err
	}
	if base == "" || realm == "" {
		return "", "", usagef("cannot tell the Keycloak URL and realm from the issuer: set --keycloak-url and --realm")
	}
	return base, realm, nil
}

func checkURL(raw, flagName string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return usagef("%s must be an absolute http(s) URL without credentials, query or fragment", flagName)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validName accepts realm names, user ids and session ids as Keycloak
// generates them; it keeps path separators and dot segments out of admin URLs.
func validName(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// clientSecret reads the client secret: --client-secret-file, else
// TOKENWARDEN_CLIENT_SECRET_FILE (already the flag default), else
// TOKENWARDEN_CLIENT_SECRET.
func (o *options) clientSecret(a *app) (string, error) {
	return readSecret(a, o.clientSecretFile, "TOKENWARDEN_CLIENT_SECRET", "client secret")
}

func (o *options) adminPassword(a *app) (string, error) {
	return readSecret(a, o.adminPasswordFile, "KEYCLOAK_ADMIN_PASSWORD", "admin password")
}

func readSecret(a *app, file, envName, what string) (string, error) {
	if file != "" {
		b, err := readBounded(file, maxSecretInput)
		if err != nil {
			return "", usagef("cannot read the %s file: %v", what, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", usagef("the %s file %s is empty", what, file)
		}
		if strings.ContainsAny(s, "\r\n") {
			return "", usagef("the %s file %s holds more than one line", what, file)
		}
		return s, nil
	}
	return a.getenv(envName), nil
}

// readBounded reads at most limit bytes of the file and fails if it is longer.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		// The path is the user's own input; the error carries no secret.
		return nil, err
	}
	defer f.Close()
	return readAllBounded(f, limit)
}

func readAllBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("longer than %d bytes", limit)
	}
	return b, nil
}

// readToken reads the token to work on: --token-file (or "-" for stdin),
// else TOKENWARDEN_TOKEN, else stdin. The input may be the bare token, a
// "Bearer <token>" header value, or a token-endpoint JSON answer, from which
// the field the hint names is taken (access_token by default).
func (o *options) readToken(a *app) (string, error) {
	var raw []byte
	switch {
	case o.tokenFile != "" && o.tokenFile != "-":
		b, err := readBounded(o.tokenFile, maxTokenInput)
		if err != nil {
			return "", usagef("cannot read the token file: %v", err)
		}
		raw = b
	case o.tokenFile == "" && a.getenv("TOKENWARDEN_TOKEN") != "":
		raw = []byte(a.getenv("TOKENWARDEN_TOKEN"))
	default:
		if f, ok := a.stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return "", usagef("no token: pipe it on stdin, or use --token-file or TOKENWARDEN_TOKEN")
			}
		}
		if a.stdin == nil {
			return "", usagef("no token: pipe it on stdin, or use --token-file or TOKENWARDEN_TOKEN")
		}
		b, err := readAllBounded(a.stdin, maxTokenInput)
		if err != nil {
			return "", usagef("cannot read the token from stdin: %v", err)
		}
		raw = b
	}
	return extractToken(raw, o.hint)
}

// extractToken never includes the input in its errors.
func extractToken(raw []byte, hint string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", usagef("no token: the input is empty")
	}
	if raw[0] == '{' {
		var resp struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			return "", usagef("the token input looks like JSON but does not parse")
		}
		tok := resp.AccessToken
		if hint == "refresh_token" {
			tok = resp.RefreshToken
		}
		if tok == "" {
			return "", usagef("the JSON token input has no %s member", cmpOr(hint, "access_token"))
		}
		raw = []byte(tok)
	}
	s := string(raw)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return "", usagef("the token contains whitespace or non-ASCII bytes")
		}
	}
	if s == "" {
		return "", usagef("no token: the input is empty")
	}
	return s, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// httpClient is the HTTP client of the invocation: bounded by the timeout,
// with the extra CAs when given. It follows no redirect, so credentials and
// tokens reach only the host they were meant for.
func (o *options) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.caFile != "" {
		pem, err := readBounded(o.caFile, maxCAFile)
		if err != nil {
			return nil, usagef("cannot read the CA file: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("the CA file %s holds no PEM certificate", o.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
