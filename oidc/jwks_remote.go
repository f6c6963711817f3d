package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// ErrKeysUnavailable reports that a RemoteKeySet has no usable key set (the
// first fetch has not succeeded, or every refresh failed for longer than the
// stale-if-error window), and is wrapped by a fetch that failed to reach the
// JWKS (network, timeout, a status other than 200, a refused redirect) as
// Refresh and FetchEvent.Err report it; the error text names the cause.
var ErrKeysUnavailable = errors.New("oidc: signing keys unavailable")

// Defaults of KeySetConfig and DiscoveryConfig, documented on their fields.
const (
	defaultMinRefresh         = 5 * time.Minute
	defaultMaxRefresh         = time.Hour
	defaultUnknownKidCooldown = 15 * time.Second
	defaultStaleIfError       = time.Hour
	defaultFetchTimeout       = 10 * time.Second
	defaultNegativeCacheSize  = 1024
)

// KeySetConfig configures a RemoteKeySet. The zero value of every field but
// URL is a usable default.
type KeySetConfig struct {
	// URL of the JWK Set (jwks_uri). Must be https unless InsecureAllowHTTP.
	URL string

	// HTTPClient makes the requests. nil means a private client with a
	// timeout. The client is never modified: its transport and redirect
	// policy are wrapped in a copy.
	HTTPClient *http.Client

	// InsecureAllowHTTP permits plain http JWKS URLs (and redirects), for
	// development against a local identity provider only: anyone on the path
	// could then substitute the signing keys.
	InsecureAllowHTTP bool

	// MinRefresh and MaxRefresh bound the lifetime of a fetched key set.
	// A Cache-Control max-age is honoured within the bounds; a response
	// without one (or with no-cache, no-store, max-age=0, as Keycloak sends)
	// lives MinRefresh. Defaults 5 min and 1 h. The set is refreshed in the
	// background at about three quarters of its lifetime, so Key never waits
	// for a scheduled refresh.
	MinRefresh time.Duration
	MaxRefresh time.Duration

	// UnknownKidCooldown is the least time between two fetches caused by an
	// unknown kid. Default 15 s: a flood of random kids costs the identity
	// provider at most four requests a minute per replica, and a key rotated
	// in while the cooldown is spent (by a flood, or by a rotation moments
	// before) is refused for at most that long. Keycloak signs with a new
	// active key as soon as it is added, so the first token it signs is also
	// the first the verifier hears of it: normally that token triggers the one
	// fetch at once. Negative values mean no cooldown (tests only).
	UnknownKidCooldown time.Duration

	// StaleIfError is how long after its lifetime a key set is still served
	// while refreshes fail. After it, Key fails with an error wrapping
	// ErrKeysUnavailable. Default 1 h, well above Keycloak's 5 min access
	// token lifespan: during an identity-provider outage the tokens already
	// issued keep verifying, and a key removed upstream in that window cannot
	// be learnt of anyway. Negative means no stale serving.
	StaleIfError time.Duration

	// Timeout bounds one fetch, connection to last byte. Default 10 s.
	Timeout time.Duration

	// MaxBodyBytes caps the JWKS response. Default 64 KiB.
	MaxBodyBytes int64

	// Algorithms keeps only the keys pinned (or inferred to be pinned) to
	// one of these algorithms, named like the algorithm constants; empty
	// means all of them. An unknown name is a configuration error.
	Algorithms []string

	// MinRSABits raises the smallest accepted RSA modulus above 2048.
	MinRSABits int

	// NegativeCacheSize bounds the cache of kids found absent from a fresh
	// key set. Default 1024 entries (a kid is at most 512 bytes).
	NegativeCacheSize int

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// Logger receives fetch failures and skipped keys; nil discards.
	Logger *slog.Logger

	// Observe, when set, is called after every fetch attempt, on the
	// fetching goroutine; it must return quickly and must not call back into
	// the key set. Metrics plug in here.
	Observe func(FetchEvent)
}

// Why a RemoteKeySet fetched its JWKS (FetchEvent.Reason).
const (
	fetchInitial    = "initial"
	fetchRefresh    = "refresh"
	fetchUnknownKid = "unknown_kid"
	fetchForced     = "forced"
)

