package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// The OpenAPI 3.1 document is built once from routeDocs, which describes
// every route routes() registers; TestOpenAPICoversRoutes keeps the two
// equal. Schemas come from the Go types the handlers encode and decode, so
// they cannot drift from what goes over the wire.

// routeDoc describes one operation.
type routeDoc struct {
	summary string
	tag     string
	access  string   // "none", "token" (must-change allowed), "viewer", "admin", "stream"
	query   []string // query parameters: "name:type" with type int, string or time (string is the default)
	body    any      // request body: a value of the decoded type, or nil
	resp    any      // success body: a value of the encoded type, or nil
	status  int      // success status; 0 means 200
	sse     bool     // the success body is text/event-stream
}

var pageQuery = []string{"limit:int", "offset:int"}

func withPage(q ...string) []string { return append(append([]string{}, pageQuery...), q...) }

// fileDrop and the other small request shapes mirror the anonymous structs
// their handlers decode.
type (
	fileDrop struct {
		DeckyName   string `json:"decky_name"`
		TopologyID  string `json:"topology_id,omitempty"`
		Path        string `json:"path"`
		ContentB64  string `json:"content_b64"`
		Mode        *int64 `json:"mode,omitempty"`
		MtimeOffset int64  `json:"mtime_offset,omitempty"`
	}
	addServiceBody struct {
		Name   string         `json:"name"`
		Config map[string]any `json:"config,omitempty"`
	}
	serviceConfigBody struct {
		Config map[string]any `json:"config"`
	}
	deployBody struct {
		INIContent   *string `json:"ini_content,omitempty"`
		YAMLContent  *string `json:"yaml_content,omitempty"`
		ReplaceFleet bool    `json:"replace_fleet,omitempty"`
	}
	lifecycleList struct {
		Rows []store.Lifecycle `json:"rows"`
	}
	fileWritten struct {
		Message   string `json:"message"`
		DeckyName string `json:"decky_name"`
		Path      string `json:"path"`
		Size      int    `json:"size"`
	}
	serviceSchemaDoc struct {
		Name           string        `json:"name"`
		Ports          []int         `json:"ports"`
		FleetSingleton bool          `json:"fleet_singleton"`
		Fields         []schemaField `json:"fields"`
	}
	prometheusText struct{}
	openAPIDoc     map[string]any
)

