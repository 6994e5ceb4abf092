package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// Outgoing webhooks: the JSON API under /api/v1/webhooks and the page
// /app/settings/webhooks (endpoints, the delivery log, replay, and how to
// verify a signature).

// hookRoutes are the webhook handlers: the server plus the use case.
type hookRoutes struct {
	*Server
	hooks *tenants.Hooks
}

// EnableWebhooks adds the outgoing webhook API and page, served by hooks.
// Call it after New and before serving.
func (s *Server) EnableWebhooks(hooks *tenants.Hooks) {
	registerHookRoutes(s.echo, &hookRoutes{Server: s, hooks: hooks})
}

func registerHookRoutes(e *echo.Echo, h *hookRoutes) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	api := e.Group("/api/v1/webhooks")
	api.POST("", h.handleAPIHookCreate, h.requireAPI)
	api.GET("", h.handleAPIHookList, h.requireAPI)
	api.DELETE("/:id", h.handleAPIHookDelete, h.requireAPI)
	api.GET("/:id/deliveries", h.handleAPIHookDeliveries, h.requireAPI)
	api.POST("/deliveries/:id/replay", h.handleAPIHookReplay, h.requireAPI)

	page := e.Group("/app/settings/webhooks")
	page.GET("", h.handleHooksPage, h.requirePage)
	page.POST("", h.handleHookCreateForm, h.requirePage)
	page.GET("/log", h.handleHookLogFragment, h.requirePage)
	page.POST("/:id/delete", h.handleHookDeleteForm, h.requirePage)
	page.POST("/:id/pause", h.handleHookPauseForm, h.requirePage)
	page.POST("/:id/resume", h.handleHookPauseForm, h.requirePage)
	page.POST("/deliveries/:id/replay", h.handleHookReplayForm, h.requirePage)
}

