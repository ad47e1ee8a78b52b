package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// List sizes.
const (
	overviewTop    = 8   // rows in each overview panel
	rateWindow     = 500 // newest events looked at for events/min
	eventsPageSize = 50
	eventsCounted  = 5000 // matches of a filter counted at least (see events)
	attackersPage  = 25
	detailRows     = 50 // sessions, commands, credentials, timeline on a profile
	chartHours     = 24
)

// overviewData is the Overview screen.
type overviewData struct {
	Now          time.Time
	Counters     counters
	Chart        chart
	TopAttackers []store.Attacker
	TopServices  []store.ServiceCount
	MaxService   int
	Captures     []store.Credential
	Latest       []store.EventRow
	LastID       int64
}

// counters are the live numbers at the top of the overview.
type counters struct {
	Attackers, Sessions, Credentials, Events, Deckies int
	PerMinute                                         int
	PerMinuteCapped                                   bool // the window held only rateWindow events
}

// overview is the landing page. GET /ui/.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	now := d.now()
	v := overviewData{Now: now}
	var err error
	if v.Counters, v.Latest, err = d.counters(r, now); err != nil {
		return err
	}
	if len(v.Latest) > 0 {
		v.LastID = v.Latest[0].ID
	}
	if len(v.Latest) > 10 {
		v.Latest = v.Latest[:10]
	}
	if v.Chart, v.TopAttackers, v.TopServices, err = d.aggregates(ctx, now); err != nil {
		return err
	}
	for _, c := range v.TopServices {
		v.MaxService = max(v.MaxService, c.Sessions)
	}
	if v.Captures, err = d.st.LatestCredentials(ctx, overviewTop); err != nil {
		return err
	}
	return d.renderPage(w, r, s, http.StatusOK, "overview", "Overview", v)
}

// Warm builds the overview's counters ahead of the first visit: the first
// build reads the whole events table once (seconds on a million events),
// and a page should not wait for it. Errors are left for that visit to
// report; run it in its own goroutine.
func (d *Dashboard) Warm(ctx context.Context) {
	if _, _, _, err := d.aggregates(ctx, time.Now()); err != nil && ctx.Err() == nil {
		d.log.Warn("web: cannot build the overview counters ahead", "err", err)
	}
}

// aggregates advances the overview's counters with the events stored
// since the last look and reads the chart, the busiest addresses and the
// services with most sessions from them.
func (d *Dashboard) aggregates(ctx context.Context, now time.Time) (chart, []store.Attacker, []store.ServiceCount, error) {
	d.counts.mu.Lock()
	defer d.counts.mu.Unlock()
	if err := d.counts.advance(ctx, d.st, now); err != nil {
		return chart{}, nil, nil, err
	}
	since := now.Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	hist, top, svcs := d.counts.snapshot(since, overviewTop)
	attackers := make([]store.Attacker, 0, len(top))
	for _, t := range top {
		a, err := d.st.AttackerByIP(ctx, t.IP)
		if errors.Is(err, store.ErrNotFound) {
			continue // not profiled yet
		}
		if err != nil {
			return chart{}, nil, nil, err
		}
		attackers = append(attackers, a)
	}
	return hourlyChart(hist, since, chartHours), attackers, svcs, nil
}

// counters reads the overview numbers and the newest events they were
// derived from (events/min counts those of the last minute).
func (d *Dashboard) counters(r *http.Request, now time.Time) (counters, []store.EventRow, error) {
	st, err := d.st.DashboardStats(r.Context())
	if err != nil {
		return counters{}, nil, err
	}
	latest, _, err := d.st.Events(r.Context(), store.Page{Limit: rateWindow})
	if err != nil {
		return counters{}, nil, err
	}
	c := counters{Attackers: st.Attackers, Sessions: st.Sessions, Credentials: st.Credentials, Events: st.Events, Deckies: st.Deckies}
	cut := now.Add(-time.Minute)
	for _, e := range latest {
		if e.Time.Before(cut) {
			break
		}
		c.PerMinute++
	}
	c.PerMinuteCapped = c.PerMinute == rateWindow
	return c, latest, nil
}