var routeDocs = map[string]routeDoc{
	"POST /api/v1/auth/login": {summary: "Exchange a user name and password for an access token (10 per 5 min per address and per user name)",
		tag: "auth", access: "none", body: loginRequest{}, resp: loginResponse{}},
	"POST /api/v1/auth/change-password": {summary: "Change the caller's password; voids every token of the user",
		tag: "auth", access: "token", body: changePasswordRequest{}, resp: messageResponse{}},
	"POST /api/v1/auth/logout":     {summary: "Revoke the caller's token", tag: "auth", access: "token", resp: messageResponse{}},
	"POST /api/v1/auth/sse-ticket": {summary: "A single-use 60 s ticket for an event stream (GET /stream, …/events)", tag: "auth", access: "viewer", resp: ticketResponse{}},
	"GET /api/v1/health": {summary: "Liveness without a token; component report with one (503 when a critical component fails)",
		tag: "system", access: "none", resp: healthReport{}},
	"GET /api/v1/openapi.json": {summary: "This document", tag: "system", access: "none", resp: openAPIDoc{}},
	"GET /metrics":             {summary: "Prometheus metrics (text exposition format)", tag: "system", access: "viewer", resp: prometheusText{}},
	"GET /api/v1/logs": {summary: "Stored events, newest first", tag: "logs", access: "viewer",
		query: withPage("search", "start_time:time", "end_time:time"), resp: envelope[store.EventRow]{}},
	"GET /api/v1/logs/histogram": {summary: "Event counts per time bucket, oldest first", tag: "logs", access: "viewer",
		query: []string{"search", "start_time:time", "end_time:time", "interval_minutes:int"}, resp: []store.HistogramBucket{}},
	"GET /api/v1/stats": {summary: "Headline counts", tag: "logs", access: "viewer", resp: statsResponse{}},
	"GET /api/v1/stream": {summary: "Live events as server-sent events (bearer header or ?ticket=)", tag: "logs", access: "stream",
		query: []string{"ticket", "lastEventId:int", "search", "start_time:time", "end_time:time"}, sse: true},
	"GET /api/v1/attackers/{uuid}/events": {summary: "Live news of one attacker (observations, fingerprints, scores, attribution) as server-sent events",
		tag: "attackers", access: "stream", query: []string{"ticket"}, sse: true},
	"GET /api/v1/identities/events": {summary: "Live identity news (formed, merged, observation linked, campaign assigned) as server-sent events",
		tag: "identities", access: "stream", query: []string{"ticket"}, sse: true},
	"GET /api/v1/campaigns/events": {summary: "Live campaign news as server-sent events", tag: "identities", access: "stream",
		query: []string{"ticket"}, sse: true},
	"GET /api/v1/attackers": {summary: "Attacker profiles", tag: "attackers", access: "viewer",
		query: withPage("search", "service", "sort_by"), resp: envelope[store.Attacker]{}},
	"GET /api/v1/attackers/{uuid}": {summary: "One attacker with its service activity, sessions, credentials and commands",
		tag: "attackers", access: "viewer", resp: attackerDetail{}},
	"GET /api/v1/attackers/{uuid}/commands": {summary: "Every command of one attacker, oldest first (limit ≤ 200)",
		tag: "attackers", access: "viewer", query: pageQuery, resp: envelope[store.Command]{}},
	"GET /api/v1/identities/multi-actor": {summary: "Identities with two or more primitives in state multi_actor", tag: "attackers", access: "viewer", resp: multiActorList{}},
	"GET /api/v1/credentials": {summary: "Captured credentials, most recently used first", tag: "loot", access: "viewer",
		query: withPage("search", "service", "attacker_ip"), resp: envelope[store.Credential]{}},
	"GET /api/v1/sessions": {summary: "Connections, newest first", tag: "loot", access: "viewer",
		query: withPage("attacker_ip", "service"), resp: envelope[store.Session]{}},
	"GET /api/v1/credential-reuse": {summary: "Secrets seen on two or more targets (decky, service), most targets first", tag: "loot",
		access: "viewer", query: withPage("min_target_count:int", "secret_kind"), resp: envelope[store.CredentialReuse]{}},
	"GET /api/v1/credential-reuse/{reuse_id}": {summary: "One credential reuse", tag: "loot", access: "viewer", resp: store.CredentialReuse{}},
	"GET /api/v1/bounty": {summary: "Findings (fingerprints, leaks, artifacts), newest first", tag: "loot", access: "viewer",
		query: withPage("bounty_type", "search"), resp: envelope[store.Bounty]{}},
	"GET /api/v1/identities": {summary: "Identities not merged into another, most recently updated first", tag: "identities",
		access: "viewer", query: pageQuery, resp: envelope[store.Identity]{}},
	"GET /api/v1/identities/{uuid}": {summary: "One identity (merges followed) with its live attacker count", tag: "identities",
		access: "viewer", resp: identityDetail{}},
	"GET /api/v1/identities/{uuid}/observations": {summary: "The attacker profiles of an identity", tag: "identities",
		access: "viewer", query: pageQuery, resp: envelope[store.Attacker]{}},
	"GET /api/v1/campaigns": {summary: "Campaigns not merged into another, most recently updated first", tag: "identities",
		access: "viewer", query: pageQuery, resp: envelope[store.Campaign]{}},
	"GET /api/v1/campaigns/{uuid}": {summary: "One campaign (merges followed) with its live identity count", tag: "identities",
		access: "viewer", resp: campaignDetail{}},
	"GET /api/v1/campaigns/{uuid}/identities": {summary: "The identities of a campaign", tag: "identities",
		access: "viewer", query: pageQuery, resp: envelope[store.Identity]{}},
	"GET /api/v1/webhooks": {summary: "Every webhook subscription (never the secret)", tag: "webhooks", access: "admin", resp: []webhookResponse{}},
	"POST /api/v1/webhooks": {summary: "Subscribe a URL to bus topics; the answer shows the signing secret, once (20 per minute)",
		tag: "webhooks", access: "admin", body: webhookRequest{}, resp: webhookCreateResponse{}, status: http.StatusCreated},
	"GET /api/v1/webhooks/{uuid}": {summary: "One webhook subscription", tag: "webhooks", access: "admin", resp: webhookResponse{}},
	"PATCH /api/v1/webhooks/{uuid}": {summary: "Change a subscription; re-enabling resets its circuit breaker", tag: "webhooks",
		access: "admin", body: webhookRequest{}, resp: webhookResponse{}},
	"DELETE /api/v1/webhooks/{uuid}": {summary: "Delete a subscription", tag: "webhooks", access: "admin", resp: messageResponse{}},
	"POST /api/v1/webhooks/{uuid}/test": {summary: "Send a signed test.ping to a subscription, once", tag: "webhooks",
		access: "admin", resp: webhookTestResult{}},
	"GET /api/v1/deckies":           {summary: "Every decky with its service bindings", tag: "deckies", access: "viewer", resp: []store.DeckyRow{}},
	"GET /api/v1/deckies/lifecycle": {summary: "Poll deploy and remove operations", tag: "deckies", access: "viewer", query: []string{"ids"}, resp: lifecycleList{}},
	"GET /api/v1/topologies/services/{svc}/schema": {summary: "What an operator may configure on a service",
		tag: "deckies", access: "viewer", resp: serviceSchemaDoc{}},
	"POST /api/v1/deckies/{name}/services": {summary: "Add a service to a running decky", tag: "deckies", access: "admin",
		body: addServiceBody{}, resp: servicesResponse{}, status: http.StatusCreated},
	"DELETE /api/v1/deckies/{name}/services/{svc}": {summary: "Remove a service from a running decky", tag: "deckies", access: "admin",
		resp: servicesResponse{}},
	"PUT /api/v1/deckies/{name}/services/{svc}/config": {summary: "Save a service's configuration", tag: "deckies", access: "admin",
		body: serviceConfigBody{}, resp: serviceConfigResponse{}},
	"POST /api/v1/deckies/{name}/services/{svc}/apply": {summary: "Apply a service's configuration (restarts it)", tag: "deckies", access: "admin",
		body: serviceConfigBody{}, resp: serviceConfigResponse{}, status: http.StatusCreated},
	"POST /api/v1/deckies/deploy": {summary: "Deploy deckies from an INI or YAML fleet file (in the background)", tag: "deckies", access: "admin",
		body: deployBody{}, resp: deployResponse{}, status: http.StatusAccepted},
	"DELETE /api/v1/deckies/{name}": {summary: "Stop and forget a decky", tag: "deckies", access: "admin", status: http.StatusNoContent},
	"POST /api/v1/deckies/files":    {summary: "Drop a file on a decky", tag: "deckies", access: "admin", body: fileDrop{}, resp: fileWritten{}, status: http.StatusCreated},
	"DELETE /api/v1/deckies/files":  {summary: "Remove a dropped file", tag: "deckies", access: "admin", body: fileTarget{}, resp: messageResponse{}},
	"GET /api/v1/config":            {summary: "Settings; admins also get the accounts", tag: "config", access: "viewer", resp: configResponse{}},
	"PUT /api/v1/config/deployment-limit": {summary: "Most deckies one deploy may start (1..500)", tag: "config", access: "admin",
		body: deploymentLimitRequest{}, resp: messageResponse{}},
	"GET /api/v1/transcripts/{decky}/{sid}": {summary: "One page of a session recording's asciicast events", tag: "transcripts", access: "admin",
		query: withPage(), resp: transcriptPage{}},
	"GET /api/v1/config/users": {summary: "Every account", tag: "users", access: "admin", resp: []userResponse{}},
	"POST /api/v1/config/users": {summary: "Create an account (must change its password at first login)", tag: "users", access: "admin",
		body: createUserRequest{}, resp: userResponse{}},
	"DELETE /api/v1/config/users/{uuid}": {summary: "Delete an account (not your own, not the last admin)", tag: "users", access: "admin",
		resp: messageResponse{}},
	"PUT /api/v1/config/users/{uuid}/role": {summary: "Change an account's role (not your own); voids its tokens", tag: "users", access: "admin",
		body: roleRequest{}, resp: messageResponse{}},
	"PUT /api/v1/config/users/{uuid}/reset-password": {summary: "Set an account's password; it must change it at next login, its tokens die",
		tag: "users", access: "admin", body: resetPasswordRequest{}, resp: messageResponse{}},
}

