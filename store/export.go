package store

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// Tenant export files hold one tenant, catalog records and database, and
// ImportTenant restores them exactly. Format version 1:
//
//	line 1  the manifest: one line of JSON (tenants.ExportManifest) with
//	        "format":"aibud-tenant-export", "version":1, the tenant id,
//	        creation time, counts, the tenant's catalog records as raw
//	        key/values (values base64), "payload_bytes" and "sha256"; "\n";
//	then    payload_bytes bytes: the tenant database as a Badger backup
//	        stream (repeated: little-endian uint64 length, protobuf
//	        pb.KVList), which badger's DB.Load reads.
//
// sha256 is the hex SHA-256 of the manifest's JSON with "sha256" empty and
// "records" null, "\n", each record as uvarint-length-prefixed key and
// value and a uvarint expiry, then the payload: a changed byte anywhere is
// refused before anything is written. It guards against damage, not
// against forgery, so imports also check that every record is the tenant's.

// Export format identifiers.
const (
	ExportFormat     = "aibud-tenant-export"
	ExportVersion    = 1
	maxManifestBytes = 256 << 20
)

// Manifest describes an export file; it is the domain's type so that the
// HTTP layer can name it without importing store.
type Manifest = tenants.ExportManifest

// ExportTenant writes one tenant's export file to w and returns its
// manifest. It runs while the server does: the database is read in one
// transaction with the DB held from the pool, buffered to a temp file in the
// data directory (the checksum precedes the payload), then copied to w.
func (s *Store) ExportTenant(ctx context.Context, tenantID string, w io.Writer) (Manifest, error) {
	if err := checkTenantID(tenantID); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: ExportFormat, Version: ExportVersion, TenantID: tenantID, CreatedAt: s.Now().UTC()}
	recs, err := s.Catalog.tenantRecords(tenantID, false)
	if err != nil {
		return Manifest{}, wrap("store.ExportTenant "+tenantID, err)
	}
	tmp, err := os.CreateTemp(s.dir, ".export-*")
	if err != nil {
		return Manifest{}, fmt.Errorf("store.ExportTenant %s: %w", tenantID, err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var keys int
	err = s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		keys, err = writeSnapshot(ctx, h.DB, bw)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		m.Records, m.Counts = recs, countRecords(recs)
		m.Counts["db_keys"] = keys
		err = writeExport(&m, tmp, w)
	}
	if err != nil {
		return Manifest{}, wrap("store.ExportTenant "+tenantID, err)
	}
	return m, nil
}

// writeExport completes m with the payload's size and checksum and writes
// the file: the manifest line, then the payload.
func writeExport(m *Manifest, payload *os.File, w io.Writer) error {
	size, err := payload.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	m.PayloadBytes = size
	sum := manifestDigest(*m)
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(sum, payload); err != nil {
		return err
	}
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return err
	}
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, payload)
	return err
}

// manifestDigest returns a SHA-256 that has taken in everything of m the
// checksum covers; the payload is written to it next.
func manifestDigest(m Manifest) hash.Hash {
	h := sha256.New()
	recs := m.Records
	m.SHA256, m.Records = "", nil
	head, _ := json.Marshal(m) // plain fields: it cannot fail
	h.Write(append(head, '\n'))
	var b []byte
	for _, r := range recs {
		b = binary.AppendUvarint(b[:0], uint64(len(r.Key)))
		b = append(b, r.Key...)
		b = binary.AppendUvarint(b, uint64(len(r.Value)))
		b = append(b, r.Value...)
		b = binary.AppendUvarint(b, r.ExpiresAt)
		h.Write(b)
	}
	return h
}

