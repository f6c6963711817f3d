package revocation_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tokenwarden/tokenwarden/revocation"
)

const benchIssuer = "https://id.example.com/realms/tokenwarden"

// keycloakJTI returns a jti shaped like Keycloak 26's (`onrtac:` + UUID).
func keycloakJTI(i int) string {
	return fmt.Sprintf("onrtac:%08x-%04x-4%03x-8%03x-%012x", i, i&0xffff, i&0xfff, (i>>12)&0xfff, i*7919)
}

// fillMemory revokes n jtis plus n/100 sessions and n/100 subjects.
func fillMemory(tb testing.TB, s revocation.Store, n int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	for i := range n {
		if err := s.RevokeToken(ctx, benchIssuer, keycloakJTI(i), now.Add(time.Hour)); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range n / 100 {
		if err := s.RevokeSession(ctx, benchIssuer, fmt.Sprintf("sid-%d", i), now); err != nil {
			tb.Fatal(err)
		}
		if err := s.RevokeSubject(ctx, benchIssuer, fmt.Sprintf("sub-%d", i), now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.SetClientNotBefore(ctx, benchIssuer, "mobile", now.Add(-time.Hour)); err != nil {
		tb.Fatal(err)
	}
}

// benchTokens returns tokens that miss every entry but walk every lookup
// (the common, most expensive path), plus one hit in 16.
func benchTokens(n int, now time.Time) []revocation.Token {
	toks := make([]revocation.Token, 1024)
	for i := range toks {
		t := revocation.Token{
			Issuer: benchIssuer, ID: keycloakJTI(n + i), Subject: fmt.Sprintf("user-%d", i),
			SessionID: fmt.Sprintf("live-%d", i), ClientID: "mobile",
			IssuedAt: now.Add(-time.Minute), Expiry: now.Add(4 * time.Minute),
		}
		if i%16 == 0 {
			t.ID = keycloakJTI(i * 37)
		}
		toks[i] = t
	}
	return toks
}

func BenchmarkMemoryCheck(b *testing.B) {
	const n = 1_000_000
	now := time.Now()
	s := revocation.NewMemory(revocation.Config{MaxEntries: 2 * n})
	defer s.Close()
	fillMemory(b, s, n, now)
	toks := benchTokens(n, now)
	b.ReportAllocs()
	b.ResetTimer()
	stop := reportCPU(b)
	defer stop()
	defer b.StopTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r := s.Check(toks[i&1023])
			if (i&1023)%16 == 0 && r != revocation.TokenMatch {
				panic("hit missed")
			}
			i++
		}
	})
}

// reportCPU reports the process CPU time per operation ("cpu-ns/op"), the
// work a check costs whatever else runs on the machine; ns/op is wall time
// divided by operations across all parallel goroutines.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMemoryBytesPerEntry measures the heap held per jti entry
// (Keycloak-shaped 43-byte jti), map overhead included.
func BenchmarkMemoryBytesPerEntry(b *testing.B) {
	const n = 1_000_000
	jtis := make([]string, n)
	for i := range jtis {
		jtis[i] = keycloakJTI(i)
	}
	exp := time.Now().Add(time.Hour)
	ctx := context.Background()
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := revocation.NewMemory(revocation.Config{MaxEntries: n})
		for _, j := range jtis {
			if err := s.RevokeToken(ctx, benchIssuer, j, exp); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
		s.Close()
	}
	b.ReportMetric(perEntry, "B/entry")
}

