package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
)

var testTree = catalog.NewTree([]catalog.Category{
	{ID: 1, Slug: "home"}, {ID: 100, ParentID: 1, Slug: "lighting"}, {ID: 101, ParentID: 1, Slug: "textiles"},
})

// FuzzParseListing feeds arbitrary query strings to the listing's parser: it must answer a
// listing or a 400 problem, never panic, and a listing it accepts must be one the store can run.
func FuzzParseListing(f *testing.F) {
	for _, seed := range []string{
		"", "category=home&sort=-price&in_stock=true&limit=100", "min_price=5&max_price=1",
		"sort=price&cursor=" + catalog.CursorAfter(catalog.SortPrice, catalog.Product{ID: 3, PriceCents: 9}).String(),
		"category=%FF", "limit=-1", "cursor=e30", "sort=name&cursor=eyJzIjoibmFtZSIsImkiOjEsIm4iOiJcdTAwMDAifQ", "sort=newest&cursor=eyJzIjoibmV3ZXN0IiwiaSI6MSwiYyI6IngifQ",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		l, key, err := parseListing(q, testTree)
		if err != nil {
			var p *web.Problem
			if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v, want a 400 problem", raw, err)
			}
			return
		}
		if key == "" || l.Limit < 1 || l.Limit > maxLimit || l.MinPrice > l.MaxPrice ||
			(l.After != nil && (l.After.Sort != l.Sort || !catalog.Text(l.After.Name))) {
			t.Fatalf("%q: accepted an invalid listing %+v", raw, l)
		}
	})
}

func TestParseListing(t *testing.T) {
	l, key, err := parseListing(url.Values{"category": {"home"}, "sort": {"-price"}, "in_stock": {"true"}}, testTree)
	if err != nil || len(l.Categories) != 3 || l.Sort != catalog.SortPriceDesc || !l.InStock || l.Limit != defaultLimit {
		t.Fatalf("parse: %+v %v", l, err)
	}
	// Parameters that do not change the listing do not change its cache key.
	_, same, _ := parseListing(url.Values{"category": {"home"}, "sort": {"-price"}, "in_stock": {"true"}, "utm_source": {"x"}, "limit": {"20"}}, testTree)
	if same != key {
		t.Errorf("cache keys %q and %q differ for the same listing", key, same)
	}
}