// ImportTenant restores an export file as tenant asID (the file's own id
// when empty): the checksum and version are verified first (the payload is
// buffered to a temp file), a tenant id, database directory or record
// already present is refused, then the database is loaded into a new
// directory and the catalog records written. On failure nothing stays.
// With another id, the id is rewritten in the records' keys and in every
// "tenant_id" of the catalog records and the database.
func (s *Store) ImportTenant(ctx context.Context, r io.Reader, asID string) (Manifest, error) {
	m, payload, err := s.readExport(r)
	if err != nil {
		return Manifest{}, err
	}
	defer func() { payload.Close(); os.Remove(payload.Name()) }()
	from, to := m.TenantID, cmp.Or(asID, m.TenantID)
	if err := checkTenantID(to); err != nil {
		return Manifest{}, err
	}
	if to != from {
		rewriteTenantID(m.Records, from, to)
		m.TenantID = to
	}
	if err := checkRecords(m.Records, to); err != nil {
		return Manifest{}, err
	}
	if err := s.checkImportFree(to, m.Records); err != nil {
		return Manifest{}, err
	}
	dir := s.Pool.Dir(to)
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		return Manifest{}, tenants.Errorf(tenants.ECONFLICT, "The database directory of tenant %s already exists (%s).", to, dir)
	} else if err != nil {
		return Manifest{}, fmt.Errorf("store.ImportTenant %s: %w", to, err)
	}
	shards, err := s.loadTenantDB(dir, payload, from, to)
	if err == nil {
		err = s.Catalog.putTenantRecords(m.Records, shards)
	}
	if err != nil {
		return Manifest{}, wrap("store.ImportTenant "+to, errors.Join(err, os.RemoveAll(dir)))
	}
	return m, nil
}

var (
	errNotExport = tenants.Invalid("file", "This is not an aibud tenant export: its first line is not an export manifest.")
	errChecksum  = tenants.Invalid("file", "The export file is damaged or was changed: its SHA-256 checksum does not match. Nothing was imported.")
	errTruncated = tenants.Invalid("file", "The export file is incomplete: its payload is shorter than its manifest says. Nothing was imported.")
	errTrailing  = tenants.Invalid("file", "The export file has data after its payload. Nothing was imported.")
)

