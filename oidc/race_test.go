//go:build race

package oidc

// raceEnabled: the race detector makes sync.Pool drop objects at random, so
// allocation counts that rely on pooling are not checked.
const raceEnabled = true
