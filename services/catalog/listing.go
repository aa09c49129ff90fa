package catalog

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Category is one node of the category tree. Products belong to leaves; listing a category
// lists its whole subtree.
type Category struct {
	ID       int32  `json:"id"`
	ParentID int32  `json:"parent_id,omitempty"` // 0 for a top-level category
	Slug     string `json:"slug"`
	Name     string `json:"name"`
}

// Tree is the category tree. It is reference data that only the seeder and migrations change,
// so each instance loads it once at start.
type Tree struct {
	all    []Category
	bySlug map[string]Category
	kids   map[int32][]int32
}

// NewTree indexes categories, parents before children or in any order.
func NewTree(all []Category) *Tree {
	t := &Tree{all: all, bySlug: make(map[string]Category, len(all)), kids: map[int32][]int32{}}
	for _, c := range all {
		t.bySlug[c.Slug] = c
		t.kids[c.ParentID] = append(t.kids[c.ParentID], c.ID)
	}
	return t
}

// All lists every category.
func (t *Tree) All() []Category { return t.all }

// Has reports whether category id exists.
func (t *Tree) Has(id int32) bool {
	for _, c := range t.all {
		if c.ID == id {
			return true
		}
	}
	return false
}

// Subtree returns the ids of the category named slug and of all its descendants.
func (t *Tree) Subtree(slug string) ([]int32, bool) {
	c, ok := t.bySlug[slug]
	if !ok {
		return nil, false
	}
	ids := []int32{c.ID}
	for i := 0; i < len(ids); i++ { // breadth first; the tree is small
		ids = append(ids, t.kids[ids[i]]...)
	}
	return ids, true
}

// Sort orders a listing. Every order ends with the product id, so it is total and a cursor
// names one exact position in it.
type Sort string

// The orders a listing may have.
const (
	SortID        Sort = "id"
	SortPrice     Sort = "price"
	SortPriceDesc Sort = "-price"
	SortName      Sort = "name"
	SortNewest    Sort = "newest"
)

// Sorts lists the valid orders, for error messages and tests.
var Sorts = []Sort{SortID, SortPrice, SortPriceDesc, SortName, SortNewest}

// Listing asks for one page of products.
type Listing struct {
	Categories []int32 // a category and its descendants; empty for all products
	MinPrice   int64   // in minor units
	MaxPrice   int64   // in minor units; MaxPriceCents for no bound
	InStock    bool
	Sort       Sort
	After      *Cursor // nil for the first page
	Limit      int
}

// Cursor is the position after the last product of a page: its sort key and id. Listing from
// a cursor (keyset pagination) returns each product once even while others are inserted,
// unlike an offset, which shifts when rows are inserted before it.
type Cursor struct {
	Sort    Sort      `json:"s"`
	ID      int64     `json:"i"`
	Price   int64     `json:"p,omitzero"`
	Name    string    `json:"n,omitzero"`
	Created time.Time `json:"c,omitzero"`
}

// CursorAfter is the cursor that continues a listing in order sort after product p.
func CursorAfter(sort Sort, p Product) Cursor {
	c := Cursor{Sort: sort, ID: p.ID}
	switch sort {
	case SortPrice, SortPriceDesc:
		c.Price = p.PriceCents
	case SortName:
		c.Name = p.Name
	case SortNewest:
		c.Created = p.CreatedAt
	}
	return c
}

// String encodes the cursor for a URL. It is opaque to clients: only its round trip matters.
func (c Cursor) String() string {
	b, _ := json.Marshal(c) // cannot fail: plain fields
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrCursor means a cursor was not made by this API for the requested order.
var ErrCursor = errors.New("cursor is not one this listing returned")

// ParseCursor decodes a cursor and checks that it continues a listing in order sort.
func ParseCursor(s string, sort Sort) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 512 || json.Unmarshal(b, &c) != nil || c.Sort != sort || c.ID < 1 || !Text(c.Name) {
		return Cursor{}, ErrCursor
	}
	return c, nil
}
