package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// The OpenAPI 3.1 document of /api/v1, served at /api/openapi.json, and a
// readable page of it at /api/docs. The operations are a hand-written table
// (openapi_spec.go); request and response schemas are derived from the Go
// types the handlers decode and encode, so they cannot drift from the code.
// openapi_test.go fails when a route and the table disagree.

// apiOp documents one operation.
type apiOp struct {
	Method, Path, Tag, Summary string
	Description                string
	Public                     bool       // no authentication (sign-up, log-in)
	Query                      []apiParam // path parameters come from Path
	Body                       any        // a value of the request type; nil: no body
	BodyOptional               bool       // the body may be left out
	BodyMedia                  string     // default application/json
	BodyExample                any        // default: generated from Body's type
	Status                     int        // the success status
	Resp                       any        // a value of the response type; nil: no content
	RespMedia                  string     // default application/json
	RespExample                any        // default: generated from Resp's type
	Errors                     []int      // error statuses worth naming besides 401 and 429
}

// apiParam is a query (or path) parameter.
type apiParam struct {
	Name, Description string
	Type              string // "string" unless said
	Required          bool
	path              bool
}

const mediaJSON = "application/json"

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPIPath turns Echo's /polls/:id into OpenAPI's /polls/{id}.
func openAPIPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func (s *Server) registerOpenAPIRoutes(e *echo.Echo) {
	e.GET("/api/openapi.json", s.handleOpenAPI)
	e.GET("/api/docs", s.handleAPIDocs, s.identify)
}

func (s *Server) handleOpenAPI(c echo.Context) error {
	return c.JSON(http.StatusOK, s.openAPIDocument())
}

// openAPIDocument builds the document from apiOperations.
func (s *Server) openAPIDocument() map[string]any {
	schemas := newSchemaSet()
	paths := map[string]map[string]any{}
	for _, op := range apiOperations() {
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = op.document(schemas)
	}
	errRef := schemas.of(reflect.TypeFor[errorBody]())
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title": "Aibud API", "version": "1",
			"description": "WhatsApp poll campaigns: numbers, contacts, polls, replies and credits. " +
				"Authenticate with the dashboard's session cookie or with an API key (Settings → API keys) " +
				"sent as `Authorization: Bearer ak_…`. Each API key may make " + s.keyLimits.describe() + "; " +
				"beyond that the answer is 429 with Retry-After. Errors are " + mediaJSON + " objects {\"error\":{\"code\",\"message\",\"field\"}}.",
		},
		"servers":  []any{map[string]any{"url": s.cfg.PublicURL}},
		"security": []any{map[string]any{"session": []string{}}, map[string]any{"apiKey": []string{}}},
		"tags":     tagList(),
		"paths":    paths,
		"components": map[string]any{
			"schemas": schemas.defs,
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
					"description": "The dashboard's session, set by /api/v1/login or /api/v1/signup."},
				"apiKey": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "ak_…",
					"description": "A tenant API key from Settings → API keys."},
			},
			"responses": map[string]any{"Error": map[string]any{"description": "Error",
				"content": map[string]any{mediaJSON: map[string]any{"schema": errRef}}}},
		},
	}
}

// document is the operation object of op.
func (op apiOp) document(schemas *schemaSet) map[string]any {
	doc := map[string]any{
		"operationId": op.id(), "summary": op.Summary, "tags": []string{op.Tag},
		"responses": op.responses(schemas),
	}
	if op.Description != "" {
		doc["description"] = op.Description
	}
	if op.Public {
		doc["security"] = []any{}
	}
	var params []any
	for _, p := range op.params() {
		params = append(params, map[string]any{"name": p.Name, "in": p.in(), "required": p.Required,
			"description": p.Description, "schema": map[string]any{"type": p.typ()}})
	}
	if params != nil {
		doc["parameters"] = params
	}
	if op.Body != nil {
		doc["requestBody"] = map[string]any{"required": !op.BodyOptional, "content": map[string]any{
			op.bodyMedia(): map[string]any{"schema": schemas.of(reflect.TypeOf(op.Body)), "example": op.bodyExample()},
		}}
	}
	return doc
}

func (op apiOp) responses(schemas *schemaSet) map[string]any {
	ok := map[string]any{"description": http.StatusText(op.Status)}
	if op.Resp != nil {
		ok["content"] = map[string]any{op.respMedia(): map[string]any{
			"schema": schemas.of(reflect.TypeOf(op.Resp)), "example": op.respExample(),
		}}
	}
	out := map[string]any{strconv.Itoa(op.Status): ok}
	for _, st := range op.errorStatuses() {
		out[strconv.Itoa(st)] = map[string]any{"$ref": "#/components/responses/Error", "description": http.StatusText(st)}
	}
	return out
}

