package catalog

import (
	"slices"
	"testing"
	"time"
)

func TestTreeSubtree(t *testing.T) {
	tree := NewTree([]Category{
		{ID: 1, Slug: "home"},
		{ID: 100, ParentID: 1, Slug: "lighting"},
		{ID: 101, ParentID: 1, Slug: "textiles"},
		{ID: 2, Slug: "office"},
		{ID: 102, ParentID: 2, Slug: "desk"},
	})
	tests := []struct {
		slug string
		want []int32
	}{
		{"home", []int32{1, 100, 101}},
		{"lighting", []int32{100}},
		{"office", []int32{2, 102}},
		{"garden", nil},
	}
	for _, tt := range tests {
		got, ok := tree.Subtree(tt.slug)
		slices.Sort(got)
		if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("Subtree(%q) = %v, %v; want %v", tt.slug, got, ok, tt.want)
		}
	}
	if !tree.Has(102) || tree.Has(103) {
		t.Error("Has: wrong answer for 102 or 103")
	}
}

func TestCursorRoundTrip(t *testing.T) {
	p := Product{ID: 42, PriceCents: 1999, Name: "Oak Lamp", CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)}
	for _, sort := range Sorts {
		c := CursorAfter(sort, p)
		got, err := ParseCursor(c.String(), sort)
		if err != nil {
			t.Fatalf("%s: %v", sort, err)
		}
		if got.ID != 42 || got.Price != c.Price || got.Name != c.Name || !got.Created.Equal(c.Created) {
			t.Errorf("%s: round trip gave %+v, want %+v", sort, got, c)
		}
		for _, other := range Sorts {
			if _, err := ParseCursor(c.String(), other); other != sort && err == nil {
				t.Errorf("a %s cursor was accepted for sort %s", sort, other)
			}
		}
	}
	nul := Cursor{Sort: SortName, ID: 1, Name: "a\x00"}.String()
	if _, err := ParseCursor(nul, SortName); err == nil {
		t.Error("a cursor holding NUL was accepted")
	}
	for _, bad := range []string{"", "x", "!!!", Cursor{Sort: SortID}.String(), "eyJzIjoiaWQiLCJpIjoxfQ=="} {
		if _, err := ParseCursor(bad, SortID); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func TestStockAdjustmentValid(t *testing.T) {
	for delta, ok := range map[int32]bool{1: true, -5: true, MaxStock: true, 0: false, -MaxStock - 1: false} {
		if got := len(StockAdjustment{Delta: delta}.Valid()) == 0; got != ok {
			t.Errorf("delta %d: valid %v, want %v", delta, got, ok)
		}
	}
}
