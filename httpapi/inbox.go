package httpapi

import (
	"net/http"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The inbox: every reply newest first, with what the classifier made of
// it, filters, and a way for a person to correct the label.

func (s *Server) registerInboxRoutes(e *echo.Echo) {
	e.POST("/api/v1/replies/:id/label", s.handleAPIReplyLabel, s.requireAPI)
	e.GET("/app/inbox", s.handleInboxPage, s.requirePage)
	e.POST("/app/inbox/:id/label", s.handleInboxLabel, s.requirePage)
}

// inboxFilter is what the inbox is narrowed to.
type inboxFilter struct {
	Intent string
	PollID string
	Lead   string
}

func readInboxFilter(c echo.Context) (inboxFilter, error) {
	f := inboxFilter{Intent: c.QueryParam("intent"), PollID: c.QueryParam("poll_id"), Lead: c.QueryParam("lead")}
	if f.Intent != "" && !knownIntent(tenants.Intent(f.Intent)) {
		return f, tenants.Invalid("intent", "Unknown intent %q.", f.Intent)
	}
	return f, nil
}

func knownIntent(i tenants.Intent) bool {
	for _, k := range tenants.Intents {
		if k == i {
			return true
		}
	}
	return false
}

// inboxRow is a reply with its contact and poll.
type inboxRow struct {
	Reply    tenants.Reply
	Contact  tenants.Contact
	Question string
}

type inboxData struct {
	Rows     []inboxRow
	Filter   inboxFilter
	Polls    []tenants.Poll
	Intents  []tenants.Intent
	Leads    []tenants.LeadStatus
	Labelled int // replies a person labelled
	Agreed   int // …where the classifier had said the same
	Pending  int // replies not classified yet
}

// inboxLimit is how many replies the page shows.
const inboxLimit = 200

func (s *Server) inboxData(c echo.Context) (inboxData, error) {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	f, err := readInboxFilter(c)
	if err != nil {
		return inboxData{}, err
	}
	replies, err := s.deps.Campaigns.Polls.Replies(ctx, tid, f.PollID, 0)
	if err != nil {
		return inboxData{}, err
	}
	polls, err := s.deps.Campaigns.Polls.Polls(ctx, tid)
	if err != nil {
		return inboxData{}, err
	}
	questions := map[string]string{}
	for _, p := range polls {
		questions[p.ID] = p.Question
	}
	d := inboxData{Filter: f, Polls: polls, Intents: tenants.Intents,
		Leads: []tenants.LeadStatus{tenants.LeadNew, tenants.LeadEngaged, tenants.LeadHot, tenants.LeadCold, tenants.LeadOptedOut}}
	contacts := map[string]tenants.Contact{}
	for _, r := range replies {
		if r.HumanIntent != "" && r.Classification != nil {
			d.Labelled++
			if r.HumanIntent == r.Classification.Intent {
				d.Agreed++
			}
		}
		if r.Classification == nil {
			d.Pending++
		}
		if f.Intent != "" && string(r.Intent()) != f.Intent {
			continue
		}
		ct, ok := contacts[r.Phone]
		if !ok {
			ct, _ = s.deps.Contacts.Get(ctx, tid, r.Phone)
			contacts[r.Phone] = ct
		}
		if f.Lead != "" && string(ct.LeadStatus) != f.Lead {
			continue
		}
		if len(d.Rows) < inboxLimit {
			d.Rows = append(d.Rows, inboxRow{Reply: r, Contact: ct, Question: questions[r.PollID]})
		}
	}
	return d, nil
}

func (s *Server) handleInboxPage(c echo.Context) error {
	d, err := s.inboxData(c)
	if err != nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return s.renderFragment(c, "inbox", "inbox-list", pageData{Data: d})
	}
	return s.render(c, "inbox", pageData{Title: "Inbox", Nav: "inbox", Data: d})
}

func (s *Server) handleInboxLabel(c echo.Context) error {
	tid := accountOf(c).Tenant.ID
	r, err := s.deps.Inbox.Correct(c.Request().Context(), tid, c.Param("id"), tenants.Intent(c.FormValue("intent")))
	if err != nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		ct, _ := s.deps.Contacts.Get(c.Request().Context(), tid, r.Phone)
		return s.renderFragment(c, "inbox", "inbox-row", inboxRow{Reply: r, Contact: ct})
	}
	return c.Redirect(http.StatusSeeOther, "/app/inbox")
}

type labelRequest struct {
	Intent tenants.Intent `json:"intent"`
}

func (s *Server) handleAPIReplyLabel(c echo.Context) error {
	var req labelRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.deps.Inbox.Correct(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), req.Intent)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
