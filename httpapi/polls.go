package httpapi

import (
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// Poll campaigns: the JSON API. Pages are in campaigns.go.

func (s *Server) registerPollRoutes(e *echo.Echo) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	g := e.Group("/api/v1")
	g.POST("/polls", s.handleAPIPollCreate, s.requireAPI)
	g.POST("/polls/preview", s.handleAPIPollPreview, s.requireAPI)
	g.GET("/polls", s.handleAPIPollList, s.requireAPI)
	g.GET("/polls/:id", s.handleAPIPollGet, s.requireAPI)
	g.POST("/polls/:id/send", s.handleAPIPollSend, s.requireAPI)
	g.POST("/polls/:id/cancel", s.handleAPIPollCancel, s.requireAPI)
	g.GET("/polls/:id/recipients", s.handleAPIPollRecipients, s.requireAPI)
	g.GET("/replies", s.handleAPIReplies, s.requireAPI)
}

type pollRequest struct {
	Question   string           `json:"question"`
	Options    []string         `json:"options"`
	Multiple   bool             `json:"multiple"`
	InstanceID string           `json:"instance_id"`
	Audience   tenants.Audience `json:"audience"`
}

func (r pollRequest) input() tenants.PollInput {
	return tenants.PollInput{Question: r.Question, Options: r.Options, Multiple: r.Multiple, InstanceID: r.InstanceID, Audience: r.Audience}
}

type pollCreated struct {
	ID         string         `json:"id"`
	Recipients int            `json:"recipients"`
	Cost       int64          `json:"cost"`
	Excluded   map[string]int `json:"excluded"`
}

func (s *Server) handleAPIPollCreate(c echo.Context) error {
	var req pollRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, pv, err := s.deps.Campaigns.Create(c.Request().Context(), accountOf(c).Tenant, req.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, pollCreated{ID: p.ID, Recipients: pv.Recipients, Cost: pv.Cost, Excluded: pv.Excluded})
}

func (s *Server) handleAPIPollPreview(c echo.Context) error {
	var req pollRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	pv, err := s.deps.Campaigns.Preview(c.Request().Context(), accountOf(c).Tenant, req.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pv)
}

type pollJSON struct {
	ID              string                 `json:"id"`
	Status          tenants.PollStatus     `json:"status"`
	Question        string                 `json:"question"`
	Options         []string               `json:"options"`
	Multiple        bool                   `json:"multiple"`
	InstanceID      string                 `json:"instance_id"`
	Audience        tenants.Audience       `json:"audience"`
	Recipients      int                    `json:"recipients"`
	CreditsReserved int64                  `json:"credits_reserved"`
	ScheduledAt     *time.Time             `json:"scheduled_at,omitempty"`
	CreatedAt       time.Time              `json:"created_at"`
	Counts          *tenants.PollCounts    `json:"counts,omitempty"`
	Results         []tenants.OptionResult `json:"results,omitempty"`
	Unreadable      int                    `json:"unreadable_votes"`
	Withdrawn       int                    `json:"withdrawn_votes"`
	Paused          string                 `json:"paused,omitempty"`
}

func toPollJSON(p tenants.Poll) pollJSON {
	out := pollJSON{ID: p.ID, Status: p.Status, Question: p.Question, Options: p.Options, Multiple: p.Multiple,
		InstanceID: p.InstanceID, Audience: p.Audience, Recipients: p.Recipients, CreditsReserved: p.CreditsReserved, CreatedAt: p.CreatedAt}
	if !p.ScheduledAt.IsZero() {
		out.ScheduledAt = &p.ScheduledAt
	}
	return out
}

func (s *Server) handleAPIPollList(c echo.Context) error {
	polls, err := s.deps.Campaigns.Polls.Polls(c.Request().Context(), accountOf(c).Tenant.ID)
	if err != nil {
		return err
	}
	out := make([]pollJSON, 0, len(polls))
	for _, p := range polls {
		out = append(out, toPollJSON(p))
	}
	return c.JSON(http.StatusOK, map[string]any{"polls": out})
}

func (s *Server) handleAPIPollGet(c echo.Context) error {
	r, err := s.deps.Campaigns.Report(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	out := toPollJSON(r.Poll)
	out.Counts, out.Results, out.Unreadable, out.Withdrawn, out.Paused = &r.Counts, r.Results, r.Unreadable, r.Withdrawn, r.Paused
	return c.JSON(http.StatusOK, out)
}

type sendRequest struct {
	At *time.Time `json:"at"`
}

func (s *Server) handleAPIPollSend(c echo.Context) error {
	var req sendRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	var at time.Time
	if req.At != nil {
		at = *req.At
	}
	res, err := s.deps.Campaigns.Send(c.Request().Context(), accountOf(c).Tenant, c.Param("id"), at)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, res)
}

func (s *Server) handleAPIPollCancel(c echo.Context) error {
	n, err := s.deps.Campaigns.Cancel(c.Request().Context(), accountOf(c).Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"refunded": n})
}

type recipientJSON struct {
	Phone  string                `json:"phone"`
	Status tenants.MessageStatus `json:"status"`
	Error  string                `json:"error,omitempty"`
	DueAt  time.Time             `json:"due_at"`
	SentAt *time.Time            `json:"sent_at,omitempty"`
	Vote   *tenants.Vote         `json:"vote"`
	Reply  *tenants.Reply        `json:"reply"`
}

func toRecipientJSON(r tenants.Recipient) recipientJSON {
	out := recipientJSON{Phone: r.Message.Phone, Status: r.Message.Status, Error: r.Message.Error, DueAt: r.Message.DueAt, Vote: r.Vote, Reply: r.Reply}
	if !r.Message.SentAt.IsZero() {
		out.SentAt = &r.Message.SentAt
	}
	return out
}

func (s *Server) handleAPIPollRecipients(c echo.Context) error {
	rs, err := s.deps.Campaigns.Recipients(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]recipientJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, toRecipientJSON(r))
	}
	return c.JSON(http.StatusOK, map[string]any{"recipients": out})
}

func (s *Server) handleAPIReplies(c echo.Context) error {
	tid := accountOf(c).Tenant.ID
	pollID := c.QueryParam("poll_id")
	if pollID != "" {
		if _, err := s.deps.Campaigns.Polls.Poll(c.Request().Context(), tid, pollID); err != nil {
			return err
		}
	}
	replies, err := s.deps.Campaigns.Polls.Replies(c.Request().Context(), tid, pollID, 500)
	if err != nil {
		return err
	}
	if replies == nil {
		replies = []tenants.Reply{}
	}
	return c.JSON(http.StatusOK, map[string]any{"replies": replies})
}
