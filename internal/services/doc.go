// Package services runs the real servers this project's integration tests
// talk to: a Keycloak distribution fetched with Maven and started in dev
// mode, and a Redis server from the system's package manager.
//
// The same code serves the `make services` command (scripts/services) and
// package keycloaktest, so there is one way to fetch, verify, unpack, start,
// wait for and stop Keycloak.
//
// The Keycloak distribution (org.keycloak:keycloak-quarkus-dist, version
// [KeycloakVersion]) is copied out of the local Maven repository by
// `mvn dependency:copy` (Maven downloads it on first use), its SHA-256 is
// checked against [KeycloakDistSHA256], and it is unpacked once into a cache
// directory. Servers listen on 127.0.0.1 on free ports and are stopped by
// process id, never by name.
//
// Functions are safe for concurrent use by several processes: fetching and
// starting from one cache directory are serialised with a file lock.
package services
