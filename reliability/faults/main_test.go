package faults_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// quiet discards go-redis's own log lines (dial failures are the point of
// these tests); the store reports its state through Health.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain stops a Keycloak that keycloaktest had to start for these tests.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	keycloaktest.Main(m)
}
