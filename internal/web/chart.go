package web

import (
	"fmt"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// Chart geometry, in SVG user units; the SVG scales to its box.
const (
	chartW      = 720
	chartH      = 160
	chartLeft   = 44 // room for the y labels
	chartBottom = 20 // room for the x labels
	chartTop    = 8
)

// chart is an events-over-time bar chart, laid out here so the template
// only draws: no JavaScript, nothing to load.
type chart struct {
	W, H    int
	Bars    []bar
	YTicks  []tick
	XTicks  []tick
	Total   int
	Max     int
	Summary string // the chart in words, for screen readers
}

type bar struct {
	X, Y, W, H float64
	Label      string // "14:00–15:00 UTC: 42 events"
}

type tick struct {
	Pos   float64
	Label string
}

// hourlyChart lays out n hourly buckets from since; buckets the store left
// out (no events) are drawn as zero.
func hourlyChart(hist []store.HistogramBucket, since time.Time, n int) chart {
	counts := make([]int, n)
	for _, b := range hist {
		t, err := time.ParseInLocation(time.DateTime, b.Time, time.UTC)
		if err != nil {
			continue
		}
		if i := int(t.Sub(since.UTC()) / time.Hour); i >= 0 && i < n {
			counts[i] += b.Count
		}
	}
	c := chart{W: chartW, H: chartH}
	for _, v := range counts {
		c.Total += v
		c.Max = max(c.Max, v)
	}
	top := niceCeil(c.Max)
	plotW := float64(chartW - chartLeft)
	plotH := float64(chartH - chartBottom - chartTop)
	slot := plotW / float64(n)
	for i, v := range counts {
		h := 0.0
		if top > 0 {
			h = plotH * float64(v) / float64(top)
		}
		start := since.UTC().Add(time.Duration(i) * time.Hour)
		c.Bars = append(c.Bars, bar{
			X: round1(chartLeft + float64(i)*slot + 1), W: round1(slot - 2),
			Y: round1(chartTop + plotH - h), H: round1(h),
			Label: fmt.Sprintf("%s–%s UTC: %s events", start.Format("15:04"), start.Add(time.Hour).Format("15:04"), num(v)),
		})
		if i%6 == 0 {
			c.XTicks = append(c.XTicks, tick{Pos: round1(chartLeft + float64(i)*slot), Label: start.Format("15:04")})
		}
	}
	for _, f := range []int{0, 1, 2} {
		val := top * f / 2
		c.YTicks = append(c.YTicks, tick{Pos: round1(chartTop + plotH - plotH*float64(f)/2), Label: num(val)})
	}
	c.Summary = fmt.Sprintf("Events per hour over the last %d hours: %s in total, at most %s in one hour.", n, num(c.Total), num(c.Max))
	return c
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, so axis labels
// are round numbers.
func niceCeil(n int) int {
	if n <= 0 {
		return 0
	}
	p := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
		p *= 10
	}
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
