package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// nonces are stateless server nonces (RFC 9449 §9): the nonce of a time
// step is an HMAC of the step's number under a secret every replica
// shares, so that any replica accepts a nonce another one issued without
// any state. A nonce is accepted during its step and the next one.
type nonces struct {
	secret []byte
	step   time.Duration
	pair   atomic.Pointer[noncePair] // the current step's, computed once per step
}

type noncePair struct {
	step      int64
	cur, prev string
}

// nonceLabel separates these MACs from any other use of the secret.
const nonceLabel = "tokenwarden dpop nonce v1\x00"

func (n *nonces) at(step int64) string {
	m := hmac.New(sha256.New, n.secret)
	var b [len(nonceLabel) + 8]byte
	copy(b[:], nonceLabel)
	binary.BigEndian.PutUint64(b[len(nonceLabel):], uint64(step))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// current returns the nonces of the step now falls in and of the previous
// step.
func (n *nonces) current(now time.Time) *noncePair {
	step := now.UnixNano() / int64(n.step)
	if p := n.pair.Load(); p != nil && p.step == step {
		return p
	}
	p := &noncePair{step: step, cur: n.at(step), prev: n.at(step - 1)}
	n.pair.Store(p)
	return p
}

// valid reports whether nonce is the current or the previous step's.
func (p *noncePair) valid(nonce string) bool {
	return subtle.ConstantTimeCompare([]byte(nonce), []byte(p.cur))|
		subtle.ConstantTimeCompare([]byte(nonce), []byte(p.prev)) == 1
}
