package store

// Every key prefix Aibud writes, in one place. Keys are "<prefix><id>" with
// sortable ids (ULIDs or big-endian sequence numbers) so that prefix scans
// come back in creation order.

// Catalog keys (one DB for the whole platform).
const (
	keyUser           = "user/"      // user/<user id> → tenants.User
	keyUserEmail      = "email/"     // email/<normalised email> → user id
	keyUserExtID      = "extid/"     // extid/<external id> → user id
	keyTenant         = "tenant/"    // tenant/<tenant id> → tenants.Tenant
	keySession        = "session/"   // session/<session id> → tenants.Session
	keyShard          = "shard/"     // shard/<shard id> → tenants.Shard
	keyRoute          = "route/"     // route/<webhook token> → tenants.InstanceRoute
	keyStripeEvent    = "stripeev/"  // stripeev/<event id> → processed marker
	keyStripeCustomer = "stripecus/" // stripecus/<customer id> → stripeCustomer{tenant id, newest subscription event time}
)

// Tenant DB keys (one DB per tenant).
const (
	keyBalance   = "credits/balance" // → int64 big-endian, the current balance
	keyLedgerSeq = "credits/seq"     // → uint64 big-endian, the last ledger sequence number
	keyLedger    = "ledger/"         // ledger/<seq big-endian> → tenants.LedgerEntry
	keyCreditRef = "creditref/"      // creditref/<kind>/<ref> → ledger seq (8 bytes); a reservation's also holds amount and refunded (24 bytes)
	keyInstance  = "instance/"       // instance/<instance id> → tenants.Instance
	keyDedupe    = "dedupe/"         // dedupe/<event key> → marker, so webhooks apply once
	keySettings  = "settings"        // → tenants.Settings
	keyContact   = "contact/"        // contact/<phone> → tenants.Contact (phone: E.164 digits, no plus)
	keyTag       = "tag/"            // tag/<tag>/<phone> → nil: the tag index of contacts
	keyConsent   = "consent/"        // consent/<phone>/<ulid> → tenants.ConsentEvent, the consent log
)

// Tenant DB keys of poll campaigns.
const (
	keyPoll              = "poll/"              // poll/<poll id> → tenants.Poll
	keyMessage           = "msg/"               // msg/<poll id>/<phone> → tenants.Message
	keyMessageWAID       = "waid/"              // waid/<gateway message id> → "<poll id>/<phone>"
	keyPendStatus        = "pendst/"            // pendst/<gateway message id> → a status that came before the send's answer
	keyVote              = "vote/"              // vote/<poll id>/<phone> → tenants.Vote (the current selection)
	keyContactVote       = "votec/"             // votec/<phone>/<poll id> → nil (index)
	keyContactMsg        = "msgc/"              // msgc/<phone>/<poll id> → nil (index)
	keyReply             = "reply/"             // reply/<ulid> → tenants.Reply
	keyPollReply         = "replyp/"            // replyp/<poll id>/<ulid> → nil (index)
	keyContactRepl       = "replyc/"            // replyc/<phone>/<ulid> → nil (index)
	keyLastPoll          = "lastpoll/"          // lastpoll/<phone> → the poll id last sent to that phone
	keyAutoReplySettings = "settings/autoreply" // → tenants.AutoReplySettings
	keyAutoReplied       = "autoreplied/"       // autoreplied/<phone> → nil, expires 24 h after an automatic answer
	keyUnclassified      = "unclass/"           // unclass/<reply id> → nil: waiting for the classifier
	keyAudience          = "audience/"          // audience/<poll id> → the phones, one per line, fixed at send time
)

// Catalog keys of the campaign reconciler and usage.
const (
	keyActive = "active/" // active/<tenant id> → nil: the tenant has campaigns in flight
	keyUsage  = "usage/"  // usage/<tenant id>/<YYYY-MM-DD> → tenants.DailyUsage
)

// Catalog keys of tenant API keys (the keys themselves are never stored).
const (
	keyAPIKey     = "apikey/"  // apikey/<tenant id>/<key id> → tenants.APIKey
	keyAPIKeyHash = "apikeyh/" // apikeyh/<hex SHA-256 of the key> → "<tenant id>/<key id>"
)

// Catalog keys of the operator console.
const (
	keyAudit = "audit/" // audit/<tenant id>/<ulid> → tenants.AuditEntry, the tenant's audit log
)

// Tenant DB keys of outgoing webhooks.
const (
	keyHookEndpoint = "hookep/"   // hookep/<endpoint id> → tenants.Endpoint
	keyHookDelivery = "hookdlv/"  // hookdlv/<delivery id (ULID)> → tenants.Delivery, expires after hookLogTTL
	keyHookByEP     = "hookdlve/" // hookdlve/<endpoint id>/<delivery id> → nil (index), expires likewise
	keyHookPending  = "hookpend/" // hookpend/<delivery id> → nil: the delivery is still pending
	keyHookGuard    = "hookguard" // → nil, read and written by every endpoint creation so that concurrent ones conflict
)
