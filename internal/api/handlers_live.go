package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/engine"
)

// Fleet is what the live-operation routes need from the engine: its
// Operator, and what a decky runs now to answer with.
type Fleet interface {
	engine.Operator
	// Services lists the services a decky runs, in order.
	Services(ctx context.Context, decky string) ([]string, error)
	// ServiceConfig is the configuration saved for a service of a decky.
	ServiceConfig(ctx context.Context, decky, svc string) (map[string]string, error)
}

// live guards a live-operation route: without a driver it answers 503.
func (s *server) live(h authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, id *identity) error {
		if s.fleet == nil {
			return errNoDriver
		}
		return h(w, r, id)
	}
}

// serviceConfig is a service configuration as clients send it: strings,
// numbers or booleans (coerced to the strings the schema checks); null and
// "" are dropped, as DECNET drops empty values.
type serviceConfig map[string]any

func (c serviceConfig) strings() (map[string]string, error) {
	out := make(map[string]string, len(c))
	for k, v := range c {
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				out[k] = v
			}
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return nil, badRequest(fmt.Sprintf("config key %q must be a string, number or boolean", k))
		}
	}
	return out, nil
}

// servicesResponse answers add and remove.
type servicesResponse struct {
	DeckyName string   `json:"decky_name"`
	Services  []string `json:"services"`
}

// serviceConfigResponse answers save and apply.
type serviceConfigResponse struct {
	DeckyName   string            `json:"decky_name"`
	Service     string            `json:"service"`
	ServiceName string            `json:"service_name"` // DECNET's name of the same field
	Config      map[string]string `json:"config"`
	Recreated   bool              `json:"recreated"`
}

// serviceEvent is what the bus carries after a service is added or removed.
type serviceEvent struct {
	Decky    string   `json:"decky"`
	Service  string   `json:"service"`
	Services []string `json:"services"`
}

// configEvent is what the bus carries after a configuration changed.
type configEvent struct {
	Decky         string            `json:"decky"`
	Service       string            `json:"service"`
	ServiceConfig map[string]string `json:"service_config"`
	Recreated     bool              `json:"recreated"`
}

// addService starts a service on a running decky.
// POST /api/v1/deckies/{name}/services {name, config}.
func (s *server) addService(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var body struct {
		Name   string        `json:"name"`
		Config serviceConfig `json:"config"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return missingField("name")
	}
	cfg, err := body.Config.strings()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.fleet.AddService(r.Context(), name, body.Name, cfg); err != nil {
		return err
	}
	return s.answerServices(w, r, http.StatusCreated, name, body.Name, "added")
}

// removeService stops a service of a running decky and closes its ports.
// DELETE /api/v1/deckies/{name}/services/{svc}.
func (s *server) removeService(w http.ResponseWriter, r *http.Request, _ *identity) error {
	name, svc := r.PathValue("name"), r.PathValue("svc")
	if err := s.fleet.RemoveService(r.Context(), name, svc); err != nil {
		return err
	}
	return s.answerServices(w, r, http.StatusOK, name, svc, "removed")
}

func (s *server) answerServices(w http.ResponseWriter, r *http.Request, status int, name, svc, what string) error {
	services, err := s.fleet.Services(r.Context(), name)
	if err != nil {
		return err
	}
	services = orEmpty(services)
	s.notify("decky."+name+".service."+what, serviceEvent{Decky: name, Service: svc, Services: services})
	return writeJSON(w, status, servicesResponse{DeckyName: name, Services: services})
}

// saveServiceConfig stores a service's configuration for its next start.
// PUT /api/v1/deckies/{name}/services/{svc}/config {config}.
func (s *server) saveServiceConfig(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var body struct {
		Config *serviceConfig `json:"config"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Config == nil {
		return missingField("config")
	}
	cfg, err := body.Config.strings()
	if err != nil {
		return err
	}
	return s.configure(w, r, cfg, false)
}

// applyServiceConfig restarts a service with its configuration: the one in
// the body, or the saved one when the body has none.
// POST /api/v1/deckies/{name}/services/{svc}/apply {config?}.
func (s *server) applyServiceConfig(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var body struct {
		Config *serviceConfig `json:"config"`
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return bodyError(err)
		}
	}
	var cfg map[string]string
	if body.Config != nil {
		if cfg, err = body.Config.strings(); err != nil {
			return err
		}
	} else if cfg, err = s.fleet.ServiceConfig(r.Context(), r.PathValue("name"), r.PathValue("svc")); err != nil {
		return err
	}
	return s.configure(w, r, cfg, true)
}

func (s *server) configure(w http.ResponseWriter, r *http.Request, cfg map[string]string, apply bool) error {
	name, svc := r.PathValue("name"), r.PathValue("svc")
	recreated, err := s.fleet.ConfigureService(r.Context(), name, svc, cfg, apply)
	if err != nil {
		return err
	}
	if cfg == nil {
		cfg = map[string]string{}
	}
	s.notify("decky."+name+".service_config_changed", configEvent{Decky: name, Service: svc, ServiceConfig: cfg, Recreated: recreated})
	status := http.StatusOK
	if apply {
		status = http.StatusCreated
	}
	return writeJSON(w, status, serviceConfigResponse{DeckyName: name, Service: svc, ServiceName: svc, Config: cfg, Recreated: recreated})
}

