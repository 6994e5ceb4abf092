package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/aibud/aibud/tenants"
	"github.com/golang-jwt/jwt/v5"
)

// clerkVerifier accepts Clerk session tokens: RS256 JWTs signed by a key
// from the issuer's JWKS, with issuer, expiry and authorised party checked.
// A Clerk user seen for the first time gets a Starter tenant.
type clerkVerifier struct {
	issuer  string
	parties []string
	keys    keyfunc.Keyfunc
	cfg     Config
}

// newClerkVerifier fetches the JWKS; keyfunc refreshes it in a goroutine
// that ends with ctx.
func newClerkVerifier(ctx context.Context, cfg Config) (*clerkVerifier, error) {
	jwksURL := cfg.ClerkJWKSURL
	if jwksURL == "" {
		jwksURL = strings.TrimSuffix(cfg.ClerkIssuer, "/") + "/.well-known/jwks.json"
	}
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				cfg.Logger.Warn("clerk jwks refresh failed", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("httpapi: clerk jwks %s: %w", jwksURL, err)
	}
	parties := cfg.ClerkAuthorizedParties
	if len(parties) == 0 {
		parties = []string{strings.TrimSuffix(cfg.PublicURL, "/")}
	}
	return &clerkVerifier{issuer: cfg.ClerkIssuer, parties: parties, keys: keys, cfg: cfg}, nil
}

type clerkClaims struct {
	AuthorizedParty string `json:"azp"`
	Email           string `json:"email"`
	jwt.RegisteredClaims
}

// account verifies the token and returns (creating if needed) the account
// of its subject.
func (v *clerkVerifier) account(ctx context.Context, token string, accounts *tenants.Accounts) (tenants.Account, error) {
	var claims clerkClaims
	_, err := jwt.ParseWithClaims(token, &claims, v.keys.KeyfuncCtx(ctx),
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(v.issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.cfg.Now), jwt.WithLeeway(0))
	if err != nil {
		return tenants.Account{}, tenants.Errorf(tenants.EUNAUTHORIZED, "Your sign-in token is not valid.")
	}
	if claims.Subject == "" || (claims.AuthorizedParty != "" && !slices.Contains(v.parties, claims.AuthorizedParty)) {
		return tenants.Account{}, tenants.Errorf(tenants.EUNAUTHORIZED, "Your sign-in token is not for this site.")
	}
	return accounts.SignupExternal(ctx, "clerk:"+claims.Subject, claims.Email)
}
