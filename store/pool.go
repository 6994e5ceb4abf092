package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Pool opens tenant databases lazily and keeps at most Max of them open,
// closing the least recently used one that nobody holds. A DB that a caller
// holds (between Acquire and Release) is never closed under it; when every
// open DB is held, the pool goes over its bound rather than block.
type Pool struct {
	dir    string
	max    int
	logger *slog.Logger

	mu      sync.Mutex
	open    map[string]*poolEntry
	lru     *list.List               // of *poolEntry, front = most recently used
	closing map[string]chan struct{} // directories whose Close has not finished
	closed  bool
	wg      sync.WaitGroup // background closes of evicted DBs
}

type poolEntry struct {
	id      string
	db      *badger.DB
	credits *creditCommitter
	updates *updateBatcher
	refs    int
	elem    *list.Element
	ready   chan struct{} // closed once the open attempt finished
	err     error
}

// TenantDB is a held tenant database. Release it when done.
type TenantDB struct {
	DB      *badger.DB
	ID      string
	entry   *poolEntry
	pool    *Pool
	release sync.Once
}

// Release gives the DB back to the pool; it may be closed after this.
func (h *TenantDB) Release() { h.release.Do(func() { h.pool.release(h.entry) }) }

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("store: tenant pool closed")

// NewPool returns a pool of the tenant DBs under dir, at most max open.
func NewPool(dir string, max int, logger *slog.Logger) *Pool {
	if max < 1 {
		max = 1
	}
	return &Pool{
		dir: dir, max: max, logger: logger,
		open: map[string]*poolEntry{}, lru: list.New(), closing: map[string]chan struct{}{},
	}
}

// Dir returns the directory of a tenant's DB.
func (p *Pool) Dir(id string) string { return filepath.Join(p.dir, id) }

// Acquire returns the tenant's open DB, opening it if needed. The tenant DB
// directory must exist (CreateTenantDB makes it), so a stray id never
// creates a database.
func (p *Pool) Acquire(ctx context.Context, id string) (*TenantDB, error) {
	if err := checkTenantID(id); err != nil {
		// Never a path outside the tenants directory ("", ".", "..").
		return nil, fmt.Errorf("store: tenant %q: %w", id, errTenantMissing)
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if e, ok := p.open[id]; ok {
			e.refs++
			p.lru.MoveToFront(e.elem)
			p.mu.Unlock()
			return p.await(ctx, e)
		}
		if wait, ok := p.closing[id]; ok {
			// Badger holds the directory lock until Close returns.
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e := &poolEntry{id: id, refs: 1, ready: make(chan struct{})}
		e.elem = p.lru.PushFront(e)
		p.open[id] = e
		evicted := p.evictLocked()
		p.mu.Unlock()
		p.closeAll(evicted)
		p.openEntry(e)
		return p.await(ctx, e)
	}
}

func (p *Pool) openEntry(e *poolEntry) {
	defer close(e.ready)
	dir := p.Dir(e.id)
	if _, err := os.Stat(dir); err != nil {
		e.err = fmt.Errorf("store: tenant %s: %w", e.id, errTenantMissing)
		return
	}
	db, err := badger.Open(tenantOptions(dir, p.logger.With("tenant", e.id)))
	if err != nil {
		e.err = fmt.Errorf("store: open tenant %s: %w", e.id, err)
		return
	}
	e.db = db
	e.credits = newCreditCommitter(db)
	e.updates = &updateBatcher{db: db}
}

var errTenantMissing = errors.New("tenant database does not exist")

func (p *Pool) await(ctx context.Context, e *poolEntry) (*TenantDB, error) {
	select {
	case <-e.ready:
	case <-ctx.Done():
		p.release(e)
		return nil, ctx.Err()
	}
	if e.err != nil {
		p.mu.Lock()
		if p.open[e.id] == e { // forget the failed attempt so a later call retries
			delete(p.open, e.id)
			p.lru.Remove(e.elem)
		}
		p.mu.Unlock()
		return nil, e.err
	}
	return &TenantDB{DB: e.db, ID: e.id, entry: e, pool: p}, nil
}

func (p *Pool) release(e *poolEntry) {
	p.mu.Lock()
	e.refs--
	evicted := p.evictLocked()
	p.mu.Unlock()
	p.closeAll(evicted)
}

// evictLocked removes idle entries beyond the bound, least recently used
// first, and marks their directories as closing.
func (p *Pool) evictLocked() []*poolEntry {
	var out []*poolEntry
	for el := p.lru.Back(); el != nil && len(p.open) > p.max; {
		e := el.Value.(*poolEntry)
		prev := el.Prev()
		if e.refs == 0 && isClosed(e.ready) {
			p.lru.Remove(el)
			delete(p.open, e.id)
			if e.db != nil {
				p.closing[e.id] = make(chan struct{})
				out = append(out, e)
			}
		}
		el = prev
	}
	return out
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// closeAll closes evicted DBs in the background (a Close takes milliseconds
// and the caller should not wait for it); Acquire of the same id waits.
func (p *Pool) closeAll(entries []*poolEntry) {
	for _, e := range entries {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.closeEntry(e)
		}()
	}
}

func (p *Pool) closeEntry(e *poolEntry) {
	if err := e.db.Close(); err != nil {
		p.logger.Error("close tenant db", "tenant", e.id, "err", err)
	}
	p.mu.Lock()
	close(p.closing[e.id])
	delete(p.closing, e.id)
	p.mu.Unlock()
}

// OpenCount returns how many tenant DBs are open now.
func (p *Pool) OpenCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.open)
}

// Remove closes the tenant's DB (waiting for holders is the caller's job:
// it must hold no handle) and deletes its directory.
func (p *Pool) Remove(id string) error {
	if err := checkTenantID(id); err != nil {
		return err
	}
	p.mu.Lock()
	for w := p.closing[id]; w != nil; w = p.closing[id] { // an eviction's Close first
		p.mu.Unlock()
		<-w
		p.mu.Lock()
	}
	e, ok := p.open[id]
	if ok && e.refs > 0 {
		p.mu.Unlock()
		return fmt.Errorf("store: tenant %s is in use", id)
	}
	if ok {
		p.lru.Remove(e.elem)
		delete(p.open, id)
	}
	// Mark the directory as closing, as eviction does, so a concurrent
	// Acquire waits and then finds it gone instead of reopening it.
	done := make(chan struct{})
	p.closing[id] = done
	p.mu.Unlock()
	var err error
	if ok && e.db != nil {
		if cerr := e.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close tenant %s: %w", id, cerr)
		}
	}
	if err == nil {
		err = os.RemoveAll(p.Dir(id))
	}
	p.mu.Lock()
	close(done)
	delete(p.closing, id)
	p.mu.Unlock()
	return err
}

// Close closes every open DB and waits for background closes. Handles still
// held become invalid; callers stop using the pool before closing it.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var entries []*poolEntry
	for _, e := range p.open {
		entries = append(entries, e)
	}
	p.open = map[string]*poolEntry{}
	p.lru.Init()
	p.mu.Unlock()
	var errs []error
	for _, e := range entries {
		<-e.ready
		if e.db != nil {
			if err := e.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close tenant %s: %w", e.id, err))
			}
		}
	}
	p.wg.Wait()
	return errors.Join(errs...)
}
