package podport

import "sync"

// record is what this process knows of one pod, by pod UID. Everything in it is forgotten
// at once (forget) when the pod's KuryrPort is released.
type record struct {
	mu sync.Mutex
	// portID is the port this process created, took from a pool or verified for the pod:
	// trusted without another look. A reconcile whose cache has not seen the status write
	// yet finds the port here.
	portID string
	// carriedID is the port recorded in a KuryrPort that was deleted while the pod ran: the
	// next KuryrPort records it again once it is verified as the pod's.
	carriedID string
	// ownCreate marks a KuryrPort created by this process (its creation event is skipped).
	ownCreate bool
	// rebinds counts binding retries of the current port.
	rebinds int
	// replaced counts ports replaced because Neutron could not bind them; replacedID is the
	// last one (its disappearance is ours, not someone else's).
	replaced   int
	replacedID string
	// uncertain says a create failed without an answer (a timeout): Neutron may still make
	// that port, so the release also looks for ports carrying the pod's UID.
	uncertain bool
}

func (r *Reconciler) rec(uid string) *record {
	v, _ := r.records.LoadOrStore(uid, &record{})
	return v.(*record)
}

func (r *Reconciler) peek(uid string) *record {
	if v, ok := r.records.Load(uid); ok {
		return v.(*record)
	}
	return nil
}

func (r *Reconciler) forget(uid string) { r.records.Delete(uid) }

// update runs f on the pod's record under its lock.
func (r *Reconciler) update(uid string, f func(*record)) {
	rec := r.rec(uid)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	f(rec)
}

// forgetIfEmpty drops a record that holds nothing (a KuryrPort create that failed for a
// pod that may never get one).
func (r *Reconciler) forgetIfEmpty(uid string) {
	rec := r.peek(uid)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	empty := rec.portID == "" && rec.carriedID == "" && !rec.ownCreate && rec.replaced == 0 && !rec.uncertain
	rec.mu.Unlock()
	if empty {
		r.records.CompareAndDelete(uid, rec)
	}
}

// readRecord returns f of the pod's record, read under its lock; the zero value without one.
func readRecord[T any](r *Reconciler, uid string, f func(*record) T) T {
	rec := r.peek(uid)
	if rec == nil {
		var zero T
		return zero
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return f(rec)
}

// trustedPort returns the port this process knows for the pod, if any.
func (r *Reconciler) trustedPort(uid string) string {
	return readRecord(r, uid, func(rec *record) string { return rec.portID })
}

func (r *Reconciler) createdHere(uid string) bool {
	return readRecord(r, uid, func(rec *record) bool { return rec.ownCreate })
}

// createUncertain reports whether a create of the pod's port failed without an answer.
func (r *Reconciler) createUncertain(uid string) bool {
	return readRecord(r, uid, func(rec *record) bool { return rec.uncertain })
}
