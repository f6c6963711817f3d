package soak

import (
	"net/http"
	"testing"
	"time"
)

// class is what the traffic generator meant to send.
type class int

const (
	classValid class = iota
	classRevoked
	classExpired
	classForged
	classGarbage
	classPoll // a propagation probe: a revoked token sent to the other replica
	numClasses
)

var classNames = [numClasses]string{"valid", "revoked", "expired", "forged", "garbage", "poll"}

// verdict is what the oracle decided a request's answer had to be.
type verdict int

const (
	vValid         verdict = iota // live, not revoked: 200
	vValidNewKey                  // same, signed by a key rotated in during the run: 200
	vValidDegraded                // live, not revoked, answered while the store was degraded: 200 (or 503)
	vRevoked                      // revocation returned before the request was sent, known to the replica: 401
	vPropagating                  // revoked on the other replica, not yet seen refused here: 200 or 401
	vRacing                       // sent before the logout call returned: 200 or 401
	vExpired                      // past exp + leeway: 401
	vExpiring                     // within the margin around exp: 200 or 401
	vForged                       // altered signature: 401
	vGarbage                      // not a token: 400 or 401
	numVerdicts
)

var verdictNames = [numVerdicts]string{"valid", "valid_newkey", "valid_degraded", "revoked", "propagating",
	"racing", "expired", "expiring", "forged", "garbage"}

// expiryMargin widens the interval around exp + leeway in which either
// answer is right: the request's own transit and the whole-second exp.
const expiryMargin = time.Second

// observation is one answered request and the facts the oracle needs, all
// read after the answer arrived.
type observation struct {
	class      class
	replica    int
	sent, recv time.Time
	status     int
	degraded   bool // the replica flagged the answer (headerDegraded)
	challenge  bool // WWW-Authenticate present
	retryAfter bool // Retry-After present

	// Token facts; zero for forged and garbage.
	exp         time.Time
	newKey      bool
	revokeStart time.Time // the first logout call for the token was sent
	revokedAt   time.Time // a logout call for it returned 204
	revokedOn   int       // the replica that answered it
	refusedAt   time.Time // this replica's first 401 for it after revokedAt, when received
}

// judge returns the oracle's verdict for o and, when the answer was wrong,
// why. The rules:
//
//   - garbage: 400 or 401; forged: 401 (both never depend on the store);
//   - a token past exp + leeway + expiryMargin: 401; within expiryMargin of
//     the edge (exp − margin … exp + leeway + margin): either;
//   - revoked before the request was sent: 401 on the replica that answered
//     the logout; on the other replica either answer until that replica has
//     been seen refusing the token (propagation through Redis), 401 after;
//   - a logout sent but not yet returned when the answer arrived: either;
//   - otherwise valid: 200.
//
// 503 is right only where the adapter documents it: an answer flagged
// degraded (the store was degraded, so the request was introspected) for a
// token the oracle would accept, and it must carry Retry-After. Every 400
// and 401 must carry the RFC 6750 challenge.
func judge(o observation, leeway time.Duration) (verdict, string) {
	v, allowed := expect(o, leeway)
	ok := false
	for _, s := range allowed {
		ok = ok || s == o.status
	}
	switch {
	case !ok:
		return v, "status not allowed"
	case (o.status == http.StatusUnauthorized || o.status == http.StatusBadRequest) && !o.challenge:
		return v, "refusal without WWW-Authenticate"
	case o.status == http.StatusServiceUnavailable && !o.retryAfter:
		return v, "503 without Retry-After"
	}
	return v, ""
}

func expect(o observation, leeway time.Duration) (verdict, []int) {
	const (
		ok   = http.StatusOK
		unau = http.StatusUnauthorized
		bad  = http.StatusBadRequest
		down = http.StatusServiceUnavailable
	)
	either := func(v verdict) (verdict, []int) {
		if o.degraded {
			return v, []int{ok, unau, down}
		}
		return v, []int{ok, unau}
	}
	switch o.class {
	case classGarbage:
		return vGarbage, []int{bad, unau}
	case classForged:
		return vForged, []int{unau}
	}
	if !o.exp.IsZero() {
		if o.sent.After(o.exp.Add(leeway + expiryMargin)) {
			return vExpired, []int{unau}
		}
		if o.recv.After(o.exp.Add(-expiryMargin)) {
			return either(vExpiring)
		}
	}
	if !o.revokedAt.IsZero() && o.revokedAt.Before(o.sent) {
		if o.replica == o.revokedOn || (!o.refusedAt.IsZero() && o.refusedAt.Before(o.sent)) {
			return vRevoked, []int{unau}
		}
		return either(vPropagating)
	}
	if !o.revokeStart.IsZero() && o.revokeStart.Before(o.recv) {
		return either(vRacing)
	}
	if o.degraded {
		return vValidDegraded, []int{ok, down}
	}
	if o.newKey {
		return vValidNewKey, []int{ok}
	}
	return vValid, []int{ok}
}

