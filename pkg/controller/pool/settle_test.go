package pool

import (
	"context"
	"testing"
	"time"
)

func TestSettleWaitsForTheEndOfABurst(t *testing.T) {
	m := New(Options{QuietPeriod: 150 * time.Millisecond, MaxDefer: time.Second})
	m.lastAcquire.Store(time.Now().UnixNano())
	start := time.Now()
	m.settle(context.Background(), m.o.QuietPeriod)
	if d := time.Since(start); d < 140*time.Millisecond || d > 900*time.Millisecond {
		t.Fatalf("settle returned after %v, want about the quiet period (150ms)", d)
	}
	// pods keep taking ports: MaxDefer bounds the wait
	m = New(Options{QuietPeriod: time.Hour, MaxDefer: 100 * time.Millisecond})
	m.lastAcquire.Store(time.Now().UnixNano())
	start = time.Now()
	m.settle(context.Background(), m.o.QuietPeriod)
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Fatalf("settle returned after %v, want MaxDefer (100ms)", d)
	}
	// no deferral configured: no wait
	m = New(Options{})
	m.lastAcquire.Store(time.Now().UnixNano())
	start = time.Now()
	m.settle(context.Background(), m.o.QuietPeriod)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("settle without QuietPeriod waited %v", d)
	}
}
