package services

// The pinned Keycloak release. The authoritative copy is KEYCLOAK_VERSION in
// the repository's .env file (read by docker compose); a test fails when the
// two differ.
const (
	// KeycloakVersion is the Keycloak release the project tests against.
	KeycloakVersion = "26.7.3"
	// KeycloakDistSHA256 is the SHA-256 of
	// keycloak-quarkus-dist-<KeycloakVersion>.tar.gz.
	KeycloakDistSHA256 = "77657f30b7e90d70f727712ce1c967f430fd6a5e9f458d32d8c6df0635345f47"
	// Realm is the name of the realm in testdata/keycloak/tokenwarden-realm.json.
	Realm = "tokenwarden"
)