// BenchmarkRedisMirrorCheck checks against a Redis store's local mirror,
// bootstrapped from Redis with 1M entries: no Redis round trip per check.
func BenchmarkRedisMirrorCheck(b *testing.B) {
	const n = 1_000_000
	addr := revocation.StartRedisForBench(b)
	now := time.Now()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	// Fill Redis through one store, then measure a second replica that
	// loaded everything at start.
	writer, err := revocation.NewRedis(revocation.RedisConfig{Client: client, Config: revocation.Config{MaxEntries: 2 * n}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := writer.WaitHealthy(ctx); err != nil {
		b.Fatal(err)
	}
	fillRedis(b, writer, n, now)
	writer.Close()
	start := time.Now()
	s, err := revocation.NewRedis(revocation.RedisConfig{Client: client, Config: revocation.Config{MaxEntries: 2 * n}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitHealthy(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("replica loaded %d entries from redis in %v", s.Len(), time.Since(start))
	toks := benchTokens(n, now)
	// A sub-benchmark runs several times with growing b.N; the setup above
	// runs once.
	b.Run("1M", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		stop := reportCPU(b)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				r := s.Check(toks[i&1023])
				if (i&1023)%16 == 0 && r != revocation.TokenMatch {
					panic("hit missed")
				}
				i++
			}
		})
		b.StopTimer()
		stop()
	})
}

// fillRedis is fillMemory with concurrent writers (each write is a round trip).
func fillRedis(b *testing.B, s *revocation.Redis, n int, now time.Time) {
	ctx := context.Background()
	var wg sync.WaitGroup
	const workers = 32
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := s.RevokeToken(ctx, benchIssuer, keycloakJTI(i), now.Add(time.Hour)); err != nil {
					b.Error(err)
					return
				}
			}
			for i := w; i < n/100; i += workers {
				_ = s.RevokeSession(ctx, benchIssuer, fmt.Sprintf("sid-%d", i), now)
				_ = s.RevokeSubject(ctx, benchIssuer, fmt.Sprintf("sub-%d", i), now)
			}
		})
	}
	wg.Wait()
	if err := s.SetClientNotBefore(ctx, benchIssuer, "mobile", now.Add(-time.Hour)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRedisBytesPerEntry measures what one jti entry costs in Redis
// (used_memory per entry, with the propagation stream at its default cap),
// for Keycloak-shaped identifiers and for the longest ones the store
// accepts. Run with -benchtime 1x: each iteration writes every entry
// through the store.
func BenchmarkRedisBytesPerEntry(b *testing.B) {
	long := strings.Repeat("x", revocation.MaxIDLen-8)
	for _, bc := range []struct {
		name string
		n    int
		iss  string
		jti  func(int) string
	}{
		{"keycloak-jti-1M", 1_000_000, benchIssuer, keycloakJTI},
		{"jti-1KiB", 50_000, benchIssuer, func(i int) string { return fmt.Sprintf("%s%08d", long, i) }},
		{"iss-1KiB-jti-1KiB", 50_000, "https://" + strings.Repeat("i", revocation.MaxIssuerLen-8),
			func(i int) string { return fmt.Sprintf("%s%08d", long, i) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := revocation.StartRedisForBench(b)
			client := redis.NewClient(&redis.Options{Addr: addr})
			defer client.Close()
			ctx := context.Background()
			var perEntry float64
			var parts string
			for b.Loop() {
				if err := client.FlushAll(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				s, err := revocation.NewRedis(revocation.RedisConfig{Client: client, KeyPrefix: "tw",
					Config: revocation.Config{MaxEntries: 2 * bc.n}})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.WaitHealthy(ctx); err != nil {
					b.Fatal(err)
				}
				base := usedMemory(b, client)
				var wg sync.WaitGroup
				const workers = 32
				exp := time.Now().Add(time.Hour)
				for w := range workers {
					wg.Go(func() {
						for i := w; i < bc.n; i += workers {
							if err := s.RevokeToken(ctx, bc.iss, bc.jti(i), exp); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				s.Close()
				perEntry = float64(usedMemory(b, client)-base) / float64(bc.n)
				idx, _ := client.MemoryUsage(ctx, "{tw}:idx", 0).Result()
				log, _ := client.MemoryUsage(ctx, "{tw}:log", 0).Result()
				keys, _ := client.DBSize(ctx).Result()
				parts = fmt.Sprintf("index %.0f B/entry, stream %.0f B/entry (capped), %d keys", float64(idx)/float64(bc.n), float64(log)/float64(bc.n), keys)
			}
			b.ReportMetric(perEntry, "B/entry")
			b.Logf("%s: %.0f B/entry in redis (%s)", bc.name, perEntry, parts)
		})
	}
}

func usedMemory(b *testing.B, c *redis.Client) int64 {
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for l := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}
