package main

import (
	"encoding/xml"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// node is any SVG element, decoded generically so the test reads the chart as a viewer would.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n node) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

// walk calls f on n and every element inside it.
func (n node) walk(f func(node)) {
	f(n)
	for _, c := range n.Nodes {
		c.walk(f)
	}
}

// title is the text of an element's <title> child: a marker's figures.
func (n node) title() string {
	for _, c := range n.Nodes {
		if c.XMLName.Local == "title" {
			return c.Text
		}
	}
	return ""
}

func p95(v float64) *float64 { return &v }

func TestChartPlotsEachStep(t *testing.T) {
	runs := [2]breakpointRun{{Steps: []step{
		{Rate: 25, AchievedRPS: 25, P95: p95(20), Sustained: true},
		{Rate: 50, AchievedRPS: 49.5, P95: p95(120), Sustained: true},
		{Rate: 75, AchievedRPS: 60, P95: p95(900)},
	}}, {Steps: []step{
		{Rate: 25, AchievedRPS: 25, P95: p95(15), Sustained: true},
		{Rate: 50, AchievedRPS: 50, P95: p95(18), Sustained: true},
		{Rate: 75, AchievedRPS: 74.2, P95: p95(30), Sustained: true},
		{Rate: 100, AchievedRPS: 0}, // sent nothing: an RPS point, no p95 point
	}}}
	runs[0].SLO.P95 = 250
	runs[0].Staircase.StepS, runs[0].Staircase.SettleS = 20, 5
	svg, err := chart([2]string{"naive", "full"}, runs)
	if err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal([]byte(svg), &root); err != nil {
		t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element is %v, want svg in the SVG namespace", root.XMLName)
	}

	// Labels: title, what was measured, both panels, both axes' units, the legend.
	texts := map[string]node{}
	root.walk(func(n node) {
		if n.XMLName.Local == "text" {
			if _, seen := texts[n.Text+"|"+n.attr("class")]; !seen {
				texts[n.Text+"|"+n.attr("class")] = n
			}
		}
	})
	for _, want := range []string{
		"Breakpoint staircase: naive vs full",
		"Per step, as k6 measured it over the last 15 s of each 20 s step; hollow: the step missed the SLO",
		"Requests per second achieved", "req/s", "p95 latency (log scale)", "p95",
		"Step of the staircase: rate offered (req/s)", "naive", "full", "SLO p95 250 ms",
	} {
		if _, ok := texts[want+"|"]; !ok {
			t.Errorf("no label %q", want)
		}
	}
	tick := func(label, class string) node {
		n, ok := texts[label+"|"+class]
		if !ok {
			t.Fatalf("no %s label %q", class, label)
		}
		return n
	}

	// Markers, by their tooltips: every step on the RPS panel, every step with a p95 on the other.
	markers := map[string]node{}
	root.walk(func(n node) {
		if n.XMLName.Local == "circle" && n.title() != "" {
			markers[n.title()] = n
		}
	})
	if len(markers) != 7+6 {
		t.Errorf("%d markers, want 7 for RPS and 6 for p95", len(markers))
	}
	marker := func(title string) node {
		n, ok := markers[title]
		if !ok {
			t.Fatalf("no marker %q", title)
		}
		return n
	}
	if _, ok := markers["full, 100/s step: p95 0 ms"]; ok {
		t.Error("a step without requests was given a p95")
	}

	// Each marker sits where its axes say: x and the RPS axis are linear from "0" to "100",
	// the p95 axis logarithmic from "10 ms" to "1 s".
	x0, x100 := tick("0", "xtick").num(t, "x"), tick("100", "xtick").num(t, "x")
	y0, y100 := tick("0", "ytick").num(t, "y"), tick("100", "ytick").num(t, "y")
	y10ms, y1s := tick("10 ms", "ytick").num(t, "y"), tick("1 s", "ytick").num(t, "y")
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 0.1 {
			t.Errorf("%s at %.1f, want %.1f", what, got, want)
		}
	}
	for _, c := range []struct {
		title     string
		rate, rps float64
		colour    string
	}{
		{"naive, 50/s step: 49.5 req/s achieved", 50, 49.5, modeColours[0]},
		{"full, 75/s step: 74.2 req/s achieved", 75, 74.2, modeColours[1]},
		{"full, 100/s step: 0 req/s achieved", 100, 0, modeColours[1]},
	} {
		m := marker(c.title)
		near(c.title+" x", m.num(t, "cx"), x0+(x100-x0)*c.rate/100)
		near(c.title+" y", m.num(t, "cy"), y0+(y100-y0)*c.rps/100)
		if m.attr("stroke") != c.colour {
			t.Errorf("%s drawn in %s, want %s", c.title, m.attr("stroke"), c.colour)
		}
	}
	if marker("naive, 25/s step: 25 req/s achieved").attr("stroke") == marker("full, 25/s step: 25 req/s achieved").attr("stroke") {
		t.Error("both modes are drawn in one colour")
	}
	m := marker("naive, 50/s step: p95 120 ms")
	near("naive 50/s p95 x", m.num(t, "cx"), x0+(x100-x0)*50/100)
	near("naive 50/s p95 y", m.num(t, "cy"), y10ms+(y1s-y10ms)*(math.Log10(120)-1)/2)

	// A step that missed the SLO is a ring, one that held it a disc.
	if f := marker("naive, 75/s step: p95 900 ms").attr("fill"); f != "white" {
		t.Errorf("a failed step is filled %s, want a ring", f)
	}
	if f := marker("naive, 50/s step: p95 120 ms").attr("fill"); f != modeColours[0] {
		t.Errorf("a sustained step is filled %s, want %s", f, modeColours[0])
	}
}

func TestChartNeedsSteps(t *testing.T) {
	var runs [2]breakpointRun
	runs[0].Steps = []step{{Rate: 25, AchievedRPS: 25, P95: p95(20), Sustained: true}}
	if _, err := chart([2]string{"naive", "full"}, runs); err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("a mode without steps: got %v, want an error naming it", err)
	}
}

func TestChartEscapesText(t *testing.T) {
	runs := [2]breakpointRun{{Steps: []step{{Rate: 25, AchievedRPS: 25, P95: p95(20)}}}, {Steps: []step{{Rate: 25}}}}
	svg, err := chart([2]string{"a<b", "c&d"}, runs)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(svg), new(node)); err != nil {
		t.Fatalf("mode names broke the XML: %v", err)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		hi   float64
		want []float64
	}{
		{100, []float64{0, 20, 40, 60, 80, 100}},
		{101, []float64{0, 50, 100, 150}},
		{830, []float64{0, 200, 400, 600, 800, 1000}},
		{3, []float64{0, 1, 2, 3}},
	} {
		if got := niceTicks(c.hi); !reflect.DeepEqual(got, c.want) {
			t.Errorf("niceTicks(%g) = %v, want %v", c.hi, got, c.want)
		}
	}
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{12, 900, []float64{10, 100, 1000}},
		{20, 30, []float64{10, 100}},
		{100, 100, []float64{100, 1000}},
		{3, 4500, []float64{1, 10, 100, 1000, 10000}},
	} {
		if got := logTicks(c.lo, c.hi); !reflect.DeepEqual(got, c.want) {
			t.Errorf("logTicks(%g, %g) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	for v, want := range map[float64]string{250: "250 ms", 12.54: "12.5 ms", 1000: "1 s", 2500: "2.5 s"} {
		if got := msLabel(v); got != want {
			t.Errorf("msLabel(%g) = %q, want %q", v, got, want)
		}
	}
}
