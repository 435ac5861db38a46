package main

// Throttles for the two things that cost the server a slow password hash: logins and
// account registrations. Both take their token before the hash starts, under a mutex, so a
// burst of parallel attempts cannot all slip past a check made before any of them failed.

import (
	"strings"
	"sync"
	"time"
)

// throttleWindow is the span failed logins are counted over.
const throttleWindow = time.Minute

// loginThrottle counts failed logins twice: per account per address, and per address over
// every account. The first stops guessing at one account; the second stops an address from
// guessing at many. Neither counts per account alone, since then anyone could lock the
// real owner out from everywhere; and guesses at one account stop at the first limit, far
// below the second, so they cannot lock out the other students behind the same NAT.
type loginThrottle struct {
	perAccount int // failures per account from one address in a window (0: unlimited)
	perAddr    int // failures from one address in a window, all accounts (0: unlimited)

	mu        sync.Mutex             // leaf lock; guards the fields below
	failures  map[string][]time.Time // throttle key → failure times within the window, oldest first
	lastSweep time.Time
}

func newLoginThrottle(perAccount, perAddr int) *loginThrottle {
	return &loginThrottle{perAccount: perAccount, perAddr: perAddr, failures: make(map[string][]time.Time)}
}

// loginAttempt is a login in progress. It holds its place in the failure counts from Begin
// on; Succeeded or Void give the place back.
type loginAttempt struct {
	t    *loginThrottle
	keys []string
	at   time.Time
}

func accountKey(account, addr string) string { return "a " + addr + " " + casefold(account) }
func addrKey(addr string) string             { return "i " + addr }

// Begin takes a login attempt's token before its password is hashed: the attempt counts as
// a failure until it is known to be otherwise. It returns the wait and which limit is full
// when the attempt may not be made now.
func (t *loginThrottle) Begin(account, addr string, now time.Time) (*loginAttempt, time.Duration, string) {
	att := &loginAttempt{t: t, at: now}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	type limit struct {
		key, what string
		n         int
	}
	for _, l := range []limit{{accountKey(account, addr), "for this account from your address", t.perAccount}, {addrKey(addr), "from your address", t.perAddr}} {
		if l.n <= 0 {
			continue
		}
		if recent := t.prune(l.key, now); len(recent) >= l.n {
			return nil, recent[len(recent)-l.n].Add(throttleWindow).Sub(now), l.what
		}
		att.keys = append(att.keys, l.key)
	}
	for _, k := range att.keys {
		t.failures[k] = append(t.failures[k], now)
	}
	return att, 0, ""
}

// Succeeded ends an attempt with the right password: its token is given back, and the
// account's earlier failures from that address are forgotten.
func (a *loginAttempt) Succeeded() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, k := range a.keys {
		if strings.HasPrefix(k, "a ") {
			delete(a.t.failures, k)
		} else {
			a.t.remove(k, a.at)
		}
	}
}

// Void gives the token back for an attempt that was no guess (the server was busy, or the
// account's file is damaged).
func (a *loginAttempt) Void() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, k := range a.keys {
		a.t.remove(k, a.at)
	}
}

// remove drops one entry at time at from key's list; t.mu must be held.
func (t *loginThrottle) remove(key string, at time.Time) {
	list := t.failures[key]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Equal(at) {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.failures, key)
	} else {
		t.failures[key] = list
	}
}

// prune drops failures older than the window; t.mu must be held.
func (t *loginThrottle) prune(key string, now time.Time) []time.Time {
	recent := t.failures[key]
	i := 0
	for i < len(recent) && now.Sub(recent[i]) >= throttleWindow {
		i++
	}
	recent = recent[i:]
	if len(recent) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = recent
	return recent
}

// sweep prunes every key once a window, so guesses at many made-up names cannot grow the
// map without end; t.mu must be held.
func (t *loginThrottle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < throttleWindow {
		return
	}
	t.lastSweep = now
	for k := range t.failures {
		t.prune(k, now)
	}
}

// registerThrottle is a token bucket per address for account creation: burst accounts at
// once (a class behind one NAT registering in the first minutes), then perMinute.
type registerThrottle struct {
	burst     float64
	perMinute float64

	mu        sync.Mutex // leaf lock; guards buckets and lastSweep
	buckets   map[string]*tokenBucket
	lastSweep time.Time
}

type tokenBucket struct {
	tokens float64
	at     time.Time
}

func newRegisterThrottle(burst, perMinute int) *registerThrottle {
	return &registerThrottle{burst: float64(burst), perMinute: float64(perMinute), buckets: make(map[string]*tokenBucket)}
}

// refill brings addr's bucket up to now; r.mu must be held.
func (r *registerThrottle) refill(addr string, now time.Time) *tokenBucket {
	b := r.buckets[addr]
	if b == nil {
		b = &tokenBucket{tokens: r.burst, at: now}
		r.buckets[addr] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.at).Minutes()*r.perMinute)
	b.at = now
	return b
}

// Take takes one registration token for addr, or returns how long until one is free.
func (r *registerThrottle) Take(addr string, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) >= throttleWindow {
		r.lastSweep = now
		for a := range r.buckets {
			if r.refill(a, now).tokens >= r.burst {
				delete(r.buckets, a) // full again: the same as never seen
			}
		}
	}
	b := r.refill(addr, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / r.perMinute * float64(time.Minute))
}

// Refund gives back the token of a registration that failed for the server's reasons.
func (r *registerThrottle) Refund(addr string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.refill(addr, now)
	b.tokens = min(r.burst, b.tokens+1)
}