// eventFilter is the filter of the live events table, from the query.
type eventFilter struct {
	Decky, Service, Type, IP, Q string
}

func parseEventFilter(q url.Values) eventFilter {
	return eventFilter{
		Decky: strings.TrimSpace(q.Get("decky")), Service: strings.TrimSpace(q.Get("service")),
		Type: strings.TrimSpace(q.Get("type")), IP: strings.TrimSpace(q.Get("ip")), Q: strings.TrimSpace(q.Get("q")),
	}
}

// match reports whether e passes the filter (the stream filters in Go what
// the store filters in SQL; free text is left to the store).
func (f eventFilter) match(e store.EventRow) bool {
	return (f.Decky == "" || e.Decky == f.Decky) && (f.Service == "" || e.Service == f.Service) &&
		(f.Type == "" || e.Type == f.Type) && (f.IP == "" || e.AttackerIP == f.IP)
}

// streamQuery is the filter as the stream URL's query.
func (f eventFilter) streamQuery() string {
	v := url.Values{}
	for k, s := range map[string]string{"decky": f.Decky, "service": f.Service, "type": f.Type, "ip": f.IP} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// eventsData is the Live events screen.
type eventsData struct {
	Now       time.Time
	Filter    eventFilter
	Rows      []store.EventRow
	Total     int
	Page      pager
	Query     url.Values
	StreamURL string
	Deckies   []string
	Types     []string
}

// events is the live events table. GET /ui/events?decky=&service=&type=&ip=&q=&page=.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	f := parseEventFilter(q)
	pg := newPager(q, eventsPageSize)
	// A filtered list is counted up to ten pages past this one, at least
	// eventsCounted rows: an exact count would scan every event.
	counted := max(eventsCounted, pg.Offset()+10*pg.Size)
	rows, total, err := d.st.EventsCapped(r.Context(), store.Page{Limit: pg.Size, Offset: pg.Offset(), Search: f.Q,
		AttackerIP: f.IP, Service: f.Service, Decky: f.Decky, Type: f.Type}, counted+1)
	if err != nil {
		return err
	}
	if total > counted {
		total, pg.AtLeast = counted, true
	}
	pg.setTotal(total)
	v := eventsData{Now: d.now(), Filter: f, Rows: rows, Total: total, Page: pg, Query: q,
		Types: []string{"connect", "disconnect", "login_attempt", "command", "request", "file_captured"}}
	if pg.Number == 1 && f.Q == "" {
		var last int64
		if len(rows) > 0 {
			last = rows[0].ID
		} else if last, err = d.st.MaxEventID(r.Context()); err != nil {
			return err
		}
		v.StreamURL = "/ui/stream?" + f.streamQuery()
		if !strings.HasSuffix(v.StreamURL, "?") {
			v.StreamURL += "&"
		}
		v.StreamURL += "after=" + strconv.FormatInt(last, 10)
	}
	deckies, err := d.st.Deckies(r.Context())
	if err != nil {
		return err
	}
	for _, dk := range deckies {
		v.Deckies = append(v.Deckies, dk.Name)
	}
	return d.renderPage(w, r, s, http.StatusOK, "events", "Live events", v)
}

// eventDetail shows every field of one event. GET /ui/events/{id}.
func (d *Dashboard) eventDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errNotFound
	}
	row, err := d.st.EventByID(r.Context(), id)
	if err != nil {
		return err
	}
	return d.renderPage(w, r, s, http.StatusOK, "event", "Event "+strconv.FormatInt(id, 10), struct {
		Now   time.Time
		Event store.EventRow
	}{d.now(), row})
}

// attackersData is the Attackers list.
type attackersData struct {
	Now     time.Time
	Rows    []store.Attacker
	Total   int
	Page    pager
	Query   url.Values
	Search  string
	Service string
	Sort    string
	Sorts   []option
}

type option struct{ Value, Label string }

var attackerSorts = []option{
	{store.SortRecent, "Most recent"},
	{store.SortActive, "Most active"},
	{store.SortTraversals, "Crossed deckies"},
}

