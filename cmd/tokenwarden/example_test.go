package main

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// The command list, the environment variables and the exit codes, as
// "tokenwarden help" prints them.
func Example() {
	getenv := func(string) string { return "" }
	code := run(context.Background(), []string{"help"}, strings.NewReader(""), os.Stdout, os.Stdout, getenv)
	fmt.Println("exit", code)
	// Output:
	// tokenwarden: operator tool for Keycloak/OIDC token revocation
	//
	// Usage:
	//   tokenwarden <command> [flags]
	//   tokenwarden help <command>
	//
	// Commands:
	//   verify           verify an access token offline against the issuer's JWKS and print its claims
	//   introspect       ask Keycloak whether a token is active (RFC 7662)
	//   revoke           revoke a refresh or access token at Keycloak (RFC 7009)
	//   sessions         list a user's active sessions
	//   logout-user      end every session of a user and set the user's not-before to now
	//   push-not-before  realm-wide emergency revocation: not-before = now, pushed to every admin URL
	//   status           check the issuer: discovery, signing keys, advertised endpoints
	//
	// Environment (a flag wins over its variable):
	//   TOKENWARDEN_ISSUER              issuer URL (e.g. https://sso.example.com/realms/app)
	//   KEYCLOAK_URL, KEYCLOAK_REALM    Keycloak base URL and realm, when no issuer is given
	//   TOKENWARDEN_CLIENT_ID           confidential client for introspect, revoke and verify's audience
	//   TOKENWARDEN_CLIENT_SECRET       its secret (or TOKENWARDEN_CLIENT_SECRET_FILE)
	//   TOKENWARDEN_AUDIENCE            audience verify requires (default: the client id)
	//   KEYCLOAK_ADMIN_USER             admin user for sessions, logout-user, push-not-before
	//   KEYCLOAK_ADMIN_PASSWORD         its password (or KEYCLOAK_ADMIN_PASSWORD_FILE)
	//   KEYCLOAK_ADMIN_REALM            realm of the admin user (default master)
	//   TOKENWARDEN_TOKEN               the token, when neither --token-file nor stdin is used
	//   TOKENWARDEN_CA_FILE             PEM bundle of extra trusted CAs
	// Secrets and tokens are never accepted as flag values: they would show in ps.
	//
	// Exit codes:
	//   0  success; the token is valid (verify) or active (introspect)
	//   1  the token is invalid, inactive or revoked
	//   2  usage: bad flags, missing configuration, unreadable secret or token
	//   3  upstream unavailable: Keycloak or the JWKS did not answer, timed out or failed (5xx)
	//   4  refused by Keycloak: bad client credentials, missing admin role, unknown user or session
	//   5  partial: not-before set, but some admin URLs did not acknowledge the push
	// exit 0
}

// A secret given as a flag value is refused without being echoed: it
// would show in ps. The secret comes from a file or the environment.
func Example_secretFlagRefused() {
	getenv := func(string) string { return "" }
	code := run(context.Background(), []string{"introspect", "--client-secret", "hunter2"},
		strings.NewReader(""), os.Stdout, os.Stdout, getenv)
	fmt.Println("exit", code)
	// Output:
	// tokenwarden introspect: --client-secret is not accepted on the command line (it would show in ps); use --client-secret-file or TOKENWARDEN_CLIENT_SECRET
	// exit 2
}
