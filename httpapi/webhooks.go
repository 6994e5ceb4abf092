package httpapi

import (
	"io"
	"net/http"

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
	if _, err := s.deps.Numbers.Shards.Route(ctx, token); err != nil {
		return err // unknown token: 404, before reading the body
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	events, err := s.deps.ParseWebhook(body, c.Param("event"))
	if err != nil {
		s.log.Warn("malformed gateway webhook", "err", err, "bytes", len(body), "event", c.Param("event"))
		return tenants.Invalid("body", "Webhook payload is not a gateway event: %v", err)
	}
	n, err := s.deps.Numbers.Intake(ctx, token, events)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"received": len(events), "new": n})
}
