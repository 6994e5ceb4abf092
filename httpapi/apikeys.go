package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Tenant API keys: the JSON API, the Settings page, authentication of
// `Authorization: Bearer ak_…` and the per-key rate limit.
//
// A request made with an API key may list keys but not create or revoke
// them: a leaked key must not be able to mint itself a successor that
// survives its revocation, nor lock the real integration out. Keys are
// managed by a person, signed in to the dashboard.

// apiKeyPrefix starts every tenant API key.
const apiKeyPrefix = tenants.APIKeyPrefix

// apiKeyIDKey marks a request authenticated by an API key (its id).
const apiKeyIDKey = "api_key_id"

// Default per-key rate limit: a sustained 20 requests a second, bursts of 40.
const (
	defaultAPIKeyRate  = 20
	defaultAPIKeyBurst = 40
)

func (s *Server) registerAPIKeyRoutes(e *echo.Echo) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	g := e.Group("/api/v1/api-keys")
	g.POST("", s.handleAPIKeyCreate, s.requireAPI)
	g.GET("", s.handleAPIKeyList, s.requireAPI)
	g.DELETE("/:id", s.handleAPIKeyRevoke, s.requireAPI)
	s.registerAPIKeyPages(e)
}

// authenticateKey resolves an API key to its tenant's account, then spends
// one token of the key's bucket.
func (s *Server) authenticateKey(c echo.Context, key string) (tenants.Account, error) {
	keys, err := s.apiKeys()
	if err != nil {
		return tenants.Account{}, tenants.Errorf(tenants.EUNAUTHORIZED, "API keys are not enabled on this server.")
	}
	acc, k, err := keys.AuthenticateKey(c.Request().Context(), key)
	if err != nil {
		return tenants.Account{}, err
	}
	if err := s.keyLimits.take(k.ID, s.cfg.Now()); err != nil {
		return tenants.Account{}, err
	}
	c.Set(apiKeyIDKey, k.ID)
	return acc, nil
}

func (s *Server) apiKeys() (*tenants.APIKeys, error) {
	if s.deps.APIKeys == nil {
		return nil, tenants.Errorf(tenants.EUNAVAILABLE, "API keys are not enabled on this server.")
	}
	return s.deps.APIKeys, nil
}

// refuseKeyCaller stops requests authenticated by an API key from managing
// API keys (see the file comment).
func refuseKeyCaller(c echo.Context) error {
	if id, _ := c.Get(apiKeyIDKey).(string); id != "" {
		return tenants.Errorf(tenants.EFORBIDDEN, "API keys cannot create or revoke API keys. Sign in to the dashboard to manage them.")
	}
	return nil
}

type apiKeyRequest struct {
	Name string `json:"name"`
}

