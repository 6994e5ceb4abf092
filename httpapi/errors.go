package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Balance *int64 `json:"balance,omitempty"` // for payment_required
	Need    *int64 `json:"need,omitempty"`
}

// statusOf maps domain error codes to HTTP statuses: the one place it happens.
var statusOf = map[string]int{
	tenants.EINVALID:      http.StatusBadRequest,
	tenants.EUNAUTHORIZED: http.StatusUnauthorized,
	tenants.EFORBIDDEN:    http.StatusForbidden,
	tenants.ENOTFOUND:     http.StatusNotFound,
	tenants.ECONFLICT:     http.StatusConflict,
	tenants.EPAYMENT:      http.StatusPaymentRequired,
	tenants.ETOOMANY:      http.StatusTooManyRequests,
	tenants.EUNAVAILABLE:  http.StatusServiceUnavailable,
	tenants.EINTERNAL:     http.StatusInternalServerError,
}

// codeOf maps Echo's own HTTP errors (404 route, 405, 413 body limit…) back
// to codes so that they answer in the same shape.
func codeOf(status int) string {
	for code, st := range statusOf {
		if st == status {
			return code
		}
	}
	if status == http.StatusRequestEntityTooLarge {
		return "too_large"
	}
	if status == http.StatusMethodNotAllowed {
		return "method_not_allowed"
	}
	return tenants.EINTERNAL
}

// handleError is Echo's HTTPErrorHandler: domain errors keep their message,
// internal ones are logged with detail and shown as "Internal error".
// JSON for the API and webhooks, an HTML page for browsers.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	detail, status := s.describe(err, c)
	if retry, ok := retryAfterOf(err); ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
	}
	var werr error
	if wantsJSON(c) {
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(status)
		} else {
			werr = c.JSON(status, errorBody{Error: detail})
		}
	} else {
		werr = s.renderStatus(c, status, "error", pageData{Title: http.StatusText(status), Error: detail.Message, Status: status})
	}
	if werr != nil {
		s.log.Error("writing error response", "err", werr)
	}
}

// statusClientClosed is the status logged for requests whose client left
// before the answer (nginx's 499).
const statusClientClosed = 499

func (s *Server) describe(err error, c echo.Context) (errorDetail, int) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		switch he.Code {
		case http.StatusRequestEntityTooLarge:
			msg = "Request body is too large."
		case http.StatusNotFound:
			msg = "Not found."
		default:
			if m, ok := he.Message.(string); ok && he.Code < 500 {
				msg = m
			}
		}
		if he.Code >= 500 {
			s.log.Error("http error", "path", c.Path(), "err", err)
		}
		return errorDetail{Code: codeOf(he.Code), Message: msg}, he.Code
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client hung up (a gateway timing out, a closed tab): nobody
		// reads this answer and nothing is wrong on our side.
		s.log.Debug("client went away", "method", c.Request().Method, "path", c.Request().URL.Path)
		return errorDetail{Code: "client_closed", Message: "The request was cancelled."}, statusClientClosed
	}
	code := tenants.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("internal error", "method", c.Request().Method, "path", c.Request().URL.Path,
			"id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}
	d := errorDetail{Code: code, Message: tenants.ErrorMessage(err), Field: tenants.ErrorField(err)}
	var ic *tenants.InsufficientCreditsError
	if errors.As(err, &ic) {
		d.Balance, d.Need = &ic.Balance, &ic.Need
	}
	return d, status
}

// wantsJSON decides the error format: API and webhook paths always get JSON;
// elsewhere the Accept header decides.
func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/") || p == "/healthz" || p == "/readyz" {
		return true
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// tooManyError is a throttled request; Retry-After says when to try again.
type tooManyError struct {
	err        *tenants.Error
	retryAfter int // seconds
}

func (e *tooManyError) Error() string { return e.err.Error() }
func (e *tooManyError) Unwrap() error { return e.err }

func retryAfterOf(err error) (int, bool) {
	var t *tooManyError
	if errors.As(err, &t) {
		return t.retryAfter, true
	}
	return 0, false
}

// badJSON is the answer to a body that is not the JSON object expected.
func badJSON(err error) error {
	return tenants.Invalid("body", "Request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}