// FetchEvent describes one JWKS fetch attempt. It never carries a token.
type FetchEvent struct {
	URL string // scheme, host and path of the JWKS URL
	// Reason says why it was fetched: "initial" (the first load, started by
	// the constructor), "refresh" (scheduled refresh-ahead, or a retry after
	// a failure), "unknown_kid" (a token named a kid the set lacks) or
	// "forced" (a call to Refresh).
	Reason   string
	Start    time.Time     // when the fetch started (Now)
	Duration time.Duration // wall-clock duration
	Status   int           // HTTP status, 0 when no response
	Keys     int           // usable keys loaded; 0 on failure
	Skipped  int           // keys left out (see ParseJWKS)
	TTL      time.Duration // lifetime given to the new set; 0 on failure
	Err      error         // nil on success
}

// KeySetStats are counters of a RemoteKeySet, for tests, benchmarks and
// status pages.
type KeySetStats struct {
	Fetches           uint64    // fetch attempts
	FetchErrors       uint64    // failed attempts
	UnknownKidFetches uint64    // fetches started because of an unknown kid
	UnknownKidDenied  uint64    // unknown kids answered without a fetch (cooldown)
	NegativeHits      uint64    // unknown kids answered from the negative cache
	Keys              int       // keys in the current set
	Generation        uint64    // number of successful loads
	LoadedAt          time.Time // when the current set was fetched; zero if none
	ExpiresAt         time.Time // end of its lifetime (refreshed before)
	StaleUntil        time.Time // after this, Key fails with ErrKeysUnavailable
	LastError         string    // last fetch error, empty after a success
}

// keySnapshot is one immutable loaded key set.
type keySnapshot struct {
	keys       map[string]*Key
	kids       string // the explanation of an unknown kid: the kids held
	gen        uint64
	loadedAt   time.Time
	expiresAt  time.Time
	staleUntil time.Time
}

// fetchCall is one in-flight fetch that callers may wait for.
type fetchCall struct {
	done chan struct{}
	err  error
}

// RemoteKeySet is a JWKS cache for one issuer (see the package doc for the
// policy). The constructor starts a goroutine that performs the first fetch at
// once and then refreshes ahead of expiry; Close stops it. All methods are
// safe for concurrent use.
type RemoteKeySet struct {
	cfg    KeySetConfig
	url    string // redacted, for logs and events
	client *http.Client
	policy jose.Policy
	now    func() time.Time
	log    *slog.Logger

	snap atomic.Pointer[keySnapshot]
	neg  *lru.Cache[string, uint64] // kid → generation it was absent from

	errUnknown error // preallocated: the unknown-kid path must not allocate

	mu               sync.Mutex
	inflight         *fetchCall
	lastUnknownFetch time.Time
	lastErr          error
	gen              uint64
	closed           bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	kick   chan struct{}

	fetches, fetchErrors, unknownFetches, unknownDenied, negHits atomic.Uint64
}

