package httpapi

import (
	"net/http"
	"testing"
)

func TestStatusSaysWhetherWritesAreTaken(t *testing.T) {
	for _, c := range []struct {
		noPrimary bool
		want      string
	}{
		{false, `{"writes":"available"}`},
		{true, `{"writes":"unavailable"}`},
	} {
		a := newAPI(t)
		a.noPrimary.Store(c.noPrimary)
		for range 3 {
			w := a.do("GET", "/api/v1/status", "")
			checkAnswer(t, w, http.StatusOK, "Cache-Control", "private, no-store")
			if got := w.Body.String(); got != c.want+"\n" {
				t.Errorf("no primary %v: %s, want %s", c.noPrimary, got, c.want)
			}
		}
		// The gateways poll it: one database check answers every request within a second.
		if n := a.checks.Load(); n != 1 {
			t.Errorf("%d database checks for 3 requests in a row, want 1", n)
		}
	}
}
