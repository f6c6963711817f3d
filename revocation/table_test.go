package revocation

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestTableModel drives a table and a Go map with the same random
// inserts, raises and sweeps, across many resizes and tombstone reuses.
func TestTableModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var tab table
	type ent struct{ v, until int64 }
	model := map[uint64]ent{}
	admit := func() error { return nil }
	now := int64(0)
	for step := range 200_000 {
		k := key(uint64(rng.IntN(5000)) * 0x9e3779b97f4a7c15)
		switch op := rng.IntN(100); {
		case op < 60:
			v, until := rng.Int64N(1000), now+1+rng.Int64N(1000)
			inserted, err := tab.upsert(k, v, until, admit)
			old, had := model[k]
			if err != nil || inserted == had {
				t.Fatalf("step %d: upsert inserted=%v err=%v, model had=%v", step, inserted, err, had)
			}
			if had {
				model[k] = ent{max(old.v, v), max(old.until, until)}
			} else {
				model[k] = ent{v, until}
			}
		case op < 62:
			now += rng.Int64N(300)
			removed := tab.sweep(now)
			n := 0
			for mk, e := range model {
				if e.until <= now {
					delete(model, mk)
					n++
				}
			}
			if removed != n {
				t.Fatalf("step %d: sweep removed %d, model %d", step, removed, n)
			}
		default:
			v, ok := tab.get(k)
			e, had := model[k]
			if ok != had || (ok && v != e.v) {
				t.Fatalf("step %d: get = %d,%v; model %d,%v", step, v, ok, e.v, had)
			}
		}
		if step%1000 == 0 && tab.len() != len(model) {
			t.Fatalf("step %d: len %d, model %d", step, tab.len(), len(model))
		}
	}
}

// TestTableConcurrentReads reads while a writer inserts, resizes and
// sweeps; run with -race. Keys inserted before the readers start and never
// swept must always be found.
func TestTableConcurrentReads(t *testing.T) {
	var tab table
	admit := func() error { return nil }
	const stable = 1000
	for i := range stable {
		tab.upsert(key(uint64(i)<<20|7), int64(i), 1<<62, admit)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := n % stable
				if v, ok := tab.get(key(uint64(i)<<20 | 7)); !ok || v != int64(i) {
					t.Errorf("stable key %d lost during writes (%d, %v)", i, v, ok)
					return
				}
			}
		})
	}
	for round := range 10 {
		for i := range 2000 {
			tab.upsert(key(uint64(round*2000+i)<<20|9), 0, int64(round+1), admit)
		}
		tab.sweep(int64(round + 1))
	}
	close(stop)
	wg.Wait()
	if tab.len() != stable {
		t.Fatalf("len = %d, want %d", tab.len(), stable)
	}
}
