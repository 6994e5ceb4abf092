package store

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// updateBatcher group-commits the read-write transactions of one tenant DB.
// Badger makes every new transaction wait until the commits in flight are
// durable, and syncs once per commit, so a busy tenant (a webhook storm, a
// campaign's statuses) would otherwise pay one full sync round trip per
// update. Updates that arrive while a batch is committing join the next
// one, which runs them one after another in a single transaction: as if
// run serially, with one wait and one sync for all.
//
// A batch that fails is run again update by update, so an update's error,
// conflict or size never affects its neighbours. No goroutine is owned here:
// the first caller of a batch leads it, the rest wait for their result; when
// a batch is done the leader hands over to the first caller waiting.
type updateBatcher struct {
	db *badger.DB

	mu      sync.Mutex
	busy    bool // a leader is running a batch
	pending []*batchedUpdate
}

// maxUpdateBatch bounds the updates of one transaction, so one batch's
// callers are not kept waiting behind a very long one.
const maxUpdateBatch = 128

type batchedUpdate struct {
	fn   func(*badger.Txn) error
	err  error
	done chan struct{} // closed when err is set
	lead chan struct{} // closed when this caller is to lead the next batch
}

// errUpdateFailed is the error of the update at index i of a batch.
type errUpdateFailed struct {
	i   int
	err error
}

func (e errUpdateFailed) Error() string { return e.err.Error() }

// update runs fn in a read-write transaction shared with concurrent
// updates and returns once it is committed (or failed). fn may run more
// than once, as Badger's Update retries do: it must start from scratch
// each time.
func (b *updateBatcher) update(fn func(*badger.Txn) error) error {
	u := &batchedUpdate{fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, u)
	if b.busy {
		b.mu.Unlock()
		select {
		case <-u.done:
			return u.err
		case <-u.lead: // the batch before is done: lead the one u is in
		}
	} else {
		b.busy = true
		b.mu.Unlock()
	}
	b.mu.Lock()
	batch := append([]*batchedUpdate(nil), b.pending[:min(len(b.pending), maxUpdateBatch)]...)
	b.pending = b.pending[len(batch):]
	b.mu.Unlock()

	b.run(batch)

	b.mu.Lock()
	if len(b.pending) > 0 {
		close(b.pending[0].lead)
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	<-u.done
	return u.err
}

// run commits batch in one transaction, retrying conflicts. When one
// update fails, the updates before it are committed together, it gets its
// own error (run alone, exactly as without batching), and the rest go on
// as a batch: the order of the updates is kept.
func (b *updateBatcher) run(batch []*batchedUpdate) {
	var err error
	for range 10 {
		err = b.db.Update(func(txn *badger.Txn) error {
			for i, u := range batch {
				if err := callUpdate(u.fn, txn); err != nil {
					return errUpdateFailed{i, err}
				}
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	var failed errUpdateFailed
	isFailed := errors.As(err, &failed)
	switch {
	case isFailed && len(batch) > 1:
		if failed.i > 0 {
			b.run(batch[:failed.i])
		}
		b.run(batch[failed.i : failed.i+1])
		if failed.i+1 < len(batch) {
			b.run(batch[failed.i+1:])
		}
		return
	case isFailed:
		err = failed.err // the caller sees its own error, as from db.Update
	case err != nil && len(batch) > 1: // a conflict or a commit error: each on its own
		for _, u := range batch {
			b.run([]*batchedUpdate{u})
		}
		return
	}
	for _, u := range batch {
		u.err = err
		close(u.done)
	}
}

// callUpdate runs fn, turning a panic into an error: the goroutine running
// a batch is one of its callers, and a panic must not leave the others
// waiting forever.
func callUpdate(fn func(*badger.Txn) error, txn *badger.Txn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: update panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(txn)
}
