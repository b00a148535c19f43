package keyed

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestMutexSerialisesOneKeyOnly(t *testing.T) {
	var m Mutex
	var inA atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := m.Lock("a")
			if n := inA.Add(1); n != 1 {
				t.Errorf("%d holders of key a at once", n)
			}
			inA.Add(-1)
			unlock()
		}()
	}
	// Another key is not blocked by a held one.
	unlockA := m.Lock("a")
	unlockB := m.Lock("b")
	unlockB()
	unlockA()
	wg.Wait()
	if n := m.Len(); n != 0 {
		t.Fatalf("%d entries left after all unlocks", n)
	}
}
