package config

import (
	"testing"
	"time"
)

func TestLeeway(t *testing.T) {
	for _, c := range []struct{ v, want time.Duration }{
		{0, 30 * time.Second},
		{-1, 0},
		{-time.Hour, 0},
		{time.Nanosecond, time.Nanosecond},
		{2 * time.Minute, 2 * time.Minute},
	} {
		if got := Leeway(c.v, 30*time.Second); got != c.want {
			t.Errorf("Leeway(%v, 30s) = %v, want %v", c.v, got, c.want)
		}
	}
}
