package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tokenwarden/tokenwarden/revocation"
)

func Example() {
	ctx := context.Background()
	store := revocation.NewMemory(revocation.Config{MaxTokenLifetime: time.Hour})
	defer store.Close()

	const iss = "https://id.example.com/realms/tokenwarden"
	loggedOut := time.Now().Truncate(time.Second)

	// A back-channel logout ended session "s-1" (at = the logout token's iat).
	if err := store.RevokeSession(ctx, iss, "s-1", loggedOut); err != nil {
		fmt.Println(err)
		return
	}
	// The app's logout endpoint deny-listed one access token until its exp.
	if err := store.RevokeToken(ctx, iss, "onrtac:1f0e", loggedOut.Add(5*time.Minute)); err != nil {
		fmt.Println(err)
		return
	}

	// The adapter fills a Token from verified claims on every request.
	for _, tok := range []revocation.Token{
		{Issuer: iss, ID: "onrtac:1f0e", Subject: "alice", SessionID: "s-0", IssuedAt: loggedOut.Add(-time.Minute)},
		{Issuer: iss, ID: "onrtac:2a2a", Subject: "alice", SessionID: "s-1", IssuedAt: loggedOut.Add(-time.Minute)},
		{Issuer: iss, ID: "onrtac:3b3b", Subject: "alice", SessionID: "s-2", IssuedAt: loggedOut.Add(-time.Minute)},
	} {
		if r := store.Check(tok); r.Revoked() {
			fmt.Println(tok.ID, "refused:", r)
		} else {
			fmt.Println(tok.ID, "accepted")
		}
	}
	// Output:
	// onrtac:1f0e refused: token_revoked
	// onrtac:2a2a refused: session_revoked
	// onrtac:3b3b accepted
}

// A full store refuses new revocations with an error wrapping ErrFull and
// keeps the old ones; it reports degraded so the adapter introspects.
func ExampleMemory_RevokeToken_full() {
	ctx := context.Background()
	store := revocation.NewMemory(revocation.Config{MaxEntries: 1})
	defer store.Close()
	exp := time.Now().Add(5 * time.Minute)

	_ = store.RevokeToken(ctx, "iss", "jti-1", exp)
	err := store.RevokeToken(ctx, "iss", "jti-2", exp)
	switch {
	case errors.Is(err, revocation.ErrFull):
		fmt.Println("refused:", err)
	case errors.Is(err, revocation.ErrUnavailable):
		fmt.Println("shared store down: answer 503")
	}
	fmt.Println("degraded:", store.Degraded())
	fmt.Println("jti-1:", store.Check(revocation.Token{Issuer: "iss", ID: "jti-1"}))
	// Output:
	// refused: revocation: deny-list full (1 entries)
	// degraded: true
	// jti-1: token_revoked
}

// Replicas share one deny-list through Redis. Checks stay local; a
// revocation returns once Redis has it.
func ExampleNewRedis() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	store, err := revocation.NewRedis(revocation.RedisConfig{
		Client: client,
		Config: revocation.Config{MaxTokenLifetime: 10 * time.Hour}, // Keycloak's SSO Session Max
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.WaitHealthy(ctx); err != nil {
		fmt.Println("starting degraded: introspect until the deny-list is loaded")
	}
	err = store.RevokeSubject(ctx, "https://id.example.com/realms/tokenwarden", "alice", time.Now())
	if errors.Is(err, revocation.ErrUnavailable) {
		fmt.Println("not recorded: answer 503 so the sender retries")
	}
}

// With a Redis primary, a replica and Sentinel, each revocation returns
// once the replica has it too, so a failover cannot lose one that was
// acknowledged. While the replica is gone, revocations fail (answer 503).
func ExampleRedisConfig_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "tw",
		SentinelAddrs: []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
	})
	defer client.Close()
	store, err := revocation.NewRedis(revocation.RedisConfig{
		Client:       client,
		WaitReplicas: 1, // the replica Sentinel would promote
		WaitTimeout:  time.Second,
		Config:       revocation.Config{MaxTokenLifetime: 10 * time.Hour},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	ctx := context.Background()
	err = store.RevokeToken(ctx, "https://id.example.com/realms/tokenwarden", "onrtac:1f0e", time.Now().Add(5*time.Minute))
	if errors.Is(err, revocation.ErrUnavailable) {
		fmt.Println("not confirmed by the replica: answer 503 so the sender retries")
	}
}