// apiKeyJSON is a key as the API lists it: never the key, nor its hash.
type apiKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Revoked    bool       `json:"revoked"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// apiKeyCreated is the answer to a create: the one time the key is shown.
type apiKeyCreated struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
}

func toAPIKeyJSON(k tenants.APIKey) apiKeyJSON {
	out := apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedAt: k.CreatedAt, Revoked: k.Revoked}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedAt = &k.LastUsedAt
	}
	if !k.RevokedAt.IsZero() {
		out.RevokedAt = &k.RevokedAt
	}
	return out
}

func (s *Server) handleAPIKeyCreate(c echo.Context) error {
	if err := refuseKeyCaller(c); err != nil {
		return err
	}
	var req apiKeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	keys, err := s.apiKeys()
	if err != nil {
		return err
	}
	k, secret, err := keys.Create(c.Request().Context(), *accountOf(c), req.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, apiKeyCreated{ID: k.ID, Name: k.Name, Key: secret, Prefix: k.Prefix, CreatedAt: k.CreatedAt})
}

func (s *Server) handleAPIKeyList(c echo.Context) error {
	keys, err := s.apiKeys()
	if err != nil {
		return err
	}
	list, err := keys.List(c.Request().Context(), accountOf(c).Tenant.ID)
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, 0, len(list))
	for _, k := range list {
		out = append(out, toAPIKeyJSON(k))
	}
	return c.JSON(http.StatusOK, map[string]any{"api_keys": out})
}

func (s *Server) handleAPIKeyRevoke(c echo.Context) error {
	if err := s.revokeAPIKey(c); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// revokeAPIKey revokes the key named in the path, for the JSON API and the
// settings form alike; a request made with an API key may not do it.
func (s *Server) revokeAPIKey(c echo.Context) error {
	if err := refuseKeyCaller(c); err != nil {
		return err
	}
	keys, err := s.apiKeys()
	if err != nil {
		return err
	}
	_, err = keys.Revoke(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	return err
}

// The page under Settings: the list with last use, a form that creates a
// key and shows it once, and revocation behind a confirmation page (not a
// script dialog, so it works everywhere and is read by screen readers).

func (s *Server) registerAPIKeyPages(e *echo.Echo) {
	g := e.Group("/app/settings/api-keys")
	g.GET("", s.handleAPIKeysPage, s.requirePage)
	g.POST("", s.handleAPIKeyCreateForm, s.requirePage)
	g.GET("/:id/revoke", s.handleAPIKeyRevokeConfirm, s.requirePage)
	g.POST("/:id/revoke", s.handleAPIKeyRevokeForm, s.requirePage)
}

// apiKeysData is what pages/api_keys.html shows.
type apiKeysData struct {
	Keys    []tenants.APIKey
	Live    int
	Max     int
	Enabled bool
	NewKey  string          // set once, right after a create
	Created *tenants.APIKey // the key NewKey is
	Revoke  *tenants.APIKey // set on the confirmation page
}

func (s *Server) apiKeysData(c echo.Context) (apiKeysData, error) {
	d := apiKeysData{Max: tenants.MaxAPIKeys, Enabled: s.deps.APIKeys != nil}
	if !d.Enabled {
		return d, nil
	}
	list, err := s.deps.APIKeys.List(c.Request().Context(), accountOf(c).Tenant.ID)
	if err != nil {
		return d, err
	}
	d.Keys = list
	for _, k := range list {
		if !k.Revoked {
			d.Live++
		}
	}
	return d, nil
}

func (s *Server) renderAPIKeys(c echo.Context, status int, d apiKeysData, e errorDetail) error {
	return s.renderStatus(c, status, "api_keys", pageData{Title: "API keys", Nav: "settings", Data: d, Error: e.Message, Field: e.Field})
}

func (s *Server) handleAPIKeysPage(c echo.Context) error {
	d, err := s.apiKeysData(c)
	if err != nil {
		return err
	}
	return s.renderAPIKeys(c, http.StatusOK, d, errorDetail{})
}

// handleAPIKeyCreateForm creates a key and shows it on the answer page:
// nothing else ever shows it again, so the answer must not be cached.
func (s *Server) handleAPIKeyCreateForm(c echo.Context) error {
	if err := refuseKeyCaller(c); err != nil {
		return err
	}
	keys, err := s.apiKeys()
	if err != nil {
		return err
	}
	k, secret, cerr := keys.Create(c.Request().Context(), *accountOf(c), c.FormValue("name"))
	d, err := s.apiKeysData(c)
	if err != nil {
		return err
	}
	if cerr != nil {
		detail, status := s.describe(cerr, c)
		if status >= 500 {
			return cerr
		}
		return s.renderAPIKeys(c, status, d, detail)
	}
	d.NewKey, d.Created = secret, &k
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderAPIKeys(c, http.StatusOK, d, errorDetail{})
}

func (s *Server) handleAPIKeyRevokeConfirm(c echo.Context) error {
	keys, err := s.apiKeys()
	if err != nil {
		return err
	}
	k, err := keys.Get(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return s.renderAPIKeys(c, http.StatusOK, apiKeysData{Enabled: true, Revoke: &k}, errorDetail{})
}

func (s *Server) handleAPIKeyRevokeForm(c echo.Context) error {
	if err := s.revokeAPIKey(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/api-keys")
}

// keyLimiter is a token bucket per API key id.
type keyLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// maxIdleBuckets is when idle (full) buckets are dropped, bounding memory.
const maxIdleBuckets = 4096

// newKeyLimiter allows perSecond requests a second per key with bursts of
// burst; zero or negative values take the defaults.
func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	if perSecond <= 0 {
		perSecond = defaultAPIKeyRate
	}
	if burst <= 0 {
		burst = defaultAPIKeyBurst
	}
	return &keyLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// take spends one token of the key's bucket, or answers 429 with the
// seconds until a token is back.
func (l *keyLimiter) take(id string, now time.Time) error {
	l.mu.Lock()
	b, ok := l.buckets[id]
	if !ok {
		if len(l.buckets) >= maxIdleBuckets {
			l.dropIdle(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[id] = b
	}
	l.mu.Unlock()
	if b.AllowN(now, 1) {
		return nil
	}
	wait := (1 - b.TokensAt(now)) / float64(l.limit)
	return &tooManyError{
		err:        tenants.Errorf(tenants.ETOOMANY, "Too many requests with this API key (at most %g a second). Slow down and retry.", float64(l.limit)),
		retryAfter: max(1, int(math.Ceil(wait))),
	}
}

// describe says the limit in words, for the API documentation.
func (l *keyLimiter) describe() string {
	return fmt.Sprintf("%g requests a second, with bursts of %d", float64(l.limit), l.burst)
}

// dropIdle forgets full buckets: a new bucket starts full, so nothing
// changes for their keys. Called with l.mu held.
func (l *keyLimiter) dropIdle(now time.Time) {
	for id, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, id)
		}
	}
}
