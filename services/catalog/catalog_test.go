package catalog

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestNewProductValid(t *testing.T) {
	good := NewProduct{SKU: "FC-1000", Name: "Kettle", PriceCents: 1999, Currency: "EUR", Stock: 3}
	if errs := good.Valid(); len(errs) != 0 {
		t.Fatalf("valid product rejected: %v", errs)
	}
	tests := []struct {
		field  string
		mutate func(*NewProduct)
	}{
		{"sku", func(p *NewProduct) { p.SKU = "x" }},
		{"sku", func(p *NewProduct) { p.SKU = "lower-case" }},
		{"name", func(p *NewProduct) { p.Name = "   " }},
		{"name", func(p *NewProduct) { p.Name = strings.Repeat("é", MaxNameLen+1) }},
		{"price_cents", func(p *NewProduct) { p.PriceCents = -1 }},
		{"price_cents", func(p *NewProduct) { p.PriceCents = MaxPriceCents + 1 }},
		{"currency", func(p *NewProduct) { p.Currency = "euro" }},
		{"stock", func(p *NewProduct) { p.Stock = -5 }},
		{"category_id", func(p *NewProduct) { p.CategoryID = -1 }},
		{"name", func(p *NewProduct) { p.Name = "Ket\x00tle" }},
		{"description", func(p *NewProduct) { p.Description = "\x00" }},
		{"attributes", func(p *NewProduct) { p.Attributes = Attrs{"colour": "r\x00d"} }},
		{"attributes", func(p *NewProduct) { p.Attributes = Attrs{"Colour": "red"} }},
		{"attributes", func(p *NewProduct) { p.Attributes = Attrs{"colour": strings.Repeat("r", MaxAttrValueLen+1)} }},
	}
	for _, tt := range tests {
		p := good
		tt.mutate(&p)
		if _, ok := p.Valid()[tt.field]; !ok {
			t.Errorf("%+v: want a problem with %s", p, tt.field)
		}
	}
}

func TestProductPatchValid(t *testing.T) {
	tests := []struct {
		name  string
		patch ProductPatch
		bad   string // "" when valid
	}{
		{"empty", ProductPatch{}, "body"},
		{"price", ProductPatch{PriceCents: ptr(int64(500))}, ""},
		{"free", ProductPatch{PriceCents: ptr(int64(0))}, ""},
		{"negative price", ProductPatch{PriceCents: ptr(int64(-1))}, "price_cents"},
		{"blank name", ProductPatch{Name: ptr("")}, "name"},
		{"negative stock", ProductPatch{Stock: ptr(int32(-1))}, "stock"},
		{"featured only", ProductPatch{Featured: ptr(true)}, ""},
		{"version only", ProductPatch{Version: ptr(int32(3))}, "body"},
		{"version zero", ProductPatch{Stock: ptr(int32(1)), Version: ptr(int32(0))}, "version"},
		{"uncategorise", ProductPatch{CategoryID: ptr(int32(0))}, ""},
	}
	for _, tt := range tests {
		errs := tt.patch.Valid()
		if tt.bad == "" && len(errs) != 0 {
			t.Errorf("%s: unexpected problems %v", tt.name, errs)
		}
		if _, ok := errs[tt.bad]; tt.bad != "" && !ok {
			t.Errorf("%s: want a problem with %s, got %v", tt.name, tt.bad, errs)
		}
	}
}