// NewRemoteKeySet validates cfg and returns a RemoteKeySet whose first fetch
// is already under way in a background goroutine: the constructor itself
// never blocks on the network, and the first Key call waits (bounded by its
// context) for that fetch instead of starting another. The goroutine runs
// until Close; a RemoteKeySet that is no longer needed must be closed.
func NewRemoteKeySet(cfg KeySetConfig) (*RemoteKeySet, error) {
	u, err := checkURL(cfg.URL, cfg.InsecureAllowHTTP)
	if err != nil {
		return nil, err
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = defaultMinRefresh
	}
	if cfg.MaxRefresh <= 0 {
		cfg.MaxRefresh = defaultMaxRefresh
	}
	if cfg.MaxRefresh < cfg.MinRefresh {
		cfg.MaxRefresh = cfg.MinRefresh
	}
	if cfg.UnknownKidCooldown == 0 {
		cfg.UnknownKidCooldown = defaultUnknownKidCooldown
	} else if cfg.UnknownKidCooldown < 0 {
		cfg.UnknownKidCooldown = 0
	}
	if cfg.StaleIfError == 0 {
		cfg.StaleIfError = defaultStaleIfError
	} else if cfg.StaleIfError < 0 {
		cfg.StaleIfError = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultFetchTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxJWKSBytes
	}
	if cfg.NegativeCacheSize <= 0 {
		cfg.NegativeCacheSize = defaultNegativeCacheSize
	}
	algs, err := newAlgSet(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	cfg.Algorithms = append([]string(nil), cfg.Algorithms...)
	neg, err := lru.New[string, uint64](cfg.NegativeCacheSize)
	if err != nil {
		return nil, fmt.Errorf("oidc: negative kid cache: %w", err)
	}
	ks := &RemoteKeySet{
		cfg:    cfg,
		url:    redactURL(u),
		client: guardedClient(cfg.HTTPClient, cfg.InsecureAllowHTTP, cfg.MaxBodyBytes, nil),
		policy: jose.Policy{Algs: algs, MinRSABits: cfg.MinRSABits},
		now:    cfg.Now,
		log:    cfg.Logger,
		neg:    neg,
		kick:   make(chan struct{}, 1),
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	if ks.log == nil {
		ks.log = slog.New(slog.DiscardHandler)
	}
	ks.errUnknown = fmt.Errorf("%w (jwks %s)", ErrUnknownKey, ks.url)
	ks.ctx, ks.cancel = context.WithCancel(context.Background())

	ks.mu.Lock()
	first := ks.startFetchLocked(fetchInitial)
	ks.mu.Unlock()
	ks.wg.Add(1)
	go ks.refreshLoop(first)
	return ks, nil
}

// Key returns the key with this kid. A known kid is answered from an
// immutable snapshot without locks, allocations or fetches, for as long as
// the set is fresh or within its stale-if-error window. An unknown kid is
// answered from the negative cache when it was absent from the current set;
// otherwise it joins the fetch in flight, or starts one if the unknown-kid
// cooldown has passed, or fails at once. Errors wrap ErrUnknownKey,
// ErrKeysUnavailable or the context's error.
func (ks *RemoteKeySet) Key(ctx context.Context, kid string) (*Key, error) {
	s := ks.snap.Load()
	if s != nil {
		if k, ok := s.keys[kid]; ok {
			if ks.now().After(s.staleUntil) {
				return nil, ks.unavailable(s)
			}
			return k, nil
		}
		if gen, ok := ks.neg.Get(kid); ok && gen == s.gen {
			ks.negHits.Add(1)
			return nil, ks.errUnknown
		}
	}
	return ks.slowKey(ctx, kid)
}

// slowKey handles a kid absent from the current snapshot.
func (ks *RemoteKeySet) slowKey(ctx context.Context, kid string) (*Key, error) {
	if len(kid) > jose.MaxKeyIDBytes {
		return nil, ks.errUnknown // cannot be in any set we load
	}
	ks.mu.Lock()
	call := ks.inflight
	if call == nil {
		// The snapshot may have changed since the lock-free look-up.
		if s := ks.snap.Load(); s != nil {
			if k, ok := s.keys[kid]; ok {
				ks.mu.Unlock()
				if ks.now().After(s.staleUntil) {
					return nil, ks.unavailable(s)
				}
				return k, nil
			}
		}
		now := ks.now()
		if ks.closed || (!ks.lastUnknownFetch.IsZero() && now.Sub(ks.lastUnknownFetch) < ks.cfg.UnknownKidCooldown) {
			s := ks.snap.Load()
			last, closed := ks.lastErr, ks.closed
			ks.mu.Unlock()
			ks.unknownDenied.Add(1)
			if s == nil {
				return nil, ks.unavailable(nil)
			}
			if last != nil && !closed {
				// The set could not be refreshed: the kid may be a new key.
				return nil, ks.unknownUnavailable(last)
			}
			return nil, ks.errUnknown
		}
		ks.lastUnknownFetch = now
		ks.unknownFetches.Add(1)
		call = ks.startFetchLocked(fetchUnknownKid)
	}
	ks.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("oidc: waiting for jwks fetch: %w", ctx.Err())
	}
	s := ks.snap.Load()
	if s == nil {
		return nil, ks.unavailable(nil)
	}
	if k, ok := s.keys[kid]; ok {
		if ks.now().After(s.staleUntil) {
			return nil, ks.unavailable(s)
		}
		return k, nil
	}
	if call.err != nil {
		// Not looked up in a fresh set: the kid may be a key published
		// during the outage, so the token is not at fault.
		return nil, ks.unknownUnavailable(call.err)
	}
	// Absent from a set fetched after this kid was asked for: remember it
	// until the next load.
	ks.neg.Add(kid, s.gen)
	return nil, ks.errUnknown
}

// unknownUnavailable is the error for a kid absent from the cached set
// while the JWKS cannot be fetched (cause): ErrKeysUnavailable, not
// ErrUnknownKey.
func (ks *RemoteKeySet) unknownUnavailable(cause error) error {
	return fmt.Errorf("%w: jwks %s: kid not in the cached set and the set cannot be refreshed: %w",
		ErrKeysUnavailable, ks.url, cause)
}

// unavailable builds the error for a missing or expired key set.
func (ks *RemoteKeySet) unavailable(s *keySnapshot) error {
	ks.mu.Lock()
	last := ks.lastErr
	ks.mu.Unlock()
	why := "no key set loaded yet"
	if s != nil {
		why = "key set expired at " + s.staleUntil.UTC().Format(time.RFC3339) + " (stale-if-error window over)"
	}
	if last != nil {
		return fmt.Errorf("%w: jwks %s: %s: %w", ErrKeysUnavailable, ks.url, why, last)
	}
	return fmt.Errorf("%w: jwks %s: %s", ErrKeysUnavailable, ks.url, why)
}

// VerifySignature verifies a compact JWS with this key set and returns its
// payload, without interpreting it: the header must name a supported
// algorithm equal to the key's pinned one; crit, b64 and zip are refused,
// embedded keys ignored. It makes a RemoteKeySet a go-oidc KeySet, so that
// go-oidc's IDTokenVerifier can use this cache for ID tokens instead of
// go-oidc's own, which refetches on every bad signature.
func (ks *RemoteKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	return verifyJWS(ctx, ks, jwt)
}

// Refresh fetches the JWKS now (joining a fetch already in flight) and waits
// for the result, bounded by ctx. It is not rate-limited: do not wire it to
// anything an attacker can trigger.
func (ks *RemoteKeySet) Refresh(ctx context.Context) error {
	call := ks.joinFetch(fetchForced)
	if call == nil {
		return fmt.Errorf("%w: key set closed", ErrKeysUnavailable)
	}
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return fmt.Errorf("oidc: waiting for jwks fetch: %w", ctx.Err())
	}
}