var (
	openAPIOnce sync.Once
	openAPIJSON []byte
)

// openAPI serves the OpenAPI 3.1 document. GET /api/v1/openapi.json (open).
func (s *server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	openAPIOnce.Do(func() { openAPIJSON, _ = json.Marshal(buildOpenAPI(s.version)) })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openAPIJSON)
	return nil
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// buildOpenAPI makes the document from routeDocs.
func buildOpenAPI(version string) map[string]any {
	sg := &schemaGen{defs: map[string]any{}, types: map[string]reflect.Type{}}
	paths := map[string]map[string]any{}
	for _, pattern := range slices.Sorted(maps.Keys(routeDocs)) { // sorted: component names must not depend on map order
		d := routeDocs[pattern]
		method, path, _ := strings.Cut(pattern, " ")
		op := map[string]any{
			"operationId": operationID(method, path),
			"summary":     d.summary,
			"tags":        []string{d.tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range d.query {
			name, typ, _ := strings.Cut(q, ":")
			schema := map[string]any{"type": "string"}
			switch typ {
			case "int":
				schema = map[string]any{"type": "integer"}
			case "time":
				schema = map[string]any{"type": "string", "format": "date-time"}
			}
			if name == "ids" {
				schema = map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "maxItems": maxLifecycleIDs}
			}
			params = append(params, map[string]any{"name": name, "in": "query", "schema": schema})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch d.access {
		case "none":
			op["security"] = []any{}
		case "stream":
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"ticket": []string{}}}
		}
		if d.access != "none" {
			op["x-decnet-role"] = d.access
		}
		if d.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": sg.schema(reflect.TypeOf(d.body))}}}
		}
		op["responses"] = responses(sg, d)
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op
	}
	sg.defs["Error"] = map[string]any{"type": "object", "required": []string{"detail"}, "properties": map[string]any{
		"detail": map[string]any{"type": "string"}, "error_id": map[string]any{"type": "string"}}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "DECNET-Go API", "version": version,
			"description": "REST API of DECNET-Go; paths and payloads follow DECNET's /api/v1. See docs/api.md."},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": sg.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"ticket": map[string]any{"type": "apiKey", "in": "query", "name": "ticket",
					"description": "single-use SSE ticket from POST /api/v1/auth/sse-ticket"},
			},
		},
	}
}

