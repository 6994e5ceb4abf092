package evolutionsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Errors returned by the control methods (Scan, Drop, Reply, Vote). The
// control API maps them to 404, 409 and 400.
var (
	ErrUnknownInstance = errors.New("evolutionsim: unknown instance")
	ErrWrongState      = errors.New("evolutionsim: instance is not in the required state")
	ErrUnknownPoll     = errors.New("evolutionsim: unknown poll")
	ErrInvalid         = errors.New("evolutionsim: invalid request")
)

// errorEnvelope is the body src/main.ts builds for every thrown HTTP
// exception. Evolution's exception classes take rest arguments, so message
// is an array whenever the code passed one (NotFound, BadRequest, Forbidden)
// and the plain string "Unauthorized" for the apikey guard.
type errorEnvelope struct {
	Status   int    `json:"status"`
	Error    string `json:"error"`
	Response struct {
		Message any `json:"message"`
	} `json:"response"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encoding failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing useful to do
}

// writeEnvelope answers with Evolution's error envelope.
func writeEnvelope(w http.ResponseWriter, status int, message any) {
	var env errorEnvelope
	env.Status = status
	env.Error = statusName(status)
	env.Response.Message = message
	writeJSON(w, status, env)
}

// writeUnauthorized is the apikey guard's answer, message as a plain string.
func writeUnauthorized(w http.ResponseWriter) {
	writeEnvelope(w, http.StatusUnauthorized, "Unauthorized")
}

// statusName is the "error" field: the Nest-style names Evolution uses.
func statusName(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Bad Request"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "Not Found"
	default:
		return "Internal Server Error"
	}
}

// decodeJSON reads a JSON object body; an empty body counts as {} because
// Express hands the route an empty object in that case.
func decodeJSON(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// schemaFields validates a request body the way Evolution's jsonschema
// validator reports it: one message per failed rule, "instance." stripped
// from the stack, and the property description for isNotEmpty rules.
type schemaFields struct {
	raw  map[string]json.RawMessage
	msgs []string
}

func newSchemaFields(r *http.Request) (*schemaFields, error) {
	f := &schemaFields{raw: map[string]json.RawMessage{}}
	if err := decodeJSON(r, &f.raw); err != nil {
		return nil, err
	}
	if f.raw == nil { // the body was JSON null
		f.raw = map[string]json.RawMessage{}
	}
	return f, nil
}

func (f *schemaFields) fail(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *schemaFields) has(name string) bool {
	_, ok := f.raw[name]
	return ok
}

// requiredString checks a required, non-blank string property.
func (f *schemaFields) requiredString(name string) string {
	raw, ok := f.raw[name]
	if !ok {
		f.fail(`instance requires property %q`, name)
		return ""
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		f.fail("%s is not of a type(s) string", name)
		return ""
	}
	if strings.TrimSpace(v) == "" {
		f.fail(`The %q cannot be empty`, name)
	}
	return v
}

// optionalInt reads an integer property, reporting a type error if it is
// present but not an integer.
func (f *schemaFields) optionalInt(name string) (int, bool) {
	raw, ok := f.raw[name]
	if !ok || string(raw) == "null" {
		return 0, false
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || v != float64(int(v)) {
		f.fail("%s is not of a type(s) integer", name)
		return 0, false
	}
	return int(v), true
}

// decode unmarshals an optional property into v, reporting a type error.
func (f *schemaFields) decode(name, typeName string, v any) bool {
	raw, ok := f.raw[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		f.fail("%s is not of a type(s) %s", name, typeName)
		return false
	}
	return true
}

// writeControlError maps a control error to an HTTP status for /_sim/.
func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownInstance), errors.Is(err, ErrUnknownPoll):
		status = http.StatusNotFound
	case errors.Is(err, ErrWrongState):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