// Close stops the background refresh and waits for fetches in flight to
// end. It is idempotent. After Close, known kids are still answered until the
// set's stale-if-error window ends; nothing is fetched any more.
func (ks *RemoteKeySet) Close() {
	ks.once.Do(func() {
		ks.mu.Lock()
		ks.closed = true
		ks.mu.Unlock()
		ks.cancel()
		ks.wg.Wait()
		ks.client.CloseIdleConnections()
	})
}

// knownKids renders the kids of the current set for the explanation of an
// unknown kid.
func (ks *RemoteKeySet) knownKids() string {
	if s := ks.snap.Load(); s != nil {
		return s.kids
	}
	return "a key of jwks " + ks.url + " (none loaded)"
}

// generation is the number of the current key set's load (0 before the
// first): the Verifier's cache keeps an entry only while it is unchanged, so
// that a key removed from the JWKS stops verifying cached tokens too.
func (ks *RemoteKeySet) generation() uint64 {
	if s := ks.snap.Load(); s != nil {
		return s.gen
	}
	return 0
}

// Stats returns a snapshot of the counters and of the current key set.
func (ks *RemoteKeySet) Stats() KeySetStats {
	st := KeySetStats{
		Fetches:           ks.fetches.Load(),
		FetchErrors:       ks.fetchErrors.Load(),
		UnknownKidFetches: ks.unknownFetches.Load(),
		UnknownKidDenied:  ks.unknownDenied.Load(),
		NegativeHits:      ks.negHits.Load(),
	}
	if s := ks.snap.Load(); s != nil {
		st.Keys = len(s.keys)
		st.Generation = s.gen
		st.LoadedAt, st.ExpiresAt, st.StaleUntil = s.loadedAt, s.expiresAt, s.staleUntil
	}
	ks.mu.Lock()
	if ks.lastErr != nil {
		st.LastError = ks.lastErr.Error()
	}
	ks.mu.Unlock()
	return st
}

// joinFetch returns the fetch in flight, or starts one for reason; nil once
// the set is closed.
func (ks *RemoteKeySet) joinFetch(reason string) *fetchCall {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	switch {
	case ks.closed:
		return nil
	case ks.inflight != nil:
		return ks.inflight
	}
	return ks.startFetchLocked(reason)
}

// startFetchLocked starts a fetch; ks.mu is held and no fetch is in flight.
func (ks *RemoteKeySet) startFetchLocked(reason string) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	ks.inflight = call
	ks.wg.Add(1)
	go func() {
		defer ks.wg.Done()
		err := ks.fetch(reason)
		ks.mu.Lock()
		ks.inflight = nil
		ks.lastErr = err
		ks.mu.Unlock()
		call.err = err
		close(call.done)
		if reason != fetchInitial && reason != fetchRefresh {
			// Let the refresh loop reschedule from the new state.
			select {
			case ks.kick <- struct{}{}:
			default:
			}
		}
	}()
	return call
}

