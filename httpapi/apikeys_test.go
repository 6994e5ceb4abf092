package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// withAPIKeys turns API keys on, with a bucket of perSecond and burst per key.
func withAPIKeys(perSecond float64, burst int) envOption {
	return func(c *Config, d *Deps) {
		st := d.Credits.(*store.Store)
		d.APIKeys = &tenants.APIKeys{Store: st, Catalog: st, Now: c.Now, NewID: store.NewID, Logger: c.Logger}
		c.APIKeyRate, c.APIKeyBurst = perSecond, burst
	}
}

// createKey makes an API key through the JSON API with a session client.
func (e *testEnv) createKey(t *testing.T, c *http.Client, name string) apiKeyCreated {
	t.Helper()
	r := e.do(t, c, "POST", "/api/v1/api-keys", `{"name":"`+name+`"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	var k apiKeyCreated
	if err := json.Unmarshal([]byte(r.body), &k); err != nil {
		t.Fatal(err)
	}
	if k.ID == "" || k.Name != name || !strings.HasPrefix(k.Key, "ak_") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create key answered %+v, Cache-Control %q", k, r.header.Get("Cache-Control"))
	}
	return k
}

// withKey calls the API with a key and no cookie.
func (e *testEnv) withKey(t *testing.T, key, method, path, body string) result {
	t.Helper()
	return e.do(t, e.client(), method, path, body, "Authorization", "Bearer "+key)
}

func TestAPIKeysScopedToTenant(t *testing.T) {
	env := newTestEnv(t, withAPIKeys(1000, 1000))
	a, acctA := env.signup(t, "a@example.com")
	b, _ := env.signup(t, "b@example.com")
	keyA := env.createKey(t, a, "CRM")
	keyB := env.createKey(t, b, "B's CRM")
	if r := env.do(t, b, "POST", "/api/v1/contacts", `{"phone":"+55 11 98765-0002","name":"B's lead"}`); r.status != 201 {
		t.Fatalf("B's contact: %d %s", r.status, r.body)
	}
	unknown := "ak_" + strings.Repeat("A", 43)

	tests := []struct {
		name, key, method, path, body string
		status                        int
		contains                      string
	}{
		{"me is tenant A", keyA.Key, "GET", "/api/v1/me", "", 200, acctA.TenantID},
		{"create A's contact", keyA.Key, "POST", "/api/v1/contacts", `{"phone":"+55 11 98765-0001","name":"A's lead"}`, 201, `"name":"A's lead"`},
		{"B's contact is not found", keyA.Key, "GET", "/api/v1/contacts/5511987650002", "", 404, `"code":"not_found"`},
		{"B's contact cannot be erased", keyA.Key, "DELETE", "/api/v1/contacts/5511987650002", "", 404, `"code":"not_found"`},
		{"list keys with a key", keyA.Key, "GET", "/api/v1/api-keys", "", 200, keyA.ID},
		{"a key cannot create keys", keyA.Key, "POST", "/api/v1/api-keys", `{"name":"x"}`, 403, `"code":"forbidden"`},
		{"a key cannot revoke keys", keyA.Key, "DELETE", "/api/v1/api-keys/" + keyA.ID, "", 403, `"code":"forbidden"`},
		{"unknown key", unknown, "GET", "/api/v1/me", "", 401, `"code":"unauthorized"`},
		{"malformed key", "ak_short", "GET", "/api/v1/me", "", 401, `"code":"unauthorized"`},
		{"key on a public route is ignored", keyA.Key, "GET", "/healthz", "", 200, `"ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.withKey(t, tt.key, tt.method, tt.path, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tt.method, tt.path, r.status, r.body, tt.status, tt.contains)
			}
		})
	}

	// Tenant A's list shows its own key only, never the key or its hash.
	r := env.do(t, a, "GET", "/api/v1/api-keys", "")
	if r.status != 200 || strings.Contains(r.body, keyB.ID) || strings.Contains(r.body, keyA.Key) ||
		strings.Contains(r.body, tenants.HashAPIKey(keyA.Key)) || !strings.Contains(r.body, `"prefix":"`+keyA.Key[:11]+`"`) {
		t.Fatalf("A's key list = %d %s", r.status, r.body)
	}
	if !strings.Contains(r.body, `"last_used_at":"`) {
		t.Fatalf("last use not recorded: %s", r.body)
	}
	if r := env.withKey(t, keyA.Key, "GET", "/api/v1/contacts", ""); r.status != 200 || strings.Contains(r.body, "B's lead") || !strings.Contains(r.body, "A's lead") {
		t.Fatalf("A's contacts through the key = %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		name   string
		client *http.Client
		path   string
		status int
	}{
		{"B revokes A's key", b, "/api/v1/api-keys/" + keyA.ID, 404},
		{"unknown id", a, "/api/v1/api-keys/01JCM5Z7Q8R3V6W2X4Y9A0B1C2", 404},
		{"A revokes its key", a, "/api/v1/api-keys/" + keyA.ID, 204},
	} {
		if r := env.do(t, c.client, "DELETE", c.path, ""); r.status != c.status {
			t.Fatalf("%s: %d %s; want %d", c.name, r.status, r.body, c.status)
		}
	}
	if r := env.withKey(t, keyA.Key, "GET", "/api/v1/me", ""); r.status != 401 {
		t.Fatalf("revoked key: %d %s; want 401", r.status, r.body)
	}
	if r := env.withKey(t, keyB.Key, "GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("B's key after A's revoke: %d %s", r.status, r.body)
	}
	if r := env.do(t, a, "POST", "/api/v1/api-keys", `{"name":"  "}`); r.status != 400 || !strings.Contains(r.body, `"field":"name"`) {
		t.Fatalf("blank name: %d %s", r.status, r.body)
	}
	assertCatalogLacks(t, env, keyA.Key, keyB.Key)
}

