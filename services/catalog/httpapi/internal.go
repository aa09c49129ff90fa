package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// MaxStockChanges bounds one notification: an order has at most this many lines.
const MaxStockChanges = 100

// stockChanges is what the orders service sends after a transaction that changed stock (a
// checkout takes it, a cancellation returns it): the commit's LSN and each product's stock
// before and after.
type stockChanges struct {
	LSN     string        `json:"lsn"`
	Changes []stockChange `json:"changes"`
}

type stockChange struct {
	ProductID int64 `json:"product_id"`
	Stock     int32 `json:"stock"`
	Was       int32 `json:"was"`
}

func (s *stockChanges) Valid() map[string]string {
	problems := map[string]string{}
	if _, err := parseLSN(s.LSN); err != nil {
		problems["lsn"] = "must be a WAL position: bytes as a decimal number, or Postgres's X/Y form"
	}
	if len(s.Changes) == 0 || len(s.Changes) > MaxStockChanges {
		problems["changes"] = fmt.Sprintf("must list 1 to %d changes", MaxStockChanges)
	}
	for i, c := range s.Changes {
		if c.ProductID <= 0 || c.Stock < 0 || c.Was < 0 {
			problems[fmt.Sprintf("changes[%d]", i)] = "needs a product_id above 0 and stock and was of 0 or more"
		}
	}
	return problems
}

// parseLSN returns a WAL position as the decimal byte count the cache records ("" stays "").
func parseLSN(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.Contains(s, "/") {
		n, err := db.ParseLSN(s)
		if err != nil {
			return "", err
		}
		return strconv.FormatUint(n, 10), nil
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", fmt.Errorf("lsn %q: not a number", s)
	}
	return s, nil
}

// handleStockChanges drops the changed products from every cache, the way an admin write does,
// so a sold-out product shows as sold out everywhere at once. Listing pages are dropped only
// when a product crosses zero (sold out, or back in stock): for the rest, a listing's stock
// may lag its TTL, and a burst of orders leaves the listing caches alone.
func handleStockChanges(wr writer) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in stockChanges
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		lsn, _ := parseLSN(in.LSN) // Valid has checked it
		for _, c := range in.Changes {
			crossed := (c.Stock == 0) != (c.Was == 0)
			invalidate := wr.cache.InvalidateProduct
			if crossed {
				invalidate = wr.cache.Invalidate
			}
			if err := invalidate(r.Context(), c.ProductID, lsn); err != nil {
				web.Log(r.Context()).Warn("cache invalidation failed", "product_id", c.ProductID, "err", err)
			}
			if err := wr.purge.Product(r.Context(), c.ProductID); err != nil {
				web.Log(r.Context()).Warn("edge cache purge failed", "product_id", c.ProductID, "err", err)
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