// attackers lists attacker profiles. GET /ui/attackers?q=&service=&sort=&page=.
func (d *Dashboard) attackers(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	v := attackersData{Now: d.now(), Query: q, Search: strings.TrimSpace(q.Get("q")),
		Service: strings.TrimSpace(q.Get("service")), Sort: q.Get("sort"), Sorts: attackerSorts}
	if !slices.ContainsFunc(attackerSorts, func(o option) bool { return o.Value == v.Sort }) {
		v.Sort = store.SortRecent
	}
	v.Page = newPager(q, attackersPage)
	var err error
	v.Rows, v.Total, err = d.st.AttackersSorted(r.Context(), store.Page{Limit: v.Page.Size, Offset: v.Page.Offset(),
		Search: v.Search, Service: v.Service}, v.Sort)
	if err != nil {
		return err
	}
	v.Page.setTotal(v.Total)
	return d.renderPage(w, r, s, http.StatusOK, "attackers", "Attackers", v)
}

// attackerData is one attacker's profile.
type attackerData struct {
	Now          time.Time
	A            store.Attacker
	Activity     store.ServiceActivity
	Timeline     []store.EventRow
	TimelineN    int
	Sessions     []store.Session
	SessionsN    int
	Commands     []store.Command
	CommandsN    int
	Credentials  []store.Credential
	CredentialsN int
	TTP          []ttpRow // ATT&CK rollup; rows open the inspector drawer
	// Recordings maps a session id to the event that names its
	// recording, for the Replay links.
	Recordings    map[string]int64
	attackerIntel // profile, intel, fingerprints, files, behaviour
}

// attackerDetail is one profile: profile and intel, TTP, behaviour,
// fingerprints, files, sessions, commands, credentials and timeline.
// GET /ui/attackers/{uuid}.
func (d *Dashboard) attackerDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	a, err := d.st.AttackerByUUID(ctx, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	v := attackerData{Now: d.now(), A: a}
	if v.Activity, err = d.st.AttackerServiceActivity(ctx, a.IP); err != nil {
		return err
	}
	if v.Timeline, v.TimelineN, err = d.st.Events(ctx, store.Page{AttackerIP: a.IP, Limit: detailRows}); err != nil {
		return err
	}
	if v.Sessions, v.SessionsN, err = d.st.Sessions(ctx, store.Page{AttackerIP: a.IP, Limit: detailRows}); err != nil {
		return err
	}
	if v.Commands, v.CommandsN, err = d.st.Commands(ctx, a.IP, detailRows, 0); err != nil {
		return err
	}
	if v.Credentials, v.CredentialsN, err = d.st.Credentials(ctx, store.Page{AttackerIP: a.IP, Limit: detailRows}); err != nil {
		return err
	}
	if v.TTP, err = d.attackerTTP(ctx, a.UUID); err != nil {
		return err
	}
	if v.Recordings, err = d.recordingsOf(ctx, a.IP); err != nil {
		return err
	}
	if v.attackerIntel, err = d.intelOf(ctx, a); err != nil {
		return err
	}
	return d.renderPage(w, r, s, http.StatusOK, "attacker", "Attacker "+a.IP, v)
}

// pager is the position in a paginated list.
type pager struct {
	Number, Size, Total, Pages int
	// AtLeast is set when Total is a lower bound: the list was counted up
	// to Total and has more.
	AtLeast bool
}

const maxPage = 100000

func newPager(q url.Values, size int) pager {
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 {
		n = 1
	}
	return pager{Number: min(n, maxPage), Size: size}
}

func (p pager) Offset() int { return (p.Number - 1) * p.Size }

func (p *pager) setTotal(total int) {
	p.Total = total
	p.Pages = max(1, (total+p.Size-1)/p.Size)
}

// First and Last are the 1-based positions of the rows shown.
func (p pager) First() int {
	if p.Total == 0 {
		return 0
	}
	return p.Offset() + 1
}

func (p pager) Last() int { return min(p.Offset()+p.Size, p.Total) }

func (p pager) HasPrev() bool { return p.Number > 1 }
func (p pager) HasNext() bool { return p.Number < p.Pages || p.AtLeast }
func (p pager) Prev() int     { return p.Number - 1 }
func (p pager) Next() int     { return p.Number + 1 }