// assertCatalogLacks scans every catalog entry for the plain keys (and their
// random part): only hashes may be at rest.
func assertCatalogLacks(t *testing.T, env *testEnv, keys ...string) {
	t.Helper()
	hashes := 0
	err := env.store.Catalog.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			entry := append(append([]byte{}, it.Item().Key()...), v...)
			for _, k := range keys {
				if bytes.Contains(entry, []byte(k[len(apiKeyPrefix):])) {
					t.Errorf("catalog entry %q holds a plain API key", it.Item().Key())
				}
				if bytes.Contains(entry, []byte(tenants.HashAPIKey(k))) {
					hashes++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if hashes == 0 {
		t.Fatal("no key hash found in the catalog: the scan looked in the wrong place")
	}
}

func TestAPIKeyRateLimit(t *testing.T) {
	env := newTestEnv(t, withAPIKeys(2, 3))
	c, _ := env.signup(t, "a@example.com")
	first, second := env.createKey(t, c, "first"), env.createKey(t, c, "second")
	for i := range 3 {
		if r := env.withKey(t, first.Key, "GET", "/api/v1/me", ""); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, r.status, r.body)
		}
	}
	r := env.withKey(t, first.Key, "GET", "/api/v1/me", "")
	if r.status != 429 || r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, `"code":"too_many_requests"`) {
		t.Fatalf("past the burst: %d Retry-After %q %s; want 429, Retry-After 1", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := env.withKey(t, second.Key, "GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("another key of the same tenant: %d; buckets are per key", r.status)
	}
	if r := env.do(t, c, "GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("the session is not limited by the key: %d", r.status)
	}
	env.clock.Add(500 * time.Millisecond) // one token back at 2 a second
	if r := env.withKey(t, first.Key, "GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("after the refill: %d %s", r.status, r.body)
	}
	if r := env.withKey(t, first.Key, "GET", "/api/v1/me", ""); r.status != 429 {
		t.Fatalf("refill gave more than one token: %d", r.status)
	}
}

func TestAPIKeysOff(t *testing.T) {
	env := newTestEnv(t)
	c, _ := env.signup(t, "a@example.com")
	if r := env.withKey(t, "ak_"+strings.Repeat("A", 43), "GET", "/api/v1/me", ""); r.status != 401 {
		t.Fatalf("key with keys off: %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "POST", "/api/v1/api-keys", `{"name":"x"}`); r.status != 503 {
		t.Fatalf("create with keys off: %d %s", r.status, r.body)
	}
}

var keyInPage = regexp.MustCompile(`ak_[A-Za-z0-9_-]{43}`)

func TestAPIKeyPages(t *testing.T) {
	env := newTestEnv(t, withAPIKeys(1000, 1000))
	a, _ := env.signup(t, "a@example.com")
	b, _ := env.signup(t, "b@example.com")
	if r := env.do(t, a, "GET", "/app/settings/api-keys", ""); r.status != 200 || !strings.Contains(r.body, "No API key yet") {
		t.Fatalf("empty page: %d %s", r.status, r.body)
	}
	if r := env.do(t, a, "POST", "/app/settings/api-keys", "name="); r.status != 400 || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Fatalf("blank name: %d", r.status)
	}
	r := env.do(t, a, "POST", "/app/settings/api-keys", "name=HubSpot+sync")
	key := keyInPage.FindString(r.body)
	if r.status != 200 || key == "" || !strings.Contains(r.body, "will not be shown again") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d, key %q, Cache-Control %q", r.status, key, r.header.Get("Cache-Control"))
	}
	if r := env.withKey(t, key, "GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("the page's key does not work: %d", r.status)
	}
	r = env.do(t, a, "GET", "/app/settings/api-keys", "")
	if r.status != 200 || keyInPage.MatchString(r.body) || !strings.Contains(r.body, key[:11]+"…") || !strings.Contains(r.body, "HubSpot sync") {
		t.Fatalf("the list shows the key again, or not its prefix: %d", r.status)
	}
	if strings.Contains(r.body, ">never<") {
		t.Fatal("the key was used but the list says never")
	}
	id := regexp.MustCompile(`/app/settings/api-keys/([0-9A-Z]{26})/revoke`).FindStringSubmatch(r.body)
	if id == nil {
		t.Fatal("no revoke link")
	}
	confirm := "/app/settings/api-keys/" + id[1] + "/revoke"
	for _, c := range []struct {
		name                 string
		client               *http.Client
		method, path, body   string
		status               int
		contains, authHeader string
	}{
		{"B cannot see A's key", b, "GET", confirm, "", 404, "", ""},
		{"B cannot revoke A's key", b, "POST", confirm, "", 404, "", ""},
		{"a key cannot revoke through the page", env.client(), "POST", confirm, "", 403, "", "Bearer " + key},
		{"a key cannot create through the page", env.client(), "POST", "/app/settings/api-keys", "name=x", 403, "", "Bearer " + key},
		{"confirmation", a, "GET", confirm, "", 200, "Revoke this API key?", ""},
		{"revoke", a, "POST", confirm, "", 303, "", ""},
	} {
		var h []string
		if c.authHeader != "" {
			h = []string{"Authorization", c.authHeader}
		}
		if r := env.do(t, c.client, c.method, c.path, c.body, h...); r.status != c.status || !strings.Contains(r.body, c.contains) {
			t.Fatalf("%s: %d; want %d containing %q", c.name, r.status, c.status, c.contains)
		}
	}
	if r := env.withKey(t, key, "GET", "/api/v1/me", ""); r.status != 401 {
		t.Fatalf("revoked from the page, still works: %d", r.status)
	}
	if r := env.do(t, a, "GET", "/app/settings/api-keys", ""); !strings.Contains(r.body, "revoked") {
		t.Fatal("the list does not show the key as revoked")
	}
}