// TestJudge pins the oracle's rules, so that the soak test cannot pass
// through a lenient oracle.
func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	live := at(300)
	tok := func(o observation) observation {
		if o.exp.IsZero() {
			o.exp = live
		}
		if o.sent.IsZero() {
			o.sent, o.recv = at(10), at(10.001)
		}
		if o.status == http.StatusUnauthorized || o.status == http.StatusBadRequest {
			o.challenge = true
		}
		if o.status == http.StatusServiceUnavailable {
			o.retryAfter = true
		}
		return o
	}
	leeway := 5 * time.Second
	tests := []struct {
		name  string
		o     observation
		want  verdict
		wrong bool
	}{
		{"valid accepted", tok(observation{status: 200}), vValid, false},
		{"valid refused", tok(observation{status: 401}), vValid, true},
		{"valid 503 on a healthy store", tok(observation{status: 503}), vValid, true},
		{"valid new key accepted", tok(observation{status: 200, newKey: true}), vValidNewKey, false},
		{"valid new key refused", tok(observation{status: 401, newKey: true}), vValidNewKey, true},
		{"valid degraded 503", tok(observation{status: 503, degraded: true}), vValidDegraded, false},
		{"valid degraded 503 without Retry-After", observation{status: 503, degraded: true, exp: live, sent: at(10), recv: at(10)}, vValidDegraded, true},
		{"valid degraded refused", tok(observation{status: 401, degraded: true}), vValidDegraded, true},
		{"revoked on the same replica accepted", tok(observation{status: 200, revokeStart: at(8), revokedAt: at(9)}), vRevoked, true},
		{"revoked on the same replica refused", tok(observation{status: 401, revokeStart: at(8), revokedAt: at(9)}), vRevoked, false},
		{"revoked, degraded, accepted", tok(observation{status: 200, degraded: true, revokeStart: at(8), revokedAt: at(9)}), vRevoked, true},
		{"revoked, degraded, 503", tok(observation{status: 503, degraded: true, revokeStart: at(8), revokedAt: at(9)}), vRevoked, true},
		{"revoked elsewhere, not yet refused here", tok(observation{status: 200, replica: 1, revokeStart: at(8), revokedAt: at(9)}), vPropagating, false},
		{"revoked elsewhere, refused here before", tok(observation{status: 200, replica: 1, revokeStart: at(8), revokedAt: at(9), refusedAt: at(9.5)}), vRevoked, true},
		{"revoked elsewhere, refused here after the send", tok(observation{status: 200, replica: 1, revokeStart: at(8), revokedAt: at(9), refusedAt: at(10.0005)}), vPropagating, false},
		{"logout in flight", tok(observation{status: 200, revokeStart: at(9.9)}), vRacing, false},
		{"logout returned after the send", tok(observation{status: 200, revokeStart: at(9.9), revokedAt: at(10.0005)}), vRacing, false},
		{"logout started after the answer", tok(observation{status: 200, revokeStart: at(11)}), vValid, false},
		{"expired refused", tok(observation{status: 401, exp: at(3)}), vExpired, false},
		{"expired accepted", tok(observation{status: 200, exp: at(3)}), vExpired, true},
		{"expired, degraded, 503", tok(observation{status: 503, degraded: true, exp: at(3)}), vExpired, true},
		{"inside the leeway", tok(observation{status: 200, exp: at(7)}), vExpiring, false},
		{"just before exp", tok(observation{status: 401, exp: at(10.5)}), vExpiring, false},
		{"forged refused", observation{class: classForged, status: 401, challenge: true}, vForged, false},
		{"forged accepted", observation{class: classForged, status: 200}, vForged, true},
		{"forged 503", observation{class: classForged, status: 503, retryAfter: true, degraded: true}, vForged, true},
		{"forged without challenge", observation{class: classForged, status: 401}, vForged, true},
		{"garbage 400", observation{class: classGarbage, status: 400, challenge: true}, vGarbage, false},
		{"garbage 401", observation{class: classGarbage, status: 401, challenge: true}, vGarbage, false},
		{"garbage 200", observation{class: classGarbage, status: 200}, vGarbage, true},
		{"garbage 500", observation{class: classGarbage, status: 500}, vGarbage, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, why := judge(tt.o, leeway)
			if v != tt.want || (why != "") != tt.wrong {
				t.Fatalf("judge = %s, %q; want %s, wrong=%v", verdictNames[v], why, verdictNames[tt.want], tt.wrong)
			}
		})
	}
}
