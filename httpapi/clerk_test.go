package httpapi

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clerkIssuer is a local stand-in for a Clerk instance: an RSA key and the
// JWKS endpoint that publishes it.
type clerkIssuer struct {
	key *rsa.PrivateKey
	url string
}

func newClerkIssuer(t *testing.T) *clerkIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(srv.Close)
	return &clerkIssuer{key: key, url: srv.URL}
}

func (ci *clerkIssuer) token(t *testing.T, claims jwt.MapClaims, key *rsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "test-key"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClerkTokens(t *testing.T) {
	ci := newClerkIssuer(t)
	env := newTestEnv(t, func(c *Config, _ *Deps) { c.ClerkIssuer = ci.url })
	now := env.clock.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": ci.url, "sub": "user_2abc", "azp": env.srv.URL, "exp": now.Add(time.Minute).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	good := ci.token(t, claims(nil), ci.key)
	r := env.do(t, env.client(), "GET", "/api/v1/me", "", bearer(good)...)
	if r.status != 200 || !strings.Contains(r.body, `"plan":"starter"`) || !strings.Contains(r.body, `"credits":400`) {
		t.Fatalf("first Clerk call = %d %s", r.status, r.body)
	}
	var first meResponse
	json.Unmarshal([]byte(r.body), &first)
	// The same Clerk user maps to the same tenant, not a new one.
	r = env.do(t, env.client(), "GET", "/api/v1/me", "", bearer(good)...)
	var second meResponse
	json.Unmarshal([]byte(r.body), &second)
	if second.Tenant.ID != first.Tenant.ID {
		t.Fatalf("second call made tenant %s, first %s", second.Tenant.ID, first.Tenant.ID)
	}
	// Clerk's own __session cookie works as well.
	if r := env.do(t, env.client(), "GET", "/api/v1/me", "", "Cookie", "__session="+good); r.status != 200 {
		t.Fatalf("__session cookie = %d", r.status)
	}

	bad := map[string]string{
		"expired":      ci.token(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), ci.key),
		"no expiry":    ci.token(t, claims(func(c jwt.MapClaims) { delete(c, "exp") }), ci.key),
		"wrong issuer": ci.token(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), ci.key),
		"wrong azp":    ci.token(t, claims(func(c jwt.MapClaims) { c["azp"] = "https://evil.example" }), ci.key),
		"unknown key":  ci.token(t, claims(nil), otherKey),
		"no subject":   ci.token(t, claims(func(c jwt.MapClaims) { delete(c, "sub") }), ci.key),
		"hs256 with n": hsToken(t, claims(nil)),
		"not a jwt":    "hello",
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			if r := env.do(t, env.client(), "GET", "/api/v1/me", "", bearer(tok)...); r.status != 401 {
				t.Fatalf("me = %d %s", r.status, r.body)
			}
		})
	}
}

func hsToken(t *testing.T, c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("guess"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
