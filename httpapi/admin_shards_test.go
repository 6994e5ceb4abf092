package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aibud/aibud/tenants"
)

func TestShardsPage(t *testing.T) {
	env := newAdminEnv(t)
	withSimulator(t, env) // evo-1, capacity 15, a live Evolution simulator
	admin := env.adminClient(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	// Adding: bad input is refused with the field named, a new id works,
	// a taken id is a conflict. The API never shows the key.
	form := url.Values{"id": {"evo-2"}, "url": {"ftp://nope"}, "api_key": {"k"}, "capacity": {"5"}}
	if r := env.do(t, admin, "POST", "/admin/shards", form.Encode()); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="shard-url" name="url" type="url" required placeholder="https://evo2.example.com" value="ftp://nope" aria-invalid="true"`) {
		t.Fatalf("bad url = %d %.400s", r.status, r.body)
	}
	form.Set("url", deadURL)
	if r := env.do(t, admin, "POST", "/admin/shards", form.Encode()); r.status != http.StatusSeeOther {
		t.Fatalf("add shard = %d %.300s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", "/api/v1/admin/shards", `{"id":"evo-2","url":"https://evo2.example.com","api_key":"k"}`); r.status != http.StatusConflict {
		t.Fatalf("duplicate shard = %d %s", r.status, r.body)
	}
	r := env.do(t, admin, "POST", "/api/v1/admin/shards", `{"id":"evo-3","url":"https://evo3.example.com/","api_key":"secret-key-3","capacity":20}`)
	if got := decode[shardJSON](t, r); r.status != http.StatusCreated || got.URL != "https://evo3.example.com" || got.Capacity != 20 || strings.Contains(r.body, "secret-key-3") {
		t.Fatalf("add shard via API = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", "/api/v1/admin/shards/evo-3/drain", ""); r.status != http.StatusOK || !decode[shardJSON](t, r).Draining {
		t.Fatalf("drain = %d %s", r.status, r.body)
	}

	// Room left: no warning; health is live: the simulator is up, the
	// closed server down.
	page := env.do(t, admin, "GET", "/admin/shards", "")
	if page.status != http.StatusOK || strings.Contains(page.body, "shards-full-warning") {
		t.Fatalf("shards page with room = %d, warning shown: %v", page.status, strings.Contains(page.body, "shards-full-warning"))
	}
	mustContain(t, "shards page", page.body, `data-shard="evo-1"`, "chip-ok\">up", `data-shard="evo-2"`, "chip-bad\">down", "draining", deadURL)
	report := decode[shardsJSON](t, env.do(t, admin, "GET", "/api/v1/admin/shards", ""))
	if report.AllFull || len(report.Shards) != 3 || !report.Shards[0].Health.OK || report.Shards[1].Health.OK {
		t.Fatalf("shards JSON = %+v", report)
	}

	// Placement fills evo-1 to 13/15 and evo-2 to 4/5; evo-3 is draining:
	// no shard is under 80%.
	for i := range 12 + 5 {
		if _, _, err := env.store.PlaceInstance(t.Context(), "token-"+string(rune('a'+i)), tenants.InstanceRoute{TenantID: "t", InstanceID: "i"}); err != nil {
			t.Fatal(err)
		}
	}
	page = env.do(t, admin, "GET", "/admin/shards", "")
	mustContain(t, "full shards page", page.body, `id="shards-full-warning"`, "Every gateway shard is above 80%", "87%")
	r = env.do(t, admin, "GET", "/api/v1/admin/shards", "")
	if report := decode[shardsJSON](t, r); !report.AllFull || report.Warning == "" || strings.Contains(r.body, "global-key") || strings.Contains(r.body, "api_key") {
		t.Fatalf("full shards JSON = %s", r.body)
	}

	// Taking evo-3 back clears the warning.
	if r := env.do(t, admin, "POST", "/admin/shards/evo-3/undrain", ""); r.status != http.StatusSeeOther {
		t.Fatalf("undrain form = %d", r.status)
	}
	if page := env.do(t, admin, "GET", "/admin/shards?done=undrained", ""); strings.Contains(page.body, "shards-full-warning") || !strings.Contains(page.body, "takes new numbers again") {
		t.Fatalf("after undrain: %.500s", page.body)
	}
	if r := env.do(t, admin, "POST", "/api/v1/admin/shards/evo-404/drain", ""); r.status != http.StatusNotFound {
		t.Fatalf("drain unknown shard = %d", r.status)
	}
}
