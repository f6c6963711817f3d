package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Identity headers set for the upstream. Any header starting with
// HeaderPrefix that the client sent is removed first, so the upstream can
// trust them.
const (
	HeaderPrefix   = "X-Auth-"
	HeaderSubject  = "X-Auth-Subject"
	HeaderUsername = "X-Auth-Username"
	HeaderEmail    = "X-Auth-Email"
	HeaderRoles    = "X-Auth-Roles" // realm roles, comma-separated
	HeaderScope    = "X-Auth-Scope" // space-separated
	HeaderSession  = "X-Auth-Session"
)

// GatewayConfig configures newGateway.
type GatewayConfig struct {
	// Upstream is where verified requests go. Required.
	Upstream *url.URL
	// Auth is the pipeline every request passes first. Required.
	Auth func(http.Handler) http.Handler
	// PassAuthorization forwards the client's Authorization header (the
	// bearer token) to the upstream; by default it is removed.
	PassAuthorization bool
	// Transport reaches the upstream; nil means http.DefaultTransport.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// newGateway returns a reverse proxy that lets only authenticated requests
// through to the upstream, with the verified identity in X-Auth-* headers.
func newGateway(cfg GatewayConfig) (http.Handler, error) {
	if cfg.Upstream == nil || cfg.Upstream.Scheme == "" || cfg.Upstream.Host == "" {
		return nil, errors.New("gateway: upstream must be an absolute URL")
	}
	if cfg.Auth == nil {
		return nil, errors.New("gateway: no authentication middleware")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rp := &httputil.ReverseProxy{
		Transport: cfg.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Forwarded and X-Forwarded-* are already gone; set our own.
			pr.SetURL(cfg.Upstream)
			pr.SetXForwarded()
			for k := range pr.Out.Header {
				if strings.HasPrefix(http.CanonicalHeaderKey(k), HeaderPrefix) {
					delete(pr.Out.Header, k)
				}
			}
			if !cfg.PassAuthorization {
				pr.Out.Header.Del("Authorization")
			}
			c, ok := adapter.FromContext(pr.In.Context())
			if !ok {
				return // unreachable behind Auth
			}
			setIdentity(pr.Out.Header, c)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("upstream failed", "method", r.Method, "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return cfg.Auth(rp), nil
}

func setIdentity(h http.Header, c *oidc.Claims) {
	set := func(k, v string) {
		if v != "" && headerSafe(v) {
			h.Set(k, v)
		}
	}
	set(HeaderSubject, c.Subject)
	set(HeaderUsername, c.PreferredUsername)
	set(HeaderEmail, c.Email)
	set(HeaderScope, c.Scope)
	set(HeaderSession, c.SessionID)
	roles := make([]string, 0, len(c.RealmRoles))
	for _, r := range c.RealmRoles {
		// A role whose name holds a comma would read as two roles upstream:
		// leave it out rather than let it forge one.
		if r != "" && !strings.ContainsAny(r, ", ") && headerSafe(r) {
			roles = append(roles, r)
		}
	}
	set(HeaderRoles, strings.Join(roles, ","))
}

// headerSafe reports whether v is printable ASCII: claims are attacker-chosen
// strings once signed by the provider, and must not split or smuggle headers.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
