package httpapi

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// webhookBodyLimit caps a gateway event; real ones are a few KiB, media
// arrives without base64 bodies (we never ask for them).
const webhookBodyLimit = "1M"

func (s *Server) registerWebhookRoutes(e *echo.Echo) {
	limit := middleware.BodyLimit(webhookBodyLimit)
	e.POST("/webhooks/evolution/:token", s.handleEvolutionWebhook, limit)
	e.POST("/webhooks/evolution/:token/:event", s.handleEvolutionWebhook, limit)
}

// handleEvolutionWebhook stores a gateway event for the instance its token
// names. It answers 2xx only once the event is durably written, so the
// gateway retries anything we did not keep; redeliveries are absorbed by
// the dedupe markers.
func (s *Server) handleEvolutionWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	route, err := s.deps.Numbers.Shards.Route(ctx, token)
	if err != nil {
		return err // unknown token: 404, before reading the body
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	events, err := s.deps.ParseWebhook(body, c.Param("event"))
	if err != nil {
		if ok, held := s.malformed.allow(s.cfg.Now()); ok {
			s.log.Warn("malformed gateway webhook", "err", err, "bytes", len(body), "event", c.Param("event"), "held_back", held)
		}
		return tenants.Invalid("body", "Webhook payload is not a gateway event: %v", err)
	}
	n, err := s.deps.Numbers.IntakeRoute(ctx, route, events)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"received": len(events), "new": n})
}

// warnSampler lets a warning through at most once a second and counts the
// ones it held back, so whoever holds a webhook token cannot flood the log
// with bad payloads. Each is still answered 400 and counted in the HTTP
// metrics.
type warnSampler struct {
	mu   sync.Mutex
	last time.Time
	held int
}

func (w *warnSampler) allow(now time.Time) (ok bool, held int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.last) < time.Second {
		w.held++
		return false, 0
	}
	held, w.held, w.last = w.held, 0, now
	return true, held
}