// endpointJSON is an endpoint as the API shows it; Secret only in the
// answer to its creation.
type endpointJSON struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Events     []string  `json:"events"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
	SecretHint string    `json:"secret_hint"`
	Secret     string    `json:"secret,omitempty"`
}

func toEndpointJSON(ep tenants.Endpoint) endpointJSON {
	return endpointJSON{ID: ep.ID, URL: ep.URL, Events: ep.Events, Disabled: ep.Disabled, CreatedAt: ep.CreatedAt, SecretHint: ep.SecretHint()}
}

// deliveryJSON is one entry of the delivery log.
type deliveryJSON struct {
	ID            string                 `json:"id"`
	EndpointID    string                 `json:"endpoint_id"`
	Event         string                 `json:"event"`
	EventID       string                 `json:"event_id"`
	Status        tenants.DeliveryStatus `json:"status"`
	Attempts      int                    `json:"attempts"`
	LastCode      int                    `json:"last_code"`
	LastError     string                 `json:"last_error,omitempty"`
	CreatedAt     time.Time              `json:"created_at"`
	LastAttemptAt *time.Time             `json:"last_attempt_at,omitempty"`
	NextAttemptAt *time.Time             `json:"next_attempt_at,omitempty"`
	ReplayOf      string                 `json:"replay_of,omitempty"`
	Payload       json.RawMessage        `json:"payload"`
}

func toDeliveryJSON(d tenants.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EndpointID: d.EndpointID, Event: d.Event, EventID: d.EventID, Status: d.Status,
		Attempts: d.Attempts, LastCode: d.LastCode, LastError: d.LastError, CreatedAt: d.CreatedAt, ReplayOf: d.ReplayOf, Payload: d.Body}
	if !d.LastAttemptAt.IsZero() {
		out.LastAttemptAt = &d.LastAttemptAt
	}
	if !d.NextAttemptAt.IsZero() {
		out.NextAttemptAt = &d.NextAttemptAt
	}
	return out
}

type hookCreateRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

func (h *hookRoutes) handleAPIHookCreate(c echo.Context) error {
	var req hookCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ep, err := h.hooks.Create(c.Request().Context(), accountOf(c).Tenant.ID, req.URL, req.Events)
	if err != nil {
		return err
	}
	out := toEndpointJSON(ep)
	out.Secret = ep.Secret
	return c.JSON(http.StatusCreated, out)
}

func (h *hookRoutes) handleAPIHookList(c echo.Context) error {
	eps, err := h.hooks.List(c.Request().Context(), accountOf(c).Tenant.ID)
	if err != nil {
		return err
	}
	out := make([]endpointJSON, 0, len(eps))
	for _, ep := range eps {
		out = append(out, toEndpointJSON(ep))
	}
	return c.JSON(http.StatusOK, map[string]any{"webhooks": out})
}

func (h *hookRoutes) handleAPIHookDelete(c echo.Context) error {
	if err := h.hooks.Delete(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *hookRoutes) handleAPIHookDeliveries(c echo.Context) error {
	ds, err := h.hooks.Deliveries(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), tenants.DefaultHookHistory)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, toDeliveryJSON(d))
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": out})
}

// handleAPIHookReplay queues a finished delivery again: 202 with the new
// delivery.
func (h *hookRoutes) handleAPIHookReplay(c echo.Context) error {
	d, err := h.hooks.Replay(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toDeliveryJSON(d))
}

// hooksPage is what webhooks.html receives in pageData.Data.
type hooksPage struct {
	Endpoints  []tenants.Endpoint
	Deliveries []tenants.Delivery
	URLs       map[string]string // endpoint id → URL, for the log
	Events     []string
	Max        int
	Created    *tenants.Endpoint // just created: its secret is shown this once
	Notice     string
	FormURL    string
	FormEvents map[string]bool
}

func (h *hookRoutes) pageData(c echo.Context) (hooksPage, error) {
	ctx, tid := c.Request().Context(), accountOf(c).Tenant.ID
	eps, err := h.hooks.List(ctx, tid)
	if err != nil {
		return hooksPage{}, err
	}
	ds, err := h.hooks.Deliveries(ctx, tid, "", tenants.DefaultHookHistory)
	if err != nil {
		return hooksPage{}, err
	}
	d := hooksPage{Endpoints: eps, Deliveries: ds, URLs: map[string]string{}, Events: tenants.HookEvents, Max: tenants.MaxHookEndpoints,
		FormEvents: map[string]bool{}}
	for _, ep := range eps {
		d.URLs[ep.ID] = ep.URL
	}
	for _, ev := range tenants.HookEvents {
		d.FormEvents[ev] = true
	}
	return d, nil
}

func (h *hookRoutes) renderHooks(c echo.Context, status int, d hooksPage, err error) error {
	pd := pageData{Title: "Webhooks", Nav: "settings", Data: d}
	if err != nil {
		detail, st := h.describe(err, c)
		if st >= 500 {
			return err
		}
		status, pd.Error, pd.Field = st, detail.Message, detail.Field
	}
	return h.renderStatus(c, status, "webhooks", pd)
}

func (h *hookRoutes) handleHooksPage(c echo.Context) error {
	d, err := h.pageData(c)
	if err != nil {
		return err
	}
	d.Notice = map[string]string{"replayed": "Queued again: the log shows how it goes.", "deleted": "Endpoint deleted."}[c.QueryParam("done")]
	return h.renderHooks(c, http.StatusOK, d, nil)
}

// handleHookLogFragment re-renders the delivery log; the page polls it.
func (h *hookRoutes) handleHookLogFragment(c echo.Context) error {
	d, err := h.pageData(c)
	if err != nil {
		return err
	}
	return h.renderFragment(c, "webhooks", "hook-log", pageData{Data: d})
}

func (h *hookRoutes) handleHookCreateForm(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return tenants.Invalid("body", "The form could not be read.")
	}
	ep, cerr := h.hooks.Create(c.Request().Context(), accountOf(c).Tenant.ID, form.Get("url"), form["events"])
	d, err := h.pageData(c)
	if err != nil {
		return err
	}
	if cerr != nil {
		d.FormURL, d.FormEvents = form.Get("url"), map[string]bool{}
		for _, ev := range form["events"] {
			d.FormEvents[ev] = true
		}
		return h.renderHooks(c, http.StatusOK, d, cerr)
	}
	d.Created = &ep
	return h.renderHooks(c, http.StatusCreated, d, nil)
}

func (h *hookRoutes) handleHookDeleteForm(c echo.Context) error {
	if err := h.hooks.Delete(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/webhooks?done=deleted")
}

// handleHookPauseForm serves both …/pause and …/resume.
func (h *hookRoutes) handleHookPauseForm(c echo.Context) error {
	pause := c.Path() == "/app/settings/webhooks/:id/pause"
	if _, err := h.hooks.SetDisabled(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), pause); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/webhooks")
}

func (h *hookRoutes) handleHookReplayForm(c echo.Context) error {
	if _, err := h.hooks.Replay(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		d, derr := h.pageData(c)
		if derr != nil {
			return derr
		}
		return h.renderHooks(c, http.StatusOK, d, err)
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/webhooks?done=replayed")
}
