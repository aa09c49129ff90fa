//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

var (
	prometheusURL   = getenv("PROMETHEUS_URL", "http://127.0.0.1:"+dotenv("PROMETHEUS_PORT"))
	alertmanagerURL = getenv("ALERTMANAGER_URL", "http://127.0.0.1:"+dotenv("ALERTMANAGER_PORT"))
)

// getJSON decodes the JSON answer of a GET of url into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	r := call(t, http.MethodGet, url, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.status, r.body)
	}
	r.json(t, out)
}

// Prometheus evaluates every alerting rule without error and sends to Alertmanager, and an alert
// Alertmanager receives reaches the on-call mailbox in the mail catcher.
func TestAlertsReachTheOnCallMailbox(t *testing.T) {
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	getJSON(t, prometheusURL+"/api/v1/rules?type=alert", &rules)
	var names []string
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
			if r.Health == "err" {
				t.Errorf("alert %s: %s", r.Name, r.LastError)
			}
		}
	}
	for _, want := range []string{"EdgeLatencyOverBudget", "EdgeErrorRatioHigh", "WritesFailing", "PostgresNoPrimary",
		"ReplicaLagging", "DataStoreDown", "PgBouncerClientsWaiting", "QueueBacklog", "OutboxStale", "InstanceDown", "NoHealthyInstance",
		"HAPairAddressNotHeldOnce"} {
		if !slices.Contains(names, want) {
			t.Errorf("Prometheus has no alerting rule %s (it has %v)", want, names)
		}
	}

	var ams struct {
		Data struct {
			ActiveAlertmanagers []struct{ URL string }
		}
	}
	getJSON(t, prometheusURL+"/api/v1/alertmanagers", &ams)
	if len(ams.Data.ActiveAlertmanagers) != 1 {
		t.Errorf("Prometheus sends alerts to %v, want Alertmanager", ams.Data.ActiveAlertmanagers)
	}

	// An alert as Prometheus sends it, with a name no rule has and no earlier run had: its own
	// group (Alertmanager groups by name), and a word to find its mail by.
	name := unique("EndToEndProbe")
	r := call(t, http.MethodPost, alertmanagerURL+"/api/v2/alerts", []map[string]any{{
		"labels":      map[string]string{"alertname": name, "severity": "warning"},
		"annotations": map[string]string{"summary": "a probe of the alert path"},
		"startsAt":    time.Now().UTC().Format(time.RFC3339),
		"endsAt":      time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
	}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("Alertmanager took the alert with %d %s", r.status, r.body)
	}
	// group_wait is 10 s.
	deadline := time.Now().Add(40 * time.Second)
	for {
		if ms := mails(t, name, 5); len(ms) > 0 {
			m := ms[0]
			if want := fmt.Sprintf("[FIRING] %s: a probe of the alert path", name); m.Subject != want {
				t.Errorf("alert mail's subject %q, want %q", m.Subject, want)
			}
			if len(m.To) != 1 || m.To[0].Address != "on-call@flashcrowd.test" {
				t.Errorf("alert mail to %v, want on-call@flashcrowd.test", m.To)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail for the alert in the mail catcher 40 s after Alertmanager took it")
		}
		time.Sleep(time.Second)
	}
}

// exporterFamily is a metric name from an exporter of a program we did not write: Prometheus
// keeps only the families of these that something reads (infra/prometheus/prometheus.yml).
var (
	exporterFamily = regexp.MustCompile(`^(pg|haproxy|redis|etcd|patroni|pgbouncer|alertmanager|prometheus)_[a-z0-9_]+$`)
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlName     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	labelMatcher   = regexp.MustCompile(`^\s*(=~|!~|!=|=)\s*"`)
)

// familiesRead lists the exporter families a PromQL expression reads: its names that are not a
// recording rule's (with a colon), a label's (followed by a matcher) or inside a string.
func familiesRead(expr string) []string {
	expr = promqlString.ReplaceAllString(expr, `""`)
	var out []string
	for _, m := range promqlName.FindAllStringIndex(expr, -1) {
		if name := expr[m[0]:m[1]]; exporterFamily.MatchString(name) && !labelMatcher.MatchString(expr[m[1]:]) {
			out = append(out, name)
		}
	}
	return out
}

func TestFamiliesRead(t *testing.T) {
	got := familiesRead(`max(pg_up{job="postgres"}) == 0 or redis_up != 1 or sum by (proxy) (rate(haproxy_server_status{proxy="pg_write", pg_x!="a"}[1m])) > database:pgbouncer_clients:sum`)
	if want := []string{"pg_up", "redis_up", "haproxy_server_status"}; !slices.Equal(got, want) {
		t.Errorf("familiesRead = %v, want %v", got, want)
	}
}

// Every exporter family that a recording or alerting rule reads is scraped now: a rule over a
// family that the scrape drops would stay silent, not fail.
func TestRulesReadScrapedFamilies(t *testing.T) {
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Query string }
			}
		}
	}
	getJSON(t, prometheusURL+"/api/v1/rules", &rules)
	readBy := map[string][]string{} // family: the rules that read it
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			for _, family := range familiesRead(r.Query) {
				readBy[family] = append(readBy[family], r.Name)
			}
		}
	}
	if len(readBy) == 0 {
		t.Fatal("no rule reads an exporter's family: the test found nothing to check")
	}
	// Each family's newest sample, against the query's time: a series the scrape dropped keeps
	// answering instant queries for 5 minutes, with an ever older sample. The slowest job (the
	// Postgres exporters) is scraped every 60 s, and a fresh stack's first scrapes may take that
	// long: a sample under 90 s old is fresh, and the test asks again for 90 s.
	const fresh = 90 * time.Second
	deadline := time.Now().Add(fresh)
	for {
		for _, family := range slices.Sorted(maps.Keys(readBy)) {
			var got struct {
				Data struct {
					Result []struct {
						Value [2]any // the evaluation time, and "the newest sample's time"
					}
				}
			}
			q := "max(timestamp(" + family + "))"
			getJSON(t, prometheusURL+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &got)
			for _, r := range got.Data.Result {
				at, _ := r.Value[0].(float64)
				newest, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
				if at-newest < fresh.Seconds() {
					delete(readBy, family)
				}
			}
		}
		if len(readBy) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	for family, names := range readBy {
		t.Errorf("rules %v read %s, which Prometheus has not scraped in the last %v: is it in its job's keep list?", names, family, fresh)
	}
}
