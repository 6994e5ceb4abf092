package tenants

import (
	"context"
	"time"
)

// LedgerEntry is one change to a tenant's credit balance. The balance always
// equals the sum of every entry's Delta and is never negative.
type LedgerEntry struct {
	ID           string    `json:"id"`
	Delta        int64     `json:"delta"`
	Reason       string    `json:"reason"`
	Ref          string    `json:"ref"`
	BalanceAfter int64     `json:"balance_after"`
	At           time.Time `json:"at"`
}

// Ledger reasons written by the system.
const (
	ReasonSignup  = "signup"
	ReasonReserve = "reserve"
	ReasonRefund  = "refund"
	ReasonGrant   = "grant"
)

// LedgerPage is one page of a ledger, newest first.
type LedgerPage struct {
	Entries    []LedgerEntry
	NextCursor string // empty on the last page
}

// Credits is the money port: every operation is atomic and durable before it
// returns, and the invariants balance >= 0 and balance == sum(ledger) hold
// under any concurrency.
type Credits interface {
	Balance(ctx context.Context, tenantID string) (int64, error)
	// Reserve takes n credits for ref, all or nothing. It is idempotent on ref:
	// reserving again for a ref already reserved returns the first entry and
	// takes nothing. A short balance gives an *InsufficientCreditsError.
	Reserve(ctx context.Context, tenantID, ref string, n int64) (LedgerEntry, error)
	// Refund gives back n credits of the reservation reservationRef, at most
	// once per refundRef and never more in total than was reserved. applied is
	// false when refundRef was already refunded.
	Refund(ctx context.Context, tenantID, reservationRef, refundRef string, n int64) (entry LedgerEntry, applied bool, err error)
	// Grant adds (or, with a negative n, removes) credits with a reason. A
	// non-empty ref makes it idempotent, e.g. one grant per paid invoice.
	Grant(ctx context.Context, tenantID string, n int64, reason, ref string) (LedgerEntry, error)
	// Ledger lists entries newest first; cursor is the previous page's NextCursor.
	Ledger(ctx context.Context, tenantID string, cursor string, limit int) (LedgerPage, error)
}

// ValidateRef checks a credit reference: non-empty, printable, short.
func ValidateRef(ref string) error {
	if ref == "" || len(ref) > 200 {
		return Invalid("ref", "Reference must be 1 to 200 bytes.")
	}
	for _, r := range ref {
		if r < 0x21 || r == 0x7f {
			return Invalid("ref", "Reference must not contain spaces or control characters.")
		}
	}
	return nil
}