// responses lists the success response and the errors an operation may give.
func responses(sg *schemaGen, d routeDoc) map[string]any {
	status := d.status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	switch {
	case d.sse:
		ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}
	case d.resp == prometheusText{}:
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case d.resp != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": sg.schema(reflect.TypeOf(d.resp))}}
	}
	out := map[string]any{strconv.Itoa(status): ok}
	errRef := map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}
	add := func(code int, why string) {
		out[strconv.Itoa(code)] = map[string]any{"description": why, "content": errRef}
	}
	if d.access != "none" {
		add(401, "missing, invalid, expired or revoked token")
		add(403, "password change required, or role too low")
	}
	if d.body != nil {
		add(400, "malformed JSON, a missing or unknown field")
		add(415, "body is not application/json")
	}
	if d.body != nil || d.query != nil {
		add(422, "a value out of range; the detail names the field")
	}
	if strings.Contains(d.summary, "10 per 5 min") || d.sse {
		add(429, "rate or stream limit reached")
	}
	return out
}

// operationID is a stable camel-case name: "GET /api/v1/attackers/{uuid}" →
// "getAttackersUuid".
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(strings.TrimPrefix(path, "/api/v1"), func(r rune) bool {
		return r == '/' || r == '{' || r == '}' || r == '-' || r == '_' || r == '.'
	}) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// named structs into components referenced by $ref.
type schemaGen struct {
	defs  map[string]any
	types map[string]reflect.Type // which Go type owns each component name
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.schema(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
		}
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if name == "" {
			return g.object(t)
		}
		if owner, ok := g.types[name]; ok && owner != t {
			// Two packages use the name (event.Credential, store.Credential).
			pkg := t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:]
			name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
		}
		g.types[name] = t
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder: recursion stops here
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// object describes a struct's JSON fields, embedded structs flattened.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	g.fields(t, props)
	return map[string]any{"type": "object", "properties": props}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
}

// schemaName names a struct's component: its Go name, capitalised, with a
// generic's arguments folded in ("envelope[store.Attacker]" → "PageAttacker").
func schemaName(t reflect.Type) string {
	n := t.Name()
	if n == "" {
		return ""
	}
	if base, arg, ok := strings.Cut(n, "["); ok {
		arg = strings.TrimSuffix(arg, "]")
		if i := strings.LastIndexByte(arg, '.'); i >= 0 {
			arg = arg[i+1:]
		}
		if base == "envelope" {
			base = "page"
		}
		n = base + strings.ToUpper(arg[:1]) + arg[1:]
	}
	return strings.ToUpper(n[:1]) + n[1:]
}
