//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
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
