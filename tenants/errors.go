// Package tenants is Aibud's domain: tenants, users, plans, credits and the
// ports (interfaces) the rest of the program implements. It imports only the
// standard library so that the business rules never depend on a framework.
package tenants

import (
	"errors"
	"fmt"
)

// Error codes. Every error a user can see carries one of these; transports map
// them to their own status codes in one place (httpapi's error handler).
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EFORBIDDEN    = "forbidden"
	EUNAUTHORIZED = "unauthorized"
	EPAYMENT      = "payment_required"
	EUNAVAILABLE  = "unavailable"
	ETOOMANY      = "too_many_requests"
)

// Error is a domain error with a code and a message safe to show to users.
// Field names the input that was wrong, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error that names the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ic *InsufficientCreditsError
	if errors.As(err, &ic) {
		return EPAYMENT
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors are
// never described to users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	var ic *InsufficientCreditsError
	if errors.As(err, &ic) {
		return ic.Error()
	}
	return "Internal error."
}

// ErrorField returns the input field named by err, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrInsufficientCredits is the sentinel for "the balance cannot cover this";
// the concrete error is an *InsufficientCreditsError with the figures.
var ErrInsufficientCredits = errors.New("insufficient credits")

// InsufficientCreditsError reports a refused reservation: what the tenant has
// and what the operation needed.
type InsufficientCreditsError struct {
	Balance int64
	Need    int64
}

func (e *InsufficientCreditsError) Error() string {
	return fmt.Sprintf("Not enough credits: needs %d, you have %d.", e.Need, e.Balance)
}

// Is makes errors.Is(err, ErrInsufficientCredits) true.
func (e *InsufficientCreditsError) Is(target error) bool { return target == ErrInsufficientCredits }
