package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// statusView is GET /api/v1/status: whether the shop takes changes now. Writes are
// "unavailable" while no primary answers (a failover under way): reads go on, from the
// replicas and the caches, and every write answers a fast 503 with Retry-After. The storefront
// shows a banner from it; any client may.
type statusView struct {
	Writes string `json:"writes"` // available or unavailable
}

// writeProbe asks the database whether it takes writes at most once per statusTTL, however
// many ask: the gateways poll it.
type writeProbe struct {
	check web.Check
	mu    sync.Mutex
	at    time.Time
	ok    bool
}

const statusTTL = time.Second

func (p *writeProbe) writable(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < statusTTL {
		return p.ok
	}
	// A primary that does not answer within the second counts as none: the answer must be fast.
	// The answer serves every caller for a second, so one caller leaving does not cut it short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTTL)
	defer cancel()
	err := p.check(ctx)
	if err != nil {
		web.Log(ctx).Warn("the database takes no writes", "err", err)
	}
	p.ok, p.at = err == nil, time.Now()
	return p.ok
}

func handleStatus(p *writeProbe) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v := statusView{Writes: "available"}
		if !p.writable(r.Context()) {
			v.Writes = "unavailable"
		}
		w.Header().Set("Cache-Control", web.CachePrivate)
		web.Respond(w, http.StatusOK, v)
		return nil
	}
}