// refreshLoop waits for the first fetch, then refreshes ahead of expiry and
// retries failures with capped exponential backoff.
func (ks *RemoteKeySet) refreshLoop(first *fetchCall) {
	defer ks.wg.Done()
	select {
	case <-first.done:
	case <-ks.ctx.Done():
		return
	}
	err := first.err
	backoff := time.Second
	for {
		var wait time.Duration
		if s := ks.snap.Load(); err != nil || s == nil {
			wait = jitter(backoff)
			backoff = min(backoff*2, time.Minute, ks.cfg.MinRefresh)
		} else {
			backoff = time.Second
			wait = jitter(s.expiresAt.Sub(s.loadedAt) * 3 / 4)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ks.kick:
			// A fetch outside the schedule ended: reschedule from its result.
			t.Stop()
			err = ks.lastError()
			continue
		case <-ks.ctx.Done():
			t.Stop()
			return
		}
		call := ks.joinFetch(fetchRefresh)
		if call == nil {
			return
		}
		select {
		case <-call.done:
			err = call.err
		case <-ks.ctx.Done():
			return
		}
	}
}

func (ks *RemoteKeySet) lastError() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.lastErr
}

// jitter spreads d by ±10% so that replicas do not refresh in lock-step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Millisecond
	}
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}

// fetch performs one GET of the JWKS and installs the result. It runs on the
// key set's own context (cancelled by Close) with Timeout, never on a
// caller's context.
func (ks *RemoteKeySet) fetch(reason string) error {
	ks.fetches.Add(1)
	start := ks.now()
	wall := time.Now()
	ev := FetchEvent{URL: ks.url, Reason: reason, Start: start}
	err := ks.doFetch(&ev)
	ev.Duration = time.Since(wall)
	ev.Err = err
	if err != nil {
		ks.fetchErrors.Add(1)
		ks.log.LogAttrs(ks.ctx, slog.LevelWarn, "oidc: jwks fetch failed",
			slog.String("url", ks.url), slog.String("reason", reason), slog.String("error", err.Error()))
	}
	if ks.cfg.Observe != nil {
		ks.cfg.Observe(ev)
	}
	return err
}

func (ks *RemoteKeySet) doFetch(ev *FetchEvent) error {
	ctx, cancel := context.WithTimeout(ks.ctx, ks.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("oidc: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return fmt.Errorf("%w: jwks %s: %w", ErrInvalidJWKS, ks.url, err)
		}
		return fmt.Errorf("%w: jwks fetch %s: %w", ErrKeysUnavailable, ks.url, err)
	}
	defer resp.Body.Close()
	ev.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%w: jwks %s answered %d", ErrKeysUnavailable, ks.url, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return fmt.Errorf("%w: jwks %s: %w", ErrInvalidJWKS, ks.url, err)
		}
		return fmt.Errorf("%w: jwks read %s: %w", ErrKeysUnavailable, ks.url, err)
	}
	keys, skipped, err := parseJWKS(body, ks.policy, int(ks.cfg.MaxBodyBytes))
	ev.Skipped = len(skipped)
	for _, s := range skipped {
		level := slog.LevelDebug
		if sk, ok := s.(*skippedKey); ok && sk.skip.Reason == jose.SkipPrivateKey {
			level = slog.LevelError
		}
		ks.log.LogAttrs(ks.ctx, level, "oidc: jwks key skipped", slog.String("url", ks.url), slog.String("detail", s.Error()))
	}
	if err != nil {
		return fmt.Errorf("oidc: jwks %s: %w", ks.url, err)
	}
	ttl := ks.cfg.MinRefresh
	if maxAge, ok := cacheMaxAge(resp.Header); ok {
		ttl = min(max(maxAge, ks.cfg.MinRefresh), ks.cfg.MaxRefresh)
	}
	now := ks.now()
	m := make(map[string]*Key, len(keys))
	for _, k := range keys {
		m[k.ID] = k
	}
	kids := kidsOf(m) + " (jwks " + ks.url + ")"
	ks.mu.Lock()
	ks.gen++
	s := &keySnapshot{keys: m, kids: kids, gen: ks.gen, loadedAt: now, expiresAt: now.Add(ttl)}
	s.staleUntil = s.expiresAt.Add(ks.cfg.StaleIfError)
	ks.snap.Store(s)
	ks.mu.Unlock()
	ev.Keys, ev.TTL = len(keys), ttl
	return nil
}
