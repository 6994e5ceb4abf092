package store

// Every key prefix Aibud writes, in one place. Keys are "<prefix><id>" with
// sortable ids (ULIDs or big-endian sequence numbers) so that prefix scans
// come back in creation order.

// Catalog keys (one DB for the whole platform).
const (
	keyUser        = "user/"     // user/<user id> → tenants.User
	keyUserEmail   = "email/"    // email/<normalised email> → user id
	keyUserExtID   = "extid/"    // extid/<external id> → user id
	keyTenant      = "tenant/"   // tenant/<tenant id> → tenants.Tenant
	keySession     = "session/"  // session/<session id> → tenants.Session
	keyShard       = "shard/"    // shard/<shard id> → tenants.Shard
	keyRoute       = "route/"    // route/<webhook token> → tenants.InstanceRoute
	keyStripeEvent = "stripeev/" // stripeev/<event id> → processed marker
)

// Tenant DB keys (one DB per tenant).
const (
	keyBalance     = "credits/balance" // → int64 big-endian, the current balance
	keyLedgerSeq   = "credits/seq"     // → uint64 big-endian, the last ledger sequence number
	keyLedger      = "ledger/"         // ledger/<seq big-endian> → tenants.LedgerEntry
	keyCreditRef   = "creditref/"      // creditref/<kind>/<ref> → ledger seq of the entry it made
	keyReservation = "reservation/"    // reservation/<ref> → reservation{Amount, Refunded}
	keyInstance    = "instance/"       // instance/<instance id> → tenants.Instance
	keyDedupe      = "dedupe/"         // dedupe/<event key> → marker, so webhooks apply once
	keyEvent       = "event/"          // event/<ulid> → a gateway event as received (the inbox log)
	keySettings    = "settings"        // → tenants.Settings
)
