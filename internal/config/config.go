// Package config holds the conventions shared by the Config types of every
// package, so that a field means the same thing wherever it appears.
package config

import "time"

// Leeway resolves a clock-skew allowance: zero means def, a negative value
// means none (exact clocks), any other value is kept.
func Leeway(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
