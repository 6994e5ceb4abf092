package httpapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// timelineItem is one line of a conversation: a poll we sent, a vote or a
// reply, in time order.
type timelineItem struct {
	At       time.Time
	Kind     string // "poll", "vote", "reply"
	Poll     tenants.Poll
	Message  tenants.Message
	Vote     tenants.Vote
	Reply    tenants.Reply
	Outgoing bool
}

type conversationData struct {
	Contact  tenants.Contact
	Timeline []timelineItem
}

// handleConversationPage shows everything exchanged with one contact.
func (s *Server) handleConversationPage(c echo.Context) error {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	phone := c.Param("phone")
	ct, err := s.deps.Contacts.Get(ctx, tid, phone)
	if err != nil {
		return err
	}
	polls := map[string]tenants.Poll{}
	poll := func(id string) tenants.Poll {
		if p, ok := polls[id]; ok {
			return p
		}
		p, _ := s.deps.Campaigns.Polls.Poll(ctx, tid, id)
		polls[id] = p
		return p
	}
	var items []timelineItem
	msgs, err := s.deps.Campaigns.Polls.ContactMessages(ctx, tid, phone)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		at := m.SentAt
		if at.IsZero() {
			at = m.DueAt
		}
		items = append(items, timelineItem{At: at, Kind: "poll", Poll: poll(m.PollID), Message: m, Outgoing: true})
	}
	votes, err := s.deps.Campaigns.Polls.ContactVotes(ctx, tid, phone)
	if err != nil {
		return err
	}
	for _, v := range votes {
		items = append(items, timelineItem{At: v.At, Kind: "vote", Poll: poll(v.PollID), Vote: v})
	}
	replies, err := s.deps.Campaigns.Polls.ContactReplies(ctx, tid, phone)
	if err != nil {
		return err
	}
	for _, r := range replies {
		items = append(items, timelineItem{At: r.At, Kind: "reply", Reply: r})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].At.Before(items[j].At) })
	return s.render(c, "conversation", pageData{Title: "Conversation", Nav: "contacts", Data: conversationData{Contact: ct, Timeline: items}})
}

// handleSimulate plays a lead's part for a sandbox number: a vote or a
// written reply, through the same intake as a real gateway's webhook.
func (s *Server) handleSimulate(c echo.Context) error {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	d, err := s.campaignData(c, false)
	if err != nil {
		return err
	}
	if !d.Sandbox {
		return tenants.Errorf(tenants.ENOTFOUND, "Not found.")
	}
	phone := c.FormValue("phone")
	m, err := s.deps.Campaigns.Polls.Message(ctx, tid, d.Report.Poll.ID, phone)
	if err != nil {
		return err
	}
	if m.WAID == "" {
		return tenants.Invalid("phone", "This message has not been sent yet.")
	}
	if text := c.FormValue("text"); text != "" {
		_, err = s.deps.Sandbox.SimulateReply(ctx, d.Number.GatewayName, phone, text, "")
	} else {
		_, err = s.deps.Sandbox.SimulateVote(ctx, d.Number.GatewayName, phone, m.WAID, c.Request().Form["option"])
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/polls/"+d.Report.Poll.ID+"#recipients")
}