// errorStatuses adds 401 and 429 to every authenticated operation.
func (op apiOp) errorStatuses() []int {
	sts := slices.Clone(op.Errors)
	if !op.Public {
		sts = append(sts, http.StatusUnauthorized, http.StatusTooManyRequests)
	}
	slices.Sort(sts)
	return slices.Compact(sts)
}

// params lists the path parameters, then the query ones.
func (op apiOp) params() []apiParam {
	var out []apiParam
	for _, m := range pathParamRE.FindAllStringSubmatch(op.Path, -1) {
		out = append(out, apiParam{Name: m[1], Required: true, Description: pathParamHelp[m[1]], path: true})
	}
	return append(out, op.Query...)
}

var pathParamHelp = map[string]string{
	"id":    "The resource's id.",
	"phone": "The contact's number in E.164 digits, with or without the plus sign.",
}

func (p apiParam) in() string {
	if p.path {
		return "path"
	}
	return "query"
}

func (p apiParam) typ() string {
	if p.Type == "" {
		return "string"
	}
	return p.Type
}

// id is the operationId: method and path, e.g. get_polls_id.
func (op apiOp) id() string {
	p := strings.NewReplacer("/api/v1/", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(op.Path)
	return strings.ToLower(op.Method) + "_" + p
}

func (op apiOp) bodyMedia() string { return orDefault(op.BodyMedia, mediaJSON) }
func (op apiOp) respMedia() string { return orDefault(op.RespMedia, mediaJSON) }

func (op apiOp) bodyExample() any {
	if op.BodyExample != nil {
		return op.BodyExample
	}
	return exampleOf(reflect.TypeOf(op.Body), 0)
}

func (op apiOp) respExample() any {
	if op.RespExample != nil {
		return op.RespExample
	}
	return exampleOf(reflect.TypeOf(op.Resp), 0)
}

func orDefault(v, otherwise string) string {
	if v == "" {
		return otherwise
	}
	return v
}

// exampleText renders an example for the docs page: JSON indented, text as is.
func exampleText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// docsOp is an operation as the docs page shows it.
type docsOp struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool
	Params                                 []docsParam
	BodyMedia, BodyExample                 string
	Status                                 docsStatus
	RespMedia, RespExample                 string
	Errors                                 []docsStatus
}

type docsStatus struct {
	Code int
	Text string
}

type docsParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type docsGroup struct {
	Slug, Name, Description string
	Ops                     []docsOp
}

type docsData struct {
	Groups    []docsGroup
	BaseURL   string
	RateLimit string // e.g. "20 requests a second, with bursts of 40"
}

// handleAPIDocs is the readable page of the document: every operation by
// tag, with its parameters and examples. Plain HTML, no script.
func (s *Server) handleAPIDocs(c echo.Context) error {
	byTag := map[string][]docsOp{}
	for _, op := range apiOperations() {
		byTag[op.Tag] = append(byTag[op.Tag], op.docs())
	}
	d := docsData{BaseURL: s.cfg.PublicURL, RateLimit: s.keyLimits.describe()}
	for _, t := range apiTags {
		d.Groups = append(d.Groups, docsGroup{Slug: strings.ReplaceAll(strings.ToLower(t.Name), " ", "-"), Name: t.Name, Description: t.Description, Ops: byTag[t.Name]})
	}
	return s.render(c, "api_docs", pageData{Title: "API documentation", Data: d})
}

func (op apiOp) docs() docsOp {
	d := docsOp{ID: op.id(), Method: op.Method, Path: op.Path, Summary: op.Summary, Description: op.Description,
		Public: op.Public, Status: docsStatus{op.Status, http.StatusText(op.Status)}}
	for _, st := range op.errorStatuses() {
		d.Errors = append(d.Errors, docsStatus{st, http.StatusText(st)})
	}
	for _, p := range op.params() {
		d.Params = append(d.Params, docsParam{Name: p.Name, In: p.in(), Type: p.typ(), Description: p.Description, Required: p.Required})
	}
	if op.Body != nil {
		d.BodyMedia, d.BodyExample = op.bodyMedia(), exampleText(op.bodyExample())
	}
	if op.Resp != nil {
		d.RespMedia, d.RespExample = op.respMedia(), exampleText(op.respExample())
	}
	return d
}
