package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestClientGoneIsNotAnInternalError: a request whose client hung up is
// answered 499 and logged at debug level, not as an internal error.
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	env := newTestEnv(t)
	var logs bytes.Buffer
	env.api.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/evolution/x", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	c := env.api.echo.NewContext(req, rec)
	env.api.handleError(fmt.Errorf("store.ApplyEvents: %w", context.Canceled), c)
	if rec.Code != statusClientClosed {
		t.Errorf("status %d, want %d", rec.Code, statusClientClosed)
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Errorf("logged as an internal error:\n%s", logs.String())
	}

	// The same error while the client still waits is ours: 500, logged.
	rec = httptest.NewRecorder()
	c = env.api.echo.NewContext(httptest.NewRequest(http.MethodPost, "/webhooks/evolution/x", nil), rec)
	env.api.handleError(fmt.Errorf("store.ApplyEvents: %w", context.Canceled), c)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "internal error") {
		t.Errorf("status %d, log %q: want 500 and an internal error logged", rec.Code, logs.String())
	}
}

func TestWarnSamplerHoldsBackBursts(t *testing.T) {
	var w warnSampler
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if ok, held := w.allow(now); !ok || held != 0 {
		t.Fatalf("first warning: %v, %d", ok, held)
	}
	for i := range 99 {
		if ok, _ := w.allow(now.Add(time.Duration(i) * time.Millisecond)); ok {
			t.Fatalf("warning %d let through within the second", i+2)
		}
	}
	if ok, held := w.allow(now.Add(time.Second)); !ok || held != 99 {
		t.Errorf("after a second: %v, held back %d, want true, 99", ok, held)
	}
}
