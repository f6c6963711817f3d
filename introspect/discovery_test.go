package introspect_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

func TestConfigFromDiscovery(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	d := &oidc.Discovery{
		Issuer:                           testIssuer,
		IntrospectionEndpoint:            "https://kc.internal/i",
		RevocationEndpoint:               "https://kc.internal/r",
		IntrospectionEndpointAuthMethods: []string{"private_key_jwt", "client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethods:    []string{"client_secret_post", "none"},
	}
	tests := []struct {
		name       string
		in         introspect.Config
		wantMethod introspect.AuthMethod
		wantIntro  string
	}{
		{"secret", introspect.Config{ClientID: "backend", ClientSecret: "s"}, introspect.AuthClientSecretBasic, d.IntrospectionEndpoint},
		{"signer", introspect.Config{ClientID: "backend", Signer: key}, introspect.AuthPrivateKeyJWT, d.IntrospectionEndpoint},
		{"public", introspect.Config{ClientID: "mobile"}, introspect.AuthNone, ""},
		{"explicit URL kept", introspect.Config{ClientID: "backend", ClientSecret: "s", IntrospectionURL: "https://x/i"},
			introspect.AuthClientSecretBasic, "https://x/i"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := introspect.ConfigFromDiscovery(d, tt.in)
			if cfg.Issuer != testIssuer || cfg.RevocationURL != d.RevocationEndpoint || cfg.IntrospectionURL != tt.wantIntro {
				t.Fatalf("cfg = %+v", cfg)
			}
			c, err := introspect.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.AuthMethod() != tt.wantMethod {
				t.Fatalf("AuthMethod = %s, want %s", c.AuthMethod(), tt.wantMethod)
			}
		})
	}
	postOnly := *d
	postOnly.IntrospectionEndpointAuthMethods = []string{"client_secret_post"}
	cfg := introspect.ConfigFromDiscovery(&postOnly, introspect.Config{ClientID: "backend", ClientSecret: "s"})
	if cfg.AuthMethod != introspect.AuthClientSecretPost {
		t.Fatalf("AuthMethod = %q, want client_secret_post", cfg.AuthMethod)
	}
}
