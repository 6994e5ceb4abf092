package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

func exists(txn *badger.Txn, key string) (bool, error) {
	_, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: marshal %T: %v", v, err)) // only our own plain structs are stored
	}
	return b
}

// scanJSON calls fn for every value under prefix, decoded as T.
func scanJSON[T any](txn *badger.Txn, prefix string, fn func(T) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var v T
		if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
			return fmt.Errorf("decode %q: %w", it.Item().Key(), err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// notFound turns Badger's missing key into the domain's ENOTFOUND.
func notFound(err error, what string) error {
	if errors.Is(err, badger.ErrKeyNotFound) {
		return tenants.Errorf(tenants.ENOTFOUND, "%s not found.", what)
	}
	return err
}

// wrap prefixes internal errors with the operation; domain errors pass as they are.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *tenants.Error
	if errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// encodeCursor turns a ledger key into an opaque page cursor.
func encodeCursor(key []byte) string {
	seq := key[len(keyLedger):]
	return fmt.Sprintf("%d", binary.BigEndian.Uint64(seq))
}

func decodeCursor(c string) (int64, error) {
	seq, err := strconv.ParseInt(c, 10, 64)
	if err != nil || seq <= 0 {
		return 0, tenants.Invalid("cursor", "Cursor %q is not valid.", c)
	}
	return seq, nil
}
