package store

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// creditCommitter serialises every balance change of one tenant DB and
// group-commits them: ops that arrive while a commit is in flight join the
// next batch, which is applied in one durable transaction, so one fsync pays
// for many reservations (BENCHMARKS.md, "Credits").
//
// Batches are pipelined: the next batch is applied, op by op as they arrive,
// while the previous one's commit waits for the disk, in a transaction
// started before that commit (Badger makes a new transaction wait for
// commits in flight). It reads the previous batch's writes from memory, and
// since only the committer writes credit keys there are no conflicts
// (DetectConflicts would turn a mistake here into ErrConflict). If a commit
// fails, the batch applied on top of it starts over.
//
// No goroutine is owned here: the first caller of a batch leads it (applies
// and commits it), the rest wait for its result.
type creditCommitter struct {
	db         *badger.DB
	batchBytes int                     // Badger's transaction size limit, with a margin
	commit     func(*badger.Txn) error // (*badger.Txn).Commit; tests inject failures

	mu         sync.Mutex
	queue      []*creditBatch // queue[0] is being applied, the rest wait
	committing *creditBatch   // sent to Badger, not yet durable
	spare      *badger.Txn    // started before spareBase's commit, for the batch after it
	spareBase  *creditBatch

	// ids makes ledger entry ids; only the leader applying a batch uses it
	// (ulid.DefaultEntropy is one process-wide mutex).
	ids *ulid.MonotonicEntropy
}

const maxCreditBatch = 256 // ops per transaction

type creditBatch struct {
	ops     []*creditOp
	bytes   int           // upper bound of the transaction size
	promote chan struct{} // closed when this batch's leader may start
	wake    chan struct{} // an op joined or the previous commit finished
	done    chan struct{} // closed when results are set
	err     error         // a failure applies to every op of the batch

	// Set when the batch is sealed, for the batch applied on top of it.
	balance, seq int64
	writes       map[string][]byte
}

type creditOpKind int

const (
	opReserve creditOpKind = iota
	opRefund
	opGrant
)

type creditOp struct {
	kind       creditOpKind
	n          int64
	ref        string // reserve: reservation ref; refund: refund ref; grant: optional
	reserveRef string // refund only
	reason     string
	now        time.Time

	entry   tenants.LedgerEntry
	applied bool
	err     error
}

// maxBytes bounds what op adds to a transaction as Badger counts it (keys,
// values, 12 bytes each): JSON escapes a byte into at most 6.
func (op *creditOp) maxBytes() int {
	return 400 + 7*(len(op.ref)+len(op.reserveRef)) + 6*len(op.reason)
}

func newCreditCommitter(db *badger.DB) *creditCommitter {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails on Linux (Go 1.24+ crashes instead)
	return &creditCommitter{
		db:         db,
		batchBytes: int(db.Opts().MemTableSize*15/100) * 2 / 3,
		commit:     (*badger.Txn).Commit,
		ids:        ulid.Monotonic(rand.NewChaCha8(seed), 0),
	}
}

// submit runs op in the next batch and returns when it is durable (or failed).
func (c *creditCommitter) submit(op *creditOp) error {
	c.mu.Lock()
	b := c.join(op)
	if len(b.ops) > 1 {
		notify(b.wake)
		c.mu.Unlock()
		<-b.done
		return b.err
	}
	head := c.queue[0] == b
	c.mu.Unlock()
	if !head {
		<-b.promote
	}
	c.lead(b)
	return b.err
}

