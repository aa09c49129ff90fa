package storefront

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// statusEvery is how often the storefront asks whether the shop takes changes. With the edge
// keeping a page up to 10 s, a banner appears (and goes) within about 15 s of the primary.
const statusEvery = 2 * time.Second

// writeStatus says whether the shop is read-only (no primary: a failover under way), from the
// catalog's GET /api/v1/status. It asks in the background, at most every statusEvery and only
// while pages are shown: a page never waits for it, and an idle shop asks nothing. Until the
// first answer, and when the catalog cannot say, it keeps what it last knew.
type writeStatus struct {
	ask func(context.Context) (bool, error) // true: writes are taken
	log *slog.Logger

	mu       sync.Mutex
	readOnly bool
	asked    time.Time
	asking   bool
}

// ReadOnly is the last answer; it starts a new question when that one is old.
func (s *writeStatus) ReadOnly() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.asking && time.Since(s.asked) >= statusEvery {
		s.asking = true
		go s.refresh()
	}
	return s.readOnly
}

func (s *writeStatus) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), statusEvery)
	defer cancel()
	writable, err := s.ask(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asking, s.asked = false, time.Now()
	if err != nil {
		s.log.Warn("ask whether the shop takes changes", "err", err)
		return
	}
	if readOnly := !writable; readOnly != s.readOnly {
		s.log.Info("read-only mode changed", "read_only", readOnly)
		s.readOnly = readOnly
	}
}
