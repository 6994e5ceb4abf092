package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// Badger backup streams, as exports and backups write them: repeated
// little-endian uint64 length + protobuf pb.KVList, the framing DB.Backup
// writes and DB.Load reads.
//
// They are written here from ONE read transaction rather than with
// DB.Backup or Stream: a Stream reads with NumGoroutines transactions,
// which under concurrent writes can see different commits (a balance from
// one, its ledger entry from another), and it allocates 2×16 MB of zeroed
// buffers per call, which made a backup of 1,000 small tenant DBs take 70 s
// on this machine.

// Badger's entry meta bits (badger/value.go), part of its backup format.
const (
	metaDelete                byte = 1 << 0
	metaDiscardEarlierVersion byte = 1 << 2
)

// streamFrame is the size at which a KVList is written out.
const streamFrame = 4 << 20

// writeSnapshot writes every live key of db at its latest version (no
// deleted keys, no old versions) and returns how many it wrote.
func writeSnapshot(ctx context.Context, db *badger.DB, w io.Writer) (int, error) {
	_, keys, err := writeStream(ctx, db, w, 0, false)
	return keys, err
}

// backupSince writes the changes of db after version since — each changed
// key's newest version, deletions included — and returns the highest
// version written, 0 when nothing changed. Pass the returned version as
// the next since, NOT that plus one: versions <= since are skipped (as in
// DB.Backup, badger#2060), so +1 would lose a key committed right after
// this backup.
func backupSince(db *badger.DB, w io.Writer, since uint64) (uint64, error) {
	v, _, err := writeStream(context.Background(), db, w, since, true)
	return v, err
}

// writeStream writes db as one read transaction sees it: with deletions,
// the newest version of every key changed after since, tombstones
// included; without, the newest live version of every key.
func writeStream(ctx context.Context, db *badger.DB, w io.Writer, since uint64, deletions bool) (maxVersion uint64, keys int, err error) {
	txn := db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: deletions, SinceTs: since})
	defer it.Close()
	now := uint64(time.Now().Unix())
	list, size := &pb.KVList{}, 0
	var last []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if bytes.Equal(item.Key(), last) {
			continue // an older version of the key just written
		}
		last = item.KeyCopy(last[:0])
		kv := &pb.KV{Key: item.KeyCopy(nil), Version: item.Version(), ExpiresAt: item.ExpiresAt(), UserMeta: []byte{item.UserMeta()}}
		switch {
		case !item.IsDeletedOrExpired():
			if kv.Value, err = item.ValueCopy(nil); err != nil {
				return 0, 0, err
			}
			if item.DiscardEarlierVersions() {
				kv.Meta = []byte{metaDiscardEarlierVersion}
			}
		case kv.ExpiresAt == 0 || kv.ExpiresAt > now: // deleted, not merely expired
			kv.Meta = []byte{metaDelete}
		}
		list.Kv = append(list.Kv, kv)
		maxVersion, keys, size = max(maxVersion, kv.Version), keys+1, size+len(kv.Key)+len(kv.Value)+32
		if size >= streamFrame {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
			if err := writeKVList(w, list); err != nil {
				return 0, 0, err
			}
			list, size = &pb.KVList{}, 0
		}
	}
	if len(list.Kv) > 0 {
		err = writeKVList(w, list)
	}
	return maxVersion, keys, err
}

func writeKVList(w io.Writer, list *pb.KVList) error {
	b, err := proto.Marshal(list)
	if err != nil {
		return err
	}
	if _, err := w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b)))); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// loadTenantDB loads an export's payload into a new tenant DB in dir,
// moving "tenant_id" values from one id to another when they differ, and
// returns how many of its numbers are on each gateway shard.
func (s *Store) loadTenantDB(dir string, payload io.Reader, from, to string) (map[string]int, error) {
	db, err := badger.Open(loadOptions(tenantOptions(dir, s.Pool.logger.With("tenant", to))))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	src := payload
	if from != to {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(rewriteStream(pw, payload, from, to))
		}()
		defer func() { pr.CloseWithError(errors.New("load ended")); <-done }()
		src = pr
	}
	err = db.Load(src, 16)
	shards := map[string]int{}
	if err == nil {
		err = db.View(func(txn *badger.Txn) error {
			return scanJSON(txn, keyInstance, func(in tenants.Instance) error { shards[in.ShardID]++; return nil })
		})
	}
	if err == nil {
		err = db.Sync()
	}
	return shards, errors.Join(err, db.Close())
}

// loadOptions tune a DB's options for one bulk load into an empty
// directory: a memtable big enough that a tenant of 100,000 records loads
// without flush stalls, and one sync at the end instead of one per batch
// (the caller syncs before closing; a failed load is deleted anyway). The
// next ordinary open reads the files with the ordinary options.
func loadOptions(o badger.Options) badger.Options {
	return o.WithSyncWrites(false).WithMemTableSize(64 << 20).WithNumLevelZeroTables(8).WithNumLevelZeroTablesStall(16)
}

// maxKVList bounds one frame of a stream: Badger writes lists of a few MB.
const maxKVList = 1 << 30

// rewriteStream copies a backup stream, replacing the tenant id in every
// value's "tenant_id" field.
func rewriteStream(w io.Writer, r io.Reader, from, to string) error {
	oldField, newField := []byte(`"tenant_id":"`+from+`"`), []byte(`"tenant_id":"`+to+`"`)
	br, bw := bufio.NewReaderSize(r, 1<<16), bufio.NewWriterSize(w, 1<<16)
	var size [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, size[:]); errors.Is(err, io.EOF) {
			return bw.Flush()
		} else if err != nil {
			return err
		}
		n := binary.LittleEndian.Uint64(size[:])
		if n > maxKVList {
			return fmt.Errorf("stream frame of %d bytes", n)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return err
		}
		var list pb.KVList
		if err := proto.Unmarshal(buf[:n], &list); err != nil {
			return err
		}
		for _, kv := range list.Kv {
			kv.Value = bytes.ReplaceAll(kv.Value, oldField, newField)
		}
		if err := writeKVList(bw, &list); err != nil {
			return err
		}
	}
}
