package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's second recommended set (19 MiB, 2 passes,
// 1 lane) keeps a log-in under ~40 ms on this machine without letting a
// burst of log-ins eat the server's memory.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Argon2idHasher implements tenants.PasswordHasher with argon2id, encoding
// hashes in the PHC string format so parameters can change later.
type Argon2idHasher struct{}

// Hash returns the PHC string of a new salted hash.
func (Argon2idHasher) Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify checks a password against a PHC string, in constant time.
func (Argon2idHasher) Verify(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("not an argon2id hash")
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("argon2id version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false, fmt.Errorf("argon2id params %q: %w", parts[3], err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// sessionCookie carries the signed session token.
const sessionCookie = "aibud_session"

// sessionClaims is the session token: it names a server-side session (the
// JWT ID) that logout deletes, so a copied cookie stops working.
type sessionClaims struct {
	TenantID string `json:"tid"`
	jwt.RegisteredClaims
}

// tokenIssuer signs and checks session tokens with the server secret.
type tokenIssuer struct {
	secret []byte
	issuer string
	now    func() time.Time
}

func (t *tokenIssuer) sign(s tenants.Session) (string, error) {
	claims := sessionClaims{
		TenantID: s.TenantID,
		RegisteredClaims: jwt.RegisteredClaims{
			ID: s.ID, Subject: s.UserID, Issuer: t.issuer,
			IssuedAt: jwt.NewNumericDate(s.CreatedAt), ExpiresAt: jwt.NewNumericDate(s.ExpiresAt),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
}

// parse returns the session id of a valid token.
func (t *tokenIssuer) parse(token string) (string, error) {
	var claims sessionClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil || claims.ID == "" {
		return "", tenants.Errorf(tenants.EUNAUTHORIZED, "Your session is not valid. Please log in again.")
	}
	return claims.ID, nil
}

// loginThrottle refuses log-ins after too many failures from one IP or for
// one email: 10 in 15 minutes, then 429 until the oldest failure ages out.
type loginThrottle struct {
	now    func() time.Time
	mu     sync.Mutex
	fails  map[string][]time.Time // key → failure times, oldest first
	limit  int
	window time.Duration
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, fails: map[string][]time.Time{}, limit: 10, window: 15 * time.Minute}
}

// check returns a *tooManyError when any key is over the limit.
func (l *loginThrottle) check(keys ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		times := l.prune(k, now)
		if len(times) >= l.limit {
			wait := times[0].Add(l.window).Sub(now)
			secs := int(wait.Seconds()) + 1
			return &tooManyError{
				err:        tenants.Errorf(tenants.ETOOMANY, "Too many failed log-ins. Try again in %d minutes.", (secs+59)/60),
				retryAfter: secs,
			}
		}
	}
	return nil
}

// fail records a failed attempt against every key.
func (l *loginThrottle) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
	if len(l.fails) > 100_000 { // bound memory under a spray of addresses
		for k := range l.fails {
			if len(l.prune(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
	}
}

// succeed forgets the failures of the email (the IP keeps its record).
func (l *loginThrottle) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *loginThrottle) prune(k string, now time.Time) []time.Time {
	times := l.fails[k]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	if i == len(times) {
		delete(l.fails, k)
		return nil
	}
	times = times[i:]
	l.fails[k] = times
	return times
}