// join adds op to the last batch if it has room, or to a new one.
func (c *creditCommitter) join(op *creditOp) *creditBatch {
	size := op.maxBytes()
	if n := len(c.queue); n > 0 {
		if b := c.queue[n-1]; len(b.ops) < maxCreditBatch && b.bytes+size <= c.batchBytes {
			b.ops = append(b.ops, op)
			b.bytes += size
			return b
		}
	}
	b := &creditBatch{
		ops: []*creditOp{op}, bytes: size,
		promote: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	c.queue = append(c.queue, b)
	return b
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// lead applies b, taking ops as they join, until the commit before it is
// durable; then it commits b and lets the next batch start.
func (c *creditCommitter) lead(b *creditBatch) {
	c.mu.Lock()
	txn, base := c.spare, c.spareBase
	c.spare, c.spareBase = nil, nil
	c.mu.Unlock()
	for {
		if txn == nil {
			c.awaitIdle(b) // a new transaction must see every credit commit
			txn = c.db.NewTransaction(true)
		}
		err := c.applyUntilSealed(b, txn, base)
		txn.Discard()
		if !errors.Is(err, errBaseFailed) {
			c.finish(b, err)
			return
		}
		txn, base = nil, nil // start over on what is on disk
	}
}

var errBaseFailed = errors.New("store: the credit batch before failed")

// awaitIdle waits until no commit is in flight (b is at the head of the
// queue, so finish wakes it).
func (c *creditCommitter) awaitIdle(b *creditBatch) {
	c.mu.Lock()
	for c.committing != nil {
		c.mu.Unlock()
		<-b.wake
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// applyUntilSealed applies b's ops as they join. Once every op is applied
// and nothing is in flight, it seals b (no op joins it any more) with the
// next batch's transaction started, and commits.
func (c *creditCommitter) applyUntilSealed(b *creditBatch, txn *badger.Txn, base *creditBatch) error {
	var next *badger.Txn // the next batch's, until handed over
	defer func() {
		if next != nil {
			next.Discard()
		}
	}()
	w, err := newBatchWriter(c, txn, base)
	for applied := 0; err == nil; {
		c.mu.Lock()
		ops := b.ops[applied:len(b.ops):len(b.ops)]
		inFlight := c.committing != nil
		if len(ops) == 0 && !inFlight && next != nil {
			if base != nil && base.err != nil {
				c.mu.Unlock()
				return errBaseFailed
			}
			c.seal(b, w, next)
			c.mu.Unlock()
			next = nil
			if err := w.flush(); err != nil {
				return err
			}
			return c.commit(txn)
		}
		c.mu.Unlock()
		switch {
		case c.db.IsClosed(): // reading a closed DB can panic
			err = badger.ErrDBClosed
		case len(ops) > 0:
			err = w.apply(ops)
			applied += len(ops)
		case inFlight:
			<-b.wake
		default:
			next = c.db.NewTransaction(true) // nothing in flight: does not wait
		}
	}
	return err
}

// seal takes b off the queue as the batch in flight, with next as the
// transaction of the batch after it, and promotes that batch.
func (c *creditCommitter) seal(b *creditBatch, w *batchWriter, next *badger.Txn) {
	b.balance, b.seq, b.writes = w.balance, w.seq, w.writes
	c.queue = c.queue[1:]
	c.committing, c.spare, c.spareBase = b, next, b
	if len(c.queue) > 0 {
		close(c.queue[0].promote)
	}
}

// finish records b's result. A batch that failed before it was sealed was
// never in flight: it leaves the queue here.
func (c *creditCommitter) finish(b *creditBatch, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.err = err
	if c.committing == b {
		c.committing = nil
	} else {
		c.queue = c.queue[1:]
		if len(c.queue) > 0 {
			close(c.queue[0].promote)
		}
	}
	switch {
	case len(c.queue) > 0:
		notify(c.queue[0].wake)
	case c.spare != nil: // nobody to use it: don't pin an old read timestamp
		c.spare.Discard()
		c.spare, c.spareBase = nil, nil
	}
	close(b.done)
}

// batchWriter applies ops in one transaction against a running balance,
// reading what the batch in flight (base) wrote from memory.
type batchWriter struct {
	c            *creditCommitter
	txn          *badger.Txn
	base         *creditBatch // nil if txn sees every credit commit
	balance, seq int64
	writes       map[string][]byte
	buf          []byte // keys and values set, only ever appended to
	key          []byte // scratch for lookups
}

func newBatchWriter(c *creditCommitter, txn *badger.Txn, base *creditBatch) (*batchWriter, error) {
	w := &batchWriter{c: c, txn: txn, base: base, writes: map[string][]byte{}}
	if base != nil {
		w.balance, w.seq = base.balance, base.seq
		return w, nil
	}
	if c.db.IsClosed() {
		return w, badger.ErrDBClosed
	}
	var err error
	if w.balance, err = getInt(txn, keyBalance); err != nil {
		return w, err
	}
	w.seq, err = getInt(txn, keyLedgerSeq)
	return w, err
}

// apply applies the ops in order. An op that is refused (short balance,
// refund over the reservation) sets its own err and changes nothing; the
// others still apply. An error returned fails the whole batch.
func (w *batchWriter) apply(ops []*creditOp) error {
	for _, op := range ops {
		op.entry, op.applied, op.err = tenants.LedgerEntry{}, false, nil
		d, repeat, err := w.decide(op)
		if err != nil || repeat {
			op.err = err
			continue
		}
		op.applied = true
		w.balance += d.delta
		w.seq++
		op.entry = tenants.LedgerEntry{
			ID:    ulid.MustNew(ulid.Timestamp(op.now), w.c.ids).String(),
			Delta: d.delta, Reason: d.reason, Ref: op.ref, BalanceAfter: w.balance, At: op.now,
		}
		if err := w.write(op, d.reservation); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the balance and the last ledger sequence number.
func (w *batchWriter) flush() error {
	if err := setInt(w.txn, keyBalance, w.balance); err != nil {
		return err
	}
	return setInt(w.txn, keyLedgerSeq, w.seq)
}

// get reads a key as this batch sees it: its own writes, then the batch in
// flight, then the transaction's snapshot.
func (w *batchWriter) get(key []byte) ([]byte, bool, error) {
	if v, ok := w.writes[string(key)]; ok {
		return v, true, nil
	}
	if w.base != nil {
		if v, ok := w.base.writes[string(key)]; ok {
			return v, true, nil
		}
	}
	item, err := w.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
}

// set sets buf[k:v] to buf[v:]. Badger keeps both slices until commit and
// the next batch reads them after, so buf is never written over.
func (w *batchWriter) set(k, v int) error {
	key, val := w.buf[k:v:v], w.buf[v:len(w.buf):len(w.buf)]
	if err := w.txn.Set(key, val); err != nil {
		return err
	}
	w.writes[string(key)] = val
	return nil
}

// A creditref record is the ledger sequence number of the entry an op made
// (8 bytes, big-endian). A reservation's record also carries its amount and
// how much of it was refunded (24 bytes), so a reservation costs two keys:
// its ledger entry and its creditref.
type reservation struct {
	Seq, Amount, Refunded int64
}

const reservationSize = 24

func (r reservation) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Amount))
	return binary.BigEndian.AppendUint64(b, uint64(r.Refunded))
}

// decision is what an op that applies changes.
type decision struct {
	delta       int64
	reason      string
	reservation reservation // refund: the reservation refunded, before this op
}

// decide returns the change an op makes, or repeat if an op with its ref
// already applied (op.entry is then that op's entry). An error refuses the op.
func (w *batchWriter) decide(op *creditOp) (d decision, repeat bool, err error) {
	if op.ref != "" {
		if op.entry, repeat, err = w.entryByRef(op.kind, op.ref); err != nil || repeat {
			return d, repeat, err
		}
	}
	switch op.kind {
	case opReserve:
		if op.n > w.balance {
			return d, false, &tenants.InsufficientCreditsError{Balance: w.balance, Need: op.n}
		}
		return decision{delta: -op.n, reason: tenants.ReasonReserve}, false, nil
	case opRefund:
		r, ok, err := w.reservation(op.reserveRef)
		switch {
		case err != nil:
			return d, false, err
		case !ok:
			return d, false, tenants.Errorf(tenants.ENOTFOUND, "No reservation %q to refund.", op.reserveRef)
		case r.Refunded+op.n > r.Amount:
			return d, false, tenants.Errorf(tenants.ECONFLICT, "Refund of %d exceeds what is left of reservation %q (%d).", op.n, op.reserveRef, r.Amount-r.Refunded)
		}
		return decision{delta: op.n, reason: tenants.ReasonRefund, reservation: r}, false, nil
	default:
		if w.balance+op.n < 0 {
			return d, false, &tenants.InsufficientCreditsError{Balance: w.balance, Need: -op.n}
		}
		return decision{delta: op.n, reason: op.reason}, false, nil
	}
}

// write sets the op's ledger entry and creditref records (and, for a refund,
// the reservation's new refunded amount).
func (w *batchWriter) write(op *creditOp, refunded reservation) error {
	if n := op.maxBytes(); cap(w.buf)-len(w.buf) < n {
		w.buf = make([]byte, 0, max(n, 16<<10)) // no append below reallocates
	}
	k := len(w.buf)
	w.buf = appendLedgerKey(w.buf, w.seq)
	v := len(w.buf)
	entry, err := json.Marshal(&op.entry)
	if err != nil {
		return err
	}
	w.buf = append(w.buf, entry...)
	if err := w.set(k, v); err != nil || op.ref == "" {
		return err
	}
	k = len(w.buf)
	w.buf = appendRefKey(w.buf, op.kind, op.ref)
	v = len(w.buf)
	if op.kind == opReserve {
		w.buf = reservation{Seq: w.seq, Amount: op.n}.appendTo(w.buf)
	} else {
		w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(w.seq))
	}
	if err := w.set(k, v); err != nil || op.kind != opRefund {
		return err
	}
	refunded.Refunded += op.n
	k = len(w.buf)
	w.buf = appendRefKey(w.buf, opReserve, op.reserveRef)
	v = len(w.buf)
	w.buf = refunded.appendTo(w.buf)
	return w.set(k, v)
}

// reservation reads the creditref record of a reservation.
func (w *batchWriter) reservation(ref string) (reservation, bool, error) {
	w.key = appendRefKey(w.key[:0], opReserve, ref)
	v, ok, err := w.get(w.key)
	if err != nil || !ok {
		return reservation{}, false, err
	}
	if len(v) != reservationSize {
		return reservation{}, false, fmt.Errorf("store: reservation %q holds %d bytes, want %d", ref, len(v), reservationSize)
	}
	return reservation{
		Seq:      int64(binary.BigEndian.Uint64(v)),
		Amount:   int64(binary.BigEndian.Uint64(v[8:])),
		Refunded: int64(binary.BigEndian.Uint64(v[16:])),
	}, true, nil
}

// entryByRef returns the ledger entry an op with this kind and ref made, if
// there was one.
func (w *batchWriter) entryByRef(kind creditOpKind, ref string) (tenants.LedgerEntry, bool, error) {
	w.key = appendRefKey(w.key[:0], kind, ref)
	v, ok, err := w.get(w.key)
	if err != nil || !ok {
		return tenants.LedgerEntry{}, false, err
	}
	if len(v) < 8 {
		return tenants.LedgerEntry{}, false, fmt.Errorf("store: credit ref %q holds %d bytes", ref, len(v))
	}
	seq := int64(binary.BigEndian.Uint64(v))
	var e tenants.LedgerEntry
	w.key = appendLedgerKey(w.key[:0], seq)
	v, ok, err = w.get(w.key)
	if err == nil && !ok {
		err = badger.ErrKeyNotFound
	}
	if err == nil {
		err = json.Unmarshal(v, &e)
	}
	if err != nil {
		return e, false, fmt.Errorf("ledger entry %d for ref %q: %w", seq, ref, err)
	}
	return e, true, nil
}

// appendRefKey appends creditref/<kind>/<ref>.
func appendRefKey(b []byte, kind creditOpKind, ref string) []byte {
	b = append(b, keyCreditRef...)
	b = strconv.AppendInt(b, int64(kind), 10)
	b = append(b, '/')
	return append(b, ref...)
}

func appendLedgerKey(b []byte, seq int64) []byte {
	b = append(b, keyLedger...)
	return binary.BigEndian.AppendUint64(b, uint64(seq))
}

func ledgerKey(seq int64) string { return string(appendLedgerKey(nil, seq)) }

// getInt reads a big-endian int64; a missing key reads as 0.
func getInt(txn *badger.Txn, key string) (int64, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var n int64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("store: key %q holds %d bytes, want 8", key, len(v))
		}
		n = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return n, err
}

func setInt(txn *badger.Txn, key string, n int64) error {
	return txn.Set([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// getJSON decodes the value at key into v, which it zeroes first: a
// transaction retried after a conflict reuses its variables, and
// json.Unmarshal leaves fields absent from the new value (omitempty ones)
// as the failed attempt left them.
func getJSON(txn *badger.Txn, key string, v any) error {
	item, err := txn.Get([]byte(key))
	if err != nil {
		return err
	}
	reflect.ValueOf(v).Elem().SetZero()
	return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func setJSON(txn *badger.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}
