package revocation

import "testing"

// StartRedisForBench starts a private redis-server for the external test
// package's benchmarks and returns its address.
func StartRedisForBench(tb testing.TB) string { return startRedis(tb).addr() }
