package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The gateway shards page: every Evolution API server with its capacity,
// the numbers placed on it, utilisation and a live health call; add and
// drain; a warning when every shard is above 80%.

func (s *Server) registerAdminShardPages(g *echo.Group) {
	g.GET("/shards", s.handleAdminShardsPage)
	g.POST("/shards", s.handleAdminShardAddForm)
	g.POST("/shards/:id/drain", s.handleAdminShardDrainForm)
	g.POST("/shards/:id/undrain", s.handleAdminShardUndrainForm)
}

type adminShardsData struct {
	Admin    tenants.User
	Section  string
	Report   tenants.ShardsReport
	FullPct  int
	Notice   string
	Capacity int // the add form's default
}

// shardsWarning is the banner (and JSON warning) when no shard has room.
const shardsWarning = "Every gateway shard is above 80% of its capacity (or draining): add a gateway server before new numbers overload one."

var shardNotices = map[string]string{
	"added":     "The gateway server is added; new numbers can be placed on it.",
	"drained":   "The shard is draining: new numbers go elsewhere, its numbers keep working.",
	"undrained": "The shard takes new numbers again.",
}

func (s *Server) handleAdminShardsPage(c echo.Context) error {
	return s.renderShardsPage(c, http.StatusOK, pageData{})
}

func (s *Server) renderShardsPage(c echo.Context, status int, pd pageData) error {
	r, err := s.deps.Admin.ShardsReport(c.Request().Context())
	if err != nil {
		return err
	}
	pd.Title, pd.Nav = "Gateway shards", "admin"
	pd.Data = adminShardsData{Admin: adminOf(c), Section: "shards", Report: r, FullPct: int(100 * tenants.ShardFullRatio),
		Notice: shardNotices[c.QueryParam("done")], Capacity: tenants.DefaultShardCapacity}
	return s.renderStatus(c, status, "admin_shards", pd)
}

// shardInput is the add form or JSON body.
type shardInput struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	APIKey   string `json:"api_key"`
	Capacity int    `json:"capacity"`
}

func (in shardInput) shard() tenants.Shard {
	return tenants.Shard{ID: in.ID, Kind: tenants.ShardEvolution, URL: in.URL, APIKey: in.APIKey, Capacity: in.Capacity}
}

func (s *Server) handleAdminShardAddForm(c echo.Context) error {
	in := shardInput{ID: c.FormValue("id"), URL: c.FormValue("url"), APIKey: c.FormValue("api_key")}
	var err error
	if raw := strings.TrimSpace(c.FormValue("capacity")); raw != "" {
		if in.Capacity, err = strconv.Atoi(raw); err != nil {
			err = tenants.Invalid("capacity", "Capacity must be a whole number.")
		}
	}
	if err == nil {
		_, err = s.deps.Admin.AddShard(c.Request().Context(), adminOf(c), in.shard())
	}
	if err != nil {
		detail, status := s.describe(err, c)
		if status >= 500 {
			return err
		}
		form := map[string]string{"id": in.ID, "url": in.URL, "capacity": c.FormValue("capacity")}
		return s.renderShardsPage(c, status, pageData{Error: detail.Message, Field: detail.Field, Form: form})
	}
	return c.Redirect(http.StatusSeeOther, "/admin/shards?done=added")
}

func (s *Server) handleAdminShardDrainForm(c echo.Context) error   { return s.shardDrainForm(c, true) }
func (s *Server) handleAdminShardUndrainForm(c echo.Context) error { return s.shardDrainForm(c, false) }

func (s *Server) shardDrainForm(c echo.Context, drain bool) error {
	if _, err := s.deps.Admin.DrainShard(c.Request().Context(), adminOf(c), c.Param("id"), drain); err != nil {
		return err
	}
	done := map[bool]string{true: "drained", false: "undrained"}[drain]
	return c.Redirect(http.StatusSeeOther, "/admin/shards?done="+url.QueryEscape(done))
}

// shardJSON is a shard as the admin API shows it: never its API key.
type shardJSON struct {
	ID          string               `json:"id"`
	Kind        string               `json:"kind"`
	URL         string               `json:"url"`
	Capacity    int                  `json:"capacity"`
	InUse       int                  `json:"in_use"`
	Utilisation float64              `json:"utilisation"`
	Draining    bool                 `json:"draining"`
	Health      *tenants.ShardHealth `json:"health,omitempty"`
}

func toShardJSON(sh tenants.Shard, h *tenants.ShardHealth) shardJSON {
	return shardJSON{ID: sh.ID, Kind: sh.Kind, URL: sh.URL, Capacity: sh.Capacity, InUse: sh.InUse,
		Utilisation: sh.Utilisation(), Draining: sh.Draining, Health: h}
}

type shardsJSON struct {
	Shards  []shardJSON `json:"shards"`
	AllFull bool        `json:"all_full"`
	Warning string      `json:"warning,omitempty"`
}

func (s *Server) handleAPIAdminShards(c echo.Context) error {
	r, err := s.deps.Admin.ShardsReport(c.Request().Context())
	if err != nil {
		return err
	}
	out := shardsJSON{Shards: []shardJSON{}, AllFull: r.AllFull}
	for _, st := range r.Shards {
		out.Shards = append(out.Shards, toShardJSON(st.Shard, &st.Health))
	}
	if r.AllFull && len(r.Shards) == 0 {
		out.Warning = "No gateway server is set up: add one."
	} else if r.AllFull {
		out.Warning = shardsWarning
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleAPIAdminShardAdd(c echo.Context) error {
	var in shardInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	sh, err := s.deps.Admin.AddShard(c.Request().Context(), adminOf(c), in.shard())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toShardJSON(sh, nil))
}

func (s *Server) handleAPIAdminShardDrain(c echo.Context) error   { return s.shardDrainAPI(c, true) }
func (s *Server) handleAPIAdminShardUndrain(c echo.Context) error { return s.shardDrainAPI(c, false) }

func (s *Server) shardDrainAPI(c echo.Context, drain bool) error {
	sh, err := s.deps.Admin.DrainShard(c.Request().Context(), adminOf(c), c.Param("id"), drain)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toShardJSON(sh, nil))
}
