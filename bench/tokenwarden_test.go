package bench_test

import "testing"

var tokenwardenLibs []lib

type variant struct {
	name  string
	bench func(b *testing.B, alg string)
}

var tokenwardenVariants []variant
