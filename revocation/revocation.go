package revocation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/config"
)

// Sentinel errors. They are wrapped with %w; test them with errors.Is.
var (
	// ErrFull reports that a revocation was refused because the store holds
	// MaxEntries entries (or, for Redis, the shared deny-list does, or Redis
	// has reached its maxmemory). Old entries are kept; the store reports
	// itself degraded until every token the refused revocation could have
	// matched has expired.
	ErrFull = errors.New("revocation: deny-list full")

	// ErrInvalid reports an argument that cannot be stored: an empty or
	// oversized issuer or identifier, or a zero time where one is required.
	ErrInvalid = errors.New("revocation: invalid argument")

	// ErrUnavailable reports that the shared store (Redis) could not be
	// reached or did not confirm the write (nor, with
	// RedisConfig.WaitReplicas, its replicas). The revocation cannot be
	// counted on; the caller should answer 503 so the sender retries.
	ErrUnavailable = errors.New("revocation: store unavailable")

	// ErrClosed reports a call on a closed store.
	ErrClosed = errors.New("revocation: store closed")
)

// Size limits on identifiers. Values longer than these are refused with
// ErrInvalid: they come from verified tokens but are still attacker-chosen.
const (
	MaxIssuerLen = 1024 // bytes of an issuer URL
	MaxIDLen     = 1024 // bytes of a jti, sid, sub or client id
)

// Token is the verified identity of an access token, as the deny-list needs
// it. The caller fills it from claims it has already verified (signature,
// iss, aud, exp); revocation never parses a token.
type Token struct {
	Issuer    string    // iss, exactly as verified
	ID        string    // jti; empty when absent
	Subject   string    // sub
	SessionID string    // sid; empty for service-account tokens
	ClientID  string    // azp, or client_id when azp is absent
	IssuedAt  time.Time // iat; zero when absent
	Expiry    time.Time // exp (informational: the verifier has enforced it)
}

// Match is the outcome of a check: NoMatch, or the kind of entry that
// refuses the token.
type Match uint8

// Check outcomes, in the order Check tests them.
const (
	NoMatch      Match = iota // no entry matches
	TokenMatch                // (iss, jti) is deny-listed
	SessionMatch              // (iss, sid) was revoked at or after iat
	SubjectMatch              // iat < the subject's not-before
	IssuerMatch               // iat < the issuer's (realm's) not-before
	ClientMatch               // iat < the client's not-before
)

var matchNames = [...]string{
	NoMatch:      "not_revoked",
	TokenMatch:   "token_revoked",
	SessionMatch: "session_revoked",
	SubjectMatch: "subject_not_before",
	IssuerMatch:  "issuer_not_before",
	ClientMatch:  "client_not_before",
}

// String returns a stable snake_case name, usable as a metric label.
func (r Match) String() string {
	if int(r) < len(matchNames) {
		return matchNames[r]
	}
	return "unknown"
}

// Revoked reports whether r refuses the token.
func (r Match) Revoked() bool { return r != NoMatch }

// Health is the state of a store. A degraded store still answers checks
// with everything it knows, but it may be missing revocations: the caller
// should confirm tokens another way (introspection) until it is healthy.
type Health struct {
	Degraded bool
	Reason   string    // why it is degraded; empty when healthy
	Since    time.Time // when this state began (Config.Now clock)
}