// readExport reads the manifest, then copies the payload to a temp file
// while hashing it, and returns the file rewound once the checksum matched.
func (s *Store) readExport(r io.Reader) (Manifest, *os.File, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var m Manifest
	line, err := readLine(br, maxManifestBytes)
	if err != nil || json.Unmarshal(line, &m) != nil || m.Format != ExportFormat {
		return m, nil, errNotExport
	}
	if m.Version != ExportVersion {
		return m, nil, tenants.Invalid("file", "This export file is format version %d; this aibud reads version %d. Nothing was imported.", m.Version, ExportVersion)
	}
	if m.PayloadBytes < 0 {
		return m, nil, errChecksum
	}
	tmp, err := os.CreateTemp(s.dir, ".import-*")
	if err != nil {
		return m, nil, fmt.Errorf("store.ImportTenant: %w", err)
	}
	fail := func(err error) (Manifest, *os.File, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return m, nil, err
	}
	sum := manifestDigest(m)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if _, err := io.CopyN(io.MultiWriter(bw, sum), br, m.PayloadBytes); errors.Is(err, io.EOF) {
		return fail(errTruncated)
	} else if err != nil {
		return fail(fmt.Errorf("store.ImportTenant: read: %w", err))
	}
	if _, err := br.ReadByte(); err == nil {
		return fail(errTrailing)
	} else if !errors.Is(err, io.EOF) {
		return fail(fmt.Errorf("store.ImportTenant: read: %w", err))
	}
	if hex.EncodeToString(sum.Sum(nil)) != m.SHA256 {
		return fail(errChecksum)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return m, tmp, nil
}

// readLine reads up to and including '\n', at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, errors.New("line too long")
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// checkImportFree refuses an import whose tenant, directory or records
// already exist here, naming what is in the way.
func (s *Store) checkImportFree(tenantID string, recs []tenants.ExportRecord) error {
	if _, err := os.Stat(s.Pool.Dir(tenantID)); err == nil {
		return tenants.Errorf(tenants.ECONFLICT, "The database directory of tenant %s already exists (%s).", tenantID, s.Pool.Dir(tenantID))
	}
	// The conflicts people can act on first: the tenant, then its users.
	rank := func(key string) int {
		for i, p := range []string{keyTenant, keyUserEmail, keyUserExtID, keyUser} {
			if strings.HasPrefix(key, p) {
				return i
			}
		}
		return 4
	}
	keys := make([]string, 0, len(recs))
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	return s.Catalog.db.View(func(txn *badger.Txn) error {
		for _, k := range keys {
			if taken, err := exists(txn, k); err != nil || taken {
				return errOr(err, importConflict(k))
			}
		}
		return nil
	})
}

// importConflict says which existing record stops an import.
func importConflict(key string) error {
	p, rest, _ := strings.Cut(key, "/")
	switch p + "/" {
	case keyTenant:
		return tenants.Errorf(tenants.ECONFLICT, "Tenant %s already exists in this catalog. Import it under another id with --as NEWID.", rest)
	case keyUserEmail:
		return tenants.Errorf(tenants.ECONFLICT, "A user with email %s already exists in this catalog, so this tenant's owner cannot be imported here.", rest)
	case keyUserExtID:
		return tenants.Errorf(tenants.ECONFLICT, "A user with external identity %s already exists in this catalog.", rest)
	case keyUser:
		return tenants.Errorf(tenants.ECONFLICT, "User %s already exists in this catalog (was this tenant imported already?).", rest)
	case keyRoute:
		return tenants.Errorf(tenants.ECONFLICT, "A webhook route of this tenant's WhatsApp numbers already exists in this catalog (was this tenant imported already?).")
	case keyStripeCustomer:
		return tenants.Errorf(tenants.ECONFLICT, "Stripe customer %s already belongs to a tenant in this catalog.", rest)
	}
	return tenants.Errorf(tenants.ECONFLICT, "Record %q already exists in this catalog.", clip(key))
}

// putTenantRecords writes imported records: the history (usage, audit) in
// chunks first, then everything that makes the tenant visible (tenant,
// users, indexes, routes, keys) in one transaction with the shard counts
// of its numbers. If that fails, the history written is deleted again.
func (c *Catalog) putTenantRecords(recs []tenants.ExportRecord, shards map[string]int) error {
	var history, core []tenants.ExportRecord
	for _, r := range recs {
		if strings.HasPrefix(r.Key, keyUsage) || strings.HasPrefix(r.Key, keyAudit) {
			history = append(history, r)
		} else {
			core = append(core, r)
		}
	}
	var written [][]byte
	err := func() error {
		for start := 0; start < len(history); start += 500 {
			chunk := history[start:min(start+500, len(history))]
			if err := c.update(func(txn *badger.Txn) error { return setRecords(txn, chunk) }); err != nil {
				return err
			}
			for _, r := range chunk {
				written = append(written, []byte(r.Key))
			}
		}
		return c.update(func(txn *badger.Txn) error {
			if err := setRecords(txn, core); err != nil {
				return err
			}
			return countShards(txn, shards)
		})
	}()
	if err != nil {
		return errors.Join(err, c.deleteKeys(written))
	}
	return nil
}

func setRecords(txn *badger.Txn, recs []tenants.ExportRecord) error {
	for _, r := range recs {
		if taken, err := exists(txn, r.Key); err != nil || taken {
			return errOr(err, importConflict(r.Key))
		}
		e := badger.NewEntry([]byte(r.Key), r.Value)
		e.ExpiresAt = r.ExpiresAt
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	return nil
}

// countShards counts imported numbers on the shards this catalog knows.
func countShards(txn *badger.Txn, shards map[string]int) error {
	for id, n := range shards {
		var sh tenants.Shard
		if err := getJSON(txn, keyShard+id, &sh); errors.Is(err, badger.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return err
		}
		sh.InUse += n
		if err := setJSON(txn, keyShard+id, sh); err != nil {
			return err
		}
	}
	return nil
}

// checkTenantID accepts ids that are one safe path element.
func checkTenantID(id string) error {
	const ok = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
	if id == "" || len(id) > 64 || strings.Trim(id, ok) != "" {
		return tenants.Invalid("id", "Tenant id %q is not valid: use 1 to 64 letters, digits, '-' or '_'.", clip(id))
	}
	return nil
}