// fileTarget names a file of a decky; topology_id is accepted for DECNET
// clients, but there are no topologies here.
type fileTarget struct {
	DeckyName  string `json:"decky_name"`
	TopologyID string `json:"topology_id"`
	Path       string `json:"path"`
}

func (t fileTarget) check() error {
	switch {
	case t.DeckyName == "":
		return missingField("decky_name")
	case t.Path == "":
		return missingField("path")
	case t.TopologyID != "":
		return newError(http.StatusNotFound, "Topology not found")
	case !strings.HasPrefix(t.Path, "/"):
		return invalidField(fmt.Sprintf("path %q must be absolute", t.Path))
	}
	return nil
}

// writeFile drops a file into a decky, where attackers see it.
// POST /api/v1/deckies/files {decky_name, path, content_b64, mode}.
// dropError: for the file routes an unknown decky is a field of the body
// that is wrong (422, as the original answers), not a missing resource.
func dropError(err error, decky string) error {
	if errors.Is(err, engine.ErrUnknownDecky) {
		return invalidField(fmt.Sprintf("decky_name: no decky %q", decky))
	}
	return err
}

// maxMtimeOffset is the most a file drop may be backdated: ten years.
const maxMtimeOffset = 10 * 365 * 24 * 3600

func (s *server) writeFile(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var body struct {
		fileTarget
		ContentB64 string `json:"content_b64"`
		Mode       *int64 `json:"mode"`
		// MtimeOffset backdates the file by that many seconds, so it looks
		// as old as the rest of the machine.
		MtimeOffset int64 `json:"mtime_offset"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	content, err := base64.StdEncoding.DecodeString(body.ContentB64)
	if err != nil {
		return badRequest("content_b64 is not valid base64")
	}
	mode := fs.FileMode(0o644)
	if body.Mode != nil {
		if *body.Mode < 0 || *body.Mode > 0o777 {
			return invalidField(fmt.Sprintf("mode %#o is not a permission mode (0 to 0o777)", *body.Mode))
		}
		mode = fs.FileMode(*body.Mode)
	}
	if body.MtimeOffset < 0 || body.MtimeOffset > maxMtimeOffset {
		return invalidField(fmt.Sprintf("mtime_offset %d: give the seconds to backdate the file by, 0 to %d (ten years)", body.MtimeOffset, maxMtimeOffset))
	}
	var mtime time.Time
	if body.MtimeOffset > 0 {
		mtime = time.Now().Add(-time.Duration(body.MtimeOffset) * time.Second).Truncate(time.Second)
	}
	if err := s.fleet.WriteFile(r.Context(), body.DeckyName, body.Path, content, mode, mtime); err != nil {
		return dropError(err, body.DeckyName)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"message": "File written", "decky_name": body.DeckyName,
		"path": body.Path, "size": len(content)})
}

// removeFile deletes a dropped file (no error when it is not there).
// DELETE /api/v1/deckies/files {decky_name, path}.
func (s *server) removeFile(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var body fileTarget
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	if err := s.fleet.RemoveFile(r.Context(), body.DeckyName, body.Path); err != nil {
		return dropError(err, body.DeckyName)
	}
	return writeJSON(w, http.StatusOK, map[string]string{"message": "File removed"})
}

// schemaField is one configuration key as the wizard shows it.
type schemaField struct {
	Key         string   `json:"key"`
	Label       string   `json:"label"`
	Type        string   `json:"type"`
	Default     string   `json:"default"`
	Secret      bool     `json:"secret"`
	Help        string   `json:"help"`
	Enum        []string `json:"enum"`
	Placeholder string   `json:"placeholder"`
}

// serviceSchema describes what an operator may configure on a service.
// GET /api/v1/topologies/services/{svc}/schema.
func (s *server) serviceSchema(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if s.services == nil {
		return newError(http.StatusNotFound, "Unknown service")
	}
	svc, err := s.services.New(r.PathValue("svc"))
	if err != nil {
		return newError(http.StatusNotFound, "Unknown service")
	}
	ports := []int{}
	for _, p := range svc.Ports() {
		ports = append(ports, p.Number)
	}
	fields := []schemaField{}
	for _, f := range svc.Schema() {
		fields = append(fields, schemaField{Key: f.Key, Label: label(f.Key), Type: f.Type, Default: f.Default,
			Secret: f.Type == "password", Help: f.Help, Enum: orEmpty(f.Enum), Placeholder: f.Default})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"name": svc.Name(), "ports": ports, "fleet_singleton": false, "fields": fields})
}

// label makes a key readable: "server_header" → "Server header".
func label(key string) string {
	l := strings.ReplaceAll(key, "_", " ")
	if l == "" {
		return l
	}
	return strings.ToUpper(l[:1]) + l[1:]
}
