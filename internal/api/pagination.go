package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/decnet-go/decnet/internal/store"
)

// Pagination bounds (spec/data-api.md §3.0).
const (
	defaultLimit  = 50
	maxListLimit  = 1000 // logs, attackers, credentials, sessions
	maxCmdLimit   = 200  // attacker commands
	maxOffset     = 2147483647
	maxFilterLen  = 512
	detailListCap = 200 // rows of each kind in an attacker's detail
)

// pageFilters are the query parameters a list may accept, and where each
// lands in a store.Page.
var pageFilters = map[string]func(*store.Page, string){
	"search":      func(p *store.Page, v string) { p.Search = v },
	"service":     func(p *store.Page, v string) { p.Service = v },
	"attacker_ip": func(p *store.Page, v string) { p.AttackerIP = v },
}

// parsePage reads limit (1..maxLimit, default 50), offset (≥0) and the named
// filters from r's query. Anything out of range or not an integer is a 422.
func parsePage(r *http.Request, maxLimit int, filters ...string) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: defaultLimit}
	var err error
	if p.Limit, err = intParam(q, "limit", defaultLimit, 1, maxLimit); err != nil {
		return p, err
	}
	if p.Offset, err = intParam(q, "offset", 0, 0, maxOffset); err != nil {
		return p, err
	}
	for _, name := range filters {
		v, err := filterParam(q, name)
		if err != nil {
			return p, err
		}
		pageFilters[name](&p, v)
	}
	return p, nil
}

// intParam reads an integer query parameter within [lo, hi]; def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, invalidParam(fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi))
	}
	return n, nil
}

// filterParam reads a text filter. The dashboard sends "null", "NULL",
// "undefined" or "" for "no filter"; all of them mean absent.
func filterParam(q url.Values, name string) (string, error) {
	v := q.Get(name)
	switch v {
	case "null", "NULL", "undefined":
		return "", nil
	}
	if len(v) > maxFilterLen {
		return "", invalidParam(fmt.Sprintf("%s must be at most %d characters", name, maxFilterLen))
	}
	return v, nil
}

// envelope is one page of a list, the shape every paginated route answers.
type envelope[T any] struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Data   []T `json:"data"`
}

// pageOf wraps rows in the envelope; data is [] rather than null when empty.
func pageOf[T any](p store.Page, total int, rows []T) envelope[T] {
	if rows == nil {
		rows = []T{}
	}
	return envelope[T]{Total: total, Limit: p.Limit, Offset: p.Offset, Data: rows}
}

// list is the handler of a paginated collection: it parses the page and the
// filters it accepts, asks fetch for the rows and answers the envelope.
func list[T any](maxLimit int, fetch func(context.Context, store.Page) ([]T, int, error), filters ...string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *identity) error {
		p, err := parsePage(r, maxLimit, filters...)
		if err != nil {
			return err
		}
		rows, total, err := fetch(r.Context(), p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, pageOf(p, total, rows))
	}
}