// Store is the deny-list the adapter uses. Check is answered from memory
// without I/O; the other methods may wait for a shared backend. The package
// documentation tabulates what each entry refuses and how long it is kept;
// the rules behind it:
//
//   - Not-before and session times only move forward: storing a lower value
//     than the stored one changes nothing, so a replayed or reordered
//     message can never re-enable tokens.
//   - Subject, issuer and client not-before use Keycloak's strict rule
//     iat < notBefore: a token issued in the same second as the push stays
//     valid, exactly as Keycloak's own introspection judges it. Pass
//     notBefore+1s to refuse that second too.
//   - A session refuses its tokens with iat <= at, so a token minted in the
//     same second as the logout is refused. A token of the same sid with a
//     later iat passes: the provider minted it after the session was ended
//     (Keycloak refuses to refresh an ended session, so that means the
//     provider itself considers the sid alive, e.g. an offline session).
//     Give at in the provider's clock (the logout token's iat) when there
//     is one, so clock skew between provider and API cannot widen the gap.
//     To end every token of a user regardless of session, revoke the
//     subject.
//   - A token without iat cannot be ordered against a not-before or a
//     session time, so it is refused whenever such an entry matches it.
//   - A matching entry refuses the token until the entry is swept; the
//     sweep removes an entry only after its end of life, when no token it
//     can match is still valid (given MaxTokenLifetime is right).
type Store interface {
	// Check reports whether t is refused and why. It does not allocate.
	Check(t Token) Match
	// RevokeToken refuses (iss, jti) until exp (plus Leeway). A zero exp
	// means now + MaxTokenLifetime.
	RevokeToken(ctx context.Context, iss, jti string, exp time.Time) error
	// RevokeSession refuses every token of (iss, sid) with iat <= at, or
	// without iat. A zero at is refused with ErrInvalid.
	RevokeSession(ctx context.Context, iss, sid string, at time.Time) error
	// RevokeSubject refuses every token of (iss, sub) with iat < notBefore,
	// or without iat. A zero notBefore is refused with ErrInvalid.
	RevokeSubject(ctx context.Context, iss, sub string, notBefore time.Time) error
	// SetIssuerNotBefore refuses every token of iss with iat < notBefore,
	// or without iat. A zero notBefore is refused with ErrInvalid.
	SetIssuerNotBefore(ctx context.Context, iss string, notBefore time.Time) error
	// SetClientNotBefore refuses every token of iss whose ClientID is
	// clientID and whose iat < notBefore.
	SetClientNotBefore(ctx context.Context, iss, clientID string, notBefore time.Time) error
	// SeenOnce records (iss, jti) of a one-time message, such as a
	// back-channel logout token, until exp (plus Leeway). It reports first
	// = true only for the first call; on any error first is false.
	SeenOnce(ctx context.Context, iss, jti string, exp time.Time) (first bool, err error)
	// Health reports whether the store may be missing revocations.
	Health() Health
	// Degraded is Health().Degraded without the copy.
	Degraded() bool
	// Close stops background work. It is idempotent.
	Close() error
}

// Config configures a Memory store, and the local mirror of a Redis store.
// The zero value is usable.
//
// Entries are never evicted early. MaxTokenLifetime (default 24 h) must be
// at least the longest lifetime of any access token the issuers can mint;
// for Keycloak, the largest access-token lifespan of the realm and its
// clients (Keycloak bounds tokens by the SSO session max and, for offline
// tokens, the offline session max, so those are safe upper bounds). Leeway
// (default 1 min) covers the clock skew the verifier tolerates on exp.
//
// MaxEntries bounds memory. When the store is full, a new revocation fails
// with an error wrapping ErrFull, old entries are kept, and the store
// reports degraded until every token the refused revocation could have
// matched has expired; the caller should then confirm tokens by
// introspection and answer 503 to the sender of the refused revocation.
// A store also holds at most 1024 distinct issuers (an entry for a new one
// beyond that fails with ErrFull the same way). For the Redis store
// MaxEntries also bounds the shared list in Redis, where every entry
// counts, issuer not-before and SeenOnce records included (see Redis).
type Config struct {
	// MaxEntries bounds the number of entries (jti, sid, sub, client
	// not-before and replay-guard entries). Zero means DefaultMaxEntries.
	// When full, new revocations fail with ErrFull and the store reports
	// degraded; existing entries are never evicted early.
	MaxEntries int

	// MaxTokenLifetime is the longest lifetime (exp - iat) any token of any
	// issuer this store serves can have: for Keycloak, the largest of the
	// access-token lifespans configured in the realm and on its clients
	// (tokens outlive neither). Session and not-before entries are kept for
	// this long after their time, because a token issued just before it can
	// be live that long. Zero means DefaultMaxTokenLifetime (24 h). Too
	// small a value forgets revocations while tokens they match still live.
	MaxTokenLifetime time.Duration

	// Leeway is added to every entry's lifetime to cover the clock skew the
	// token verifier tolerates on exp. Zero means DefaultLeeway (1 min);
	// a negative value means none.
	Leeway time.Duration

	// SweepInterval is the period of the background sweep of expired
	// entries. Zero means DefaultSweepInterval (30 s).
	SweepInterval time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Logger receives warnings (overflow, Redis link state). Nil discards.
	Logger *slog.Logger

	// Observe, when set, is called after every change of Health,
	// one call at a time and in order, from the goroutine that caused the
	// change. It must return quickly and must not call the store's
	// revocation methods.
	Observe func(Health)
}

// Defaults for the zero Config.
const (
	DefaultMaxEntries       = 1 << 20
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultLeeway           = time.Minute
	DefaultSweepInterval    = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.MaxTokenLifetime <= 0 {
		c.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	c.Leeway = config.Leeway(c.Leeway, DefaultLeeway)
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func validID(iss, id string) bool {
	return iss != "" && len(iss) <= MaxIssuerLen && id != "" && len(id) <= MaxIDLen
}
