package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string                      `json:"operationId"`
	Summary     string                      `json:"summary"`
	Tags        []string                    `json:"tags"`
	Parameters  []struct{ Name, In string } `json:"parameters"`
	Responses   map[string]json.RawMessage  `json:"responses"`
}

func fetchOpenAPI(t *testing.T, env *testEnv) (openAPIDoc, string) {
	t.Helper()
	r := env.do(t, env.client(), "GET", "/api/openapi.json", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, r.body
}

// coverageDiff compares the router's /api/v1 routes with the document's
// operations, as "METHOD /path/{param}".
func coverageDiff(routes []*echo.Route, doc openAPIDoc) (undocumented, unrouted []string) {
	routed := map[string]bool{}
	for _, r := range routes {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, "/api/v1/") || operatorOnly(r.Path) {
			continue
		}
		routed[r.Method+" "+openAPIPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for op := range routed {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	for op := range documented {
		if !routed[op] {
			unrouted = append(unrouted, op)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unrouted)
	return undocumented, unrouted
}

// TestOpenAPICoversEveryRoute walks the real router: a /api/v1 route
// without documentation, or documentation without a route, fails.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	env, _ := newHooksEnv(t) // every optional route on, outgoing webhooks included
	doc, _ := fetchOpenAPI(t, env)
	undocumented, unrouted := coverageDiff(env.api.Routes(), doc)
	if len(undocumented) > 0 {
		t.Errorf("routes without documentation (add them to apiOperations in openapi_spec.go):\n  %s", strings.Join(undocumented, "\n  "))
	}
	if len(unrouted) > 0 {
		t.Errorf("documented operations without a route:\n  %s", strings.Join(unrouted, "\n  "))
	}
	ops := 0
	for path, m := range doc.Paths {
		ops += len(m)
		if operatorOnly(path) {
			t.Errorf("operator-only %s is in the public document", path)
		}
	}
	if ops < 35 {
		t.Fatalf("only %d operations documented: the walk found too little", ops)
	}
}

// TestCoverageDiffCatchesBothWays shows the coverage check is not vacuous.
func TestCoverageDiffCatchesBothWays(t *testing.T) {
	routes := []*echo.Route{
		{Method: "GET", Path: "/api/v1/polls/:id"},
		{Method: "POST", Path: "/api/v1/new-thing"},
		{Method: echo.RouteNotFound, Path: "/api/v1/contacts/*"},
		{Method: "GET", Path: "/app/polls"},
		{Method: "GET", Path: "/api/v1/admin/tenants"},
	}
	doc := openAPIDoc{Paths: map[string]map[string]openAPIOperation{
		"/api/v1/polls/{id}": {"get": {}},
		"/api/v1/gone":       {"delete": {}},
	}}
	undocumented, unrouted := coverageDiff(routes, doc)
	if diff := cmp.Diff([]string{"POST /api/v1/new-thing"}, undocumented); diff != "" {
		t.Errorf("undocumented (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"DELETE /api/v1/gone"}, unrouted); diff != "" {
		t.Errorf("unrouted (-want +got):\n%s", diff)
	}
}

var refRE = regexp.MustCompile(`"\$ref":"#/components/(schemas|responses)/([A-Za-z]+)"`)

func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	env := newTestEnv(t)
	doc, raw := fetchOpenAPI(t, env)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	for _, m := range refRE.FindAllStringSubmatch(raw, -1) {
		if m[1] == "schemas" && doc.Components.Schemas[m[2]] == nil {
			t.Errorf("dangling $ref %s", m[0])
		}
	}
	for _, name := range []string{"Poll", "Instance", "ApiKey", "ApiKeyCreated", "ErrorBody", "Contact", "Reply"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.Summary == "" || len(op.Tags) != 1 || len(op.Responses) == 0 || ids[op.OperationID] {
				t.Errorf("%s %s: summary %q, tags %v, %d responses, id %q (unique: %v)", method, path, op.Summary, op.Tags, len(op.Responses), op.OperationID, !ids[op.OperationID])
			}
			ids[op.OperationID] = true
			for _, p := range pathParamRE.FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(op.Parameters, func(q struct{ Name, In string }) bool { return q.Name == p[1] && q.In == "path" }) {
					t.Errorf("%s %s: path parameter %s not declared", method, path, p[1])
				}
			}
		}
	}
	// The key is in the create answer's schema, and nowhere in the list's.
	if !strings.Contains(string(doc.Components.Schemas["ApiKeyCreated"]), `"key"`) || strings.Contains(string(doc.Components.Schemas["ApiKey"]), `"key"`) {
		t.Error("the API key schemas are wrong about where the key appears")
	}
}

func TestAPIDocsPage(t *testing.T) {
	env := newTestEnv(t)
	r := env.do(t, env.client(), "GET", "/api/docs", "", "Accept", "text/html")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, op := range apiOperations() {
		want := `id="` + op.id() + `"`
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, op.Path) {
			t.Errorf("docs page lacks %s %s", op.Method, op.Path)
		}
	}
	for _, tag := range apiTags {
		if !strings.Contains(r.body, ">"+tag.Name+"</h2>") {
			t.Errorf("docs page lacks the group %q", tag.Name)
		}
	}
	for _, want := range []string{"Authorization: Bearer ak_", "&#34;question&#34;", "Retry-After"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("docs page lacks %q", want)
		}
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(r.body) {
		t.Error("docs page loads something from another site")
	}
}
