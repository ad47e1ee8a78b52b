package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// panelsRe is the overview from the chart to the top services: what the
// counters feed.
var panelsRe = regexp.MustCompile(`(?s)<h2 id="chart-h">.*<h2 id="captures-h">`)

// TestOverviewCountsAdvance: events stored after the first look show on
// the next one exactly as a fresh start would count them.
func TestOverviewCountsAdvance(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("vera", roleViewer, false)
	b := e.browser()
	b.login("vera", testPassword)
	before := panelsRe.FindString(b.do("GET", "/ui/", nil).Body.String())

	// A busy new address on a service nobody used, over several batches.
	for k := range 3 {
		var evs []event.Event
		for i := range 7 {
			x := event.New("decky-02", "smb", event.TypeRequest)
			x.ID = fmt.Sprintf("0190a000-0000-7000-8000-%012d", 500+k*10+i)
			x.Time, x.SrcIP, x.Session = testNow.Add(-time.Duration(90-k)*time.Minute), "192.0.2.77", fmt.Sprintf("smb-%d", k)
			evs = append(evs, x)
		}
		if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	after := panelsRe.FindString(b.do("GET", "/ui/", nil).Body.String())
	if after == before || !strings.Contains(after, "192.0.2.77") || !strings.Contains(after, `href="/ui/attackers?service=smb">smb</a></td><td class="num">3</td><td class="num">1</td>`) {
		t.Fatalf("the overview did not count the new events:\n%s", after)
	}
	e.d.counts = overviewCounts{}
	fresh := panelsRe.FindString(b.do("GET", "/ui/", nil).Body.String())
	if fresh != after {
		t.Errorf("advanced counters differ from a fresh start:\n--- advanced ---\n%s\n--- fresh ---\n%s", after, fresh)
	}
}

// TestEventsCountCapped: a filter matching more events than are counted
// says so ("5,000+") and still offers the next page.
func TestEventsCountCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 5 100 events")
	}
	e := newEnv(t)
	var evs []event.Event
	for i := range eventsCounted + 100 {
		x := event.New("decky-01", "ssh", event.TypeCommand)
		x.Time, x.SrcIP, x.Fields = testNow.Add(-time.Duration(i)*time.Second), "192.0.2.9", map[string]any{"command": "id"}
		evs = append(evs, x)
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	e.addUser("vera", roleViewer, false)
	b := e.browser()
	b.login("vera", testPassword)
	for _, tc := range []struct{ name, path, want string }{
		{"first page", "/ui/events?type=command", "1–50 of " + num(5000) + "+</span>"},
		{"counted ten pages on", "/ui/events?type=command&page=100", num(4951) + "–" + num(5000) + " of " + num(5100) + "</span>"},
		{"last page", "/ui/events?type=command&page=102", "Page 102 of 102</span>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := b.do("GET", tc.path, nil).Body.String()
			if !strings.Contains(body, tc.want) {
				t.Errorf("GET %s lacks %q:\n%s", tc.path, tc.want, regexp.MustCompile(`(?s)<nav class="pager.*?</nav>`).FindString(body))
			}
		})
	}
}
