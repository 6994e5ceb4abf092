package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// API key format: "ak_" then 32 random bytes in unpadded base64url, 46
// characters in all. The first APIKeyShownLen characters are kept in clear
// so that people can tell their keys apart.
const (
	APIKeyPrefix   = "ak_"
	apiKeyRandLen  = 32
	apiKeyLen      = len(APIKeyPrefix) + 43 // base64.RawURLEncoding of 32 bytes
	APIKeyShownLen = len(APIKeyPrefix) + 8
	// MaxAPIKeys bounds the live (not revoked) keys of one tenant.
	MaxAPIKeys = 20
	// apiKeyTouchEvery is how stale LastUsedAt may get: at most one catalog
	// write per key per minute, however many requests the key makes.
	apiKeyTouchEvery = time.Minute
)

// APIKey is a tenant's credential for the JSON API. The key itself is
// never stored: Hash is the hex SHA-256 of it.
type APIKey struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenant_id"`
	UserID     string    `json:"user_id"` // who created it; requests made with the key act as this user
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"` // the key's first characters, shown in lists
	Hash       string    `json:"hash"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// APIKeyStore keeps API keys in the catalog, indexed by tenant and by hash.
type APIKeyStore interface {
	// CreateAPIKey stores a new key; it fails with ECONFLICT when the
	// tenant already has limit live keys.
	CreateAPIKey(ctx context.Context, k APIKey, limit int) error
	// APIKeys lists a tenant's keys, revoked ones included, oldest first.
	APIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// APIKeyByHash finds a key by the hash of its secret (ENOTFOUND if none).
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	// RevokeAPIKey marks one of the tenant's keys revoked and drops its
	// hash index; a key of another tenant is ENOTFOUND.
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) (APIKey, error)
	// TouchAPIKey moves LastUsedAt forward to at (never back).
	TouchAPIKey(ctx context.Context, tenantID, id string, at time.Time) error
}

// APIKeys is the use case of tenant API keys: create (the key is shown
// once), list, revoke, and authenticate a request's key.
type APIKeys struct {
	Store   APIKeyStore
	Catalog Catalog
	Now     func() time.Time
	NewID   func() string
	Logger  *slog.Logger // nil: discard
}

// errBadKey is the answer to any key that does not authenticate, whatever
// the reason, so that answers do not tell revoked keys from unknown ones.
var errBadKey = &Error{Code: EUNAUTHORIZED, Message: "Invalid or revoked API key."}

// HashAPIKey returns the stored form of a key. SHA-256 is right here and a
// slow password hash (argon2id) is not: a key carries 256 random bits, so
// a leaked hash cannot be reversed by guessing however fast each guess is;
// slow hashes only help low-entropy secrets such as passwords. A fast,
// unsalted hash also lets the hash itself be the index, so a request costs
// one lookup rather than a scan or ~50 ms of argon2 per call.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ValidateAPIKeyName trims and checks a key's name.
func ValidateAPIKeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Invalid("name", "Give the key a name, e.g. the system that will use it.")
	}
	if utf8.RuneCountInString(name) > 60 {
		return "", Invalid("name", "Name must be at most 60 characters.")
	}
	return name, nil
}

// Create makes a key for the account's tenant. The returned string is the
// key itself: the only time it exists outside the caller's hands.
func (a *APIKeys) Create(ctx context.Context, acc Account, name string) (APIKey, string, error) {
	name, err := ValidateAPIKeyName(name)
	if err != nil {
		return APIKey{}, "", err
	}
	secret, err := newAPIKeySecret()
	if err != nil {
		return APIKey{}, "", fmt.Errorf("tenants.CreateAPIKey: %w", err)
	}
	k := APIKey{ID: a.NewID(), TenantID: acc.Tenant.ID, UserID: acc.User.ID, Name: name,
		Prefix: secret[:APIKeyShownLen], Hash: HashAPIKey(secret), CreatedAt: a.Now().UTC()}
	if err := a.Store.CreateAPIKey(ctx, k, MaxAPIKeys); err != nil {
		return APIKey{}, "", err
	}
	a.logger().Info("api key created", "tenant", k.TenantID, "key", k.ID)
	return k, secret, nil
}

func newAPIKeySecret() (string, error) {
	b := make([]byte, apiKeyRandLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// List returns the tenant's keys, newest first.
func (a *APIKeys) List(ctx context.Context, tenantID string) ([]APIKey, error) {
	keys, err := a.Store.APIKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return keys, nil
}

// Get returns one of the tenant's keys.
func (a *APIKeys) Get(ctx context.Context, tenantID, id string) (APIKey, error) {
	keys, err := a.Store.APIKeys(ctx, tenantID)
	if err != nil {
		return APIKey{}, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return APIKey{}, Errorf(ENOTFOUND, "API key not found.")
}

// Revoke stops a key from working, at once and for good. Revoking a key
// twice is not an error.
func (a *APIKeys) Revoke(ctx context.Context, tenantID, id string) (APIKey, error) {
	k, err := a.Store.RevokeAPIKey(ctx, tenantID, id, a.Now().UTC())
	if err != nil {
		return APIKey{}, err
	}
	a.logger().Info("api key revoked", "tenant", tenantID, "key", id)
	return k, nil
}

// AuthenticateKey returns the account a request's key acts for, and the key
// (callers rate-limit by its id). Unknown, malformed and revoked keys are
// EUNAUTHORIZED. LastUsedAt is written at most once a minute per key.
func (a *APIKeys) AuthenticateKey(ctx context.Context, key string) (Account, APIKey, error) {
	if !wellFormedAPIKey(key) {
		return Account{}, APIKey{}, errBadKey
	}
	k, err := a.Store.APIKeyByHash(ctx, HashAPIKey(key))
	if ErrorCode(err) == ENOTFOUND {
		return Account{}, APIKey{}, errBadKey
	} else if err != nil {
		return Account{}, APIKey{}, err
	}
	if k.Revoked {
		return Account{}, APIKey{}, errBadKey
	}
	u, err := a.Catalog.User(ctx, k.UserID)
	if err != nil {
		return Account{}, APIKey{}, err
	}
	t, err := a.Catalog.Tenant(ctx, k.TenantID)
	if err != nil {
		return Account{}, APIKey{}, err
	}
	if u.TenantID != k.TenantID { // never act for another tenant, whatever the records say
		return Account{}, APIKey{}, errBadKey
	}
	a.touch(ctx, k)
	return Account{User: u, Tenant: t}, k, nil
}

// touch records the use of a key when the stored time is a minute old. A
// failure is logged, not returned: bookkeeping must not refuse a request.
func (a *APIKeys) touch(ctx context.Context, k APIKey) {
	now := a.Now().UTC()
	if now.Sub(k.LastUsedAt) < apiKeyTouchEvery {
		return
	}
	if err := a.Store.TouchAPIKey(ctx, k.TenantID, k.ID, now); err != nil {
		a.logger().Warn("api key last-used not recorded", "tenant", k.TenantID, "key", k.ID, "err", err)
	}
}

// wellFormedAPIKey checks the shape of a key before any lookup.
func wellFormedAPIKey(key string) bool {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(key[len(APIKeyPrefix):])
	return err == nil
}

func (a *APIKeys) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}
