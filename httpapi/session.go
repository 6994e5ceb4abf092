package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

const accountKey = "account"

// accountOf returns the signed-in account, or nil.
func accountOf(c echo.Context) *tenants.Account {
	acc, _ := c.Get(accountKey).(*tenants.Account)
	return acc
}

// identify attaches the account of the request's session cookie or Clerk
// token, if any, without requiring one.
func (s *Server) identify(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if acc, err := s.authenticate(c); err == nil {
			c.Set(accountKey, &acc)
		}
		return next(c)
	}
}

// requireAPI answers 401 JSON to requests without a valid session or API
// key.
func (s *Server) requireAPI(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		acc, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if err := s.checkReadOnly(c); err != nil {
			return err
		}
		c.Set(accountKey, &acc)
		return next(c)
	}
}

// readOnlyKey marks a request made through an operator's support view.
const readOnlyKey = "read_only"

// checkReadOnly refuses changes through a support view: the operator sees
// the tenant's dashboard but cannot act as the tenant.
func (s *Server) checkReadOnly(c echo.Context) error {
	if ro, _ := c.Get(readOnlyKey).(bool); ro && c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
		return tenants.Errorf(tenants.EFORBIDDEN, "This is a read-only support view.")
	}
	return nil
}

// requirePage sends visitors without a valid session to the log-in page,
// remembering where they were going.
func (s *Server) requirePage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		acc, err := s.authenticate(c)
		if err != nil {
			if tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
				return err
			}
			s.clearSessionCookie(c)
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		if err := s.checkReadOnly(c); err != nil {
			return err
		}
		c.Set(accountKey, &acc)
		return next(c)
	}
}

// authenticate resolves the caller: an operator's support view, our
// session cookie, a tenant API key (Authorization: Bearer ak_…), then a
// Clerk session token (Authorization: Bearer or Clerk's __session cookie).
func (s *Server) authenticate(c echo.Context) (tenants.Account, error) {
	ctx := c.Request().Context()
	if acc, ok, err := s.authenticateSupport(c); ok || err != nil {
		if err == nil {
			c.Set(readOnlyKey, true)
		}
		return acc, err
	}
	if h := c.Request().Header.Get(echo.HeaderAuthorization); strings.HasPrefix(h, "Bearer "+apiKeyPrefix) {
		return s.authenticateKey(c, strings.TrimPrefix(h, "Bearer "))
	}
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		sid, err := s.tokens.parse(ck.Value)
		if err != nil {
			return tenants.Account{}, err
		}
		return s.deps.Accounts.ResumeSession(ctx, sid)
	}
	if s.clerk != nil {
		if tok := clerkToken(c); tok != "" {
			return s.clerk.account(ctx, tok, s.deps.Accounts)
		}
	}
	return tenants.Account{}, tenants.Errorf(tenants.EUNAUTHORIZED, "Please log in.")
}

func clerkToken(c echo.Context) string {
	if h := c.Request().Header.Get(echo.HeaderAuthorization); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if ck, err := c.Cookie("__session"); err == nil {
		return ck.Value
	}
	return ""
}

// startSession creates a server-side session and sets its cookie.
func (s *Server) startSession(c echo.Context, acc tenants.Account) error {
	sess, err := s.deps.Accounts.StartSession(c.Request().Context(), acc)
	if err != nil {
		return err
	}
	token, err := s.tokens.sign(sess)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endSession revokes the current session server-side and clears the cookie.
func (s *Server) endSession(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if sid, err := s.tokens.parse(ck.Value); err == nil {
			if err := s.deps.Accounts.EndSession(c.Request().Context(), sid); err != nil {
				return err
			}
		}
	}
	s.clearSessionCookie(c)
	return nil
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/app"
	}
	return next
}
