package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres/internal/queries"
)

// The demo catalog: a two-level category tree whose leaves carry the nouns product names are
// made of, and a price range that makes their prices plausible.
type leaf struct {
	slug, name string
	nouns      []string
	minCents   int64 // prices fall in [minCents, 4×minCents)
}

var tree = []struct {
	slug, name string
	leaves     []leaf
}{
	{"kitchen", "Kitchen", []leaf{
		{"cookware", "Cookware", []string{"skillet", "saucepan", "wok", "dutch oven", "stockpot"}, 2500},
		{"tea-coffee", "Tea & Coffee", []string{"kettle", "teapot", "coffee grinder", "french press", "mug"}, 900},
		{"tableware", "Tableware", []string{"plate set", "bowl", "serving tray", "carafe", "cutlery set"}, 1200},
	}},
	{"home", "Home", []leaf{
		{"lighting", "Lighting", []string{"lamp", "pendant light", "lantern", "desk lamp", "candle holder"}, 1900},
		{"textiles", "Textiles", []string{"blanket", "cushion", "throw", "rug", "curtain"}, 1500},
		{"furniture", "Furniture", []string{"chair", "desk", "stool", "bookshelf", "side table"}, 6900},
	}},
	{"outdoor", "Outdoor", []leaf{
		{"garden", "Garden", []string{"planter", "watering can", "pruner", "bird feeder", "hose reel"}, 800},
		{"camping", "Camping", []string{"tent", "sleeping bag", "camping stove", "headlamp", "water bottle"}, 2900},
		{"cycling", "Cycling", []string{"bike light", "saddle bag", "helmet", "bike lock", "pump"}, 1800},
	}},
	{"fashion", "Fashion", []leaf{
		{"bags", "Bags", []string{"backpack", "tote", "wallet", "duffel", "messenger bag"}, 2200},
		{"outerwear", "Outerwear", []string{"jacket", "raincoat", "vest", "parka", "scarf", "umbrella"}, 3900},
		{"footwear", "Footwear", []string{"sneakers", "boots", "sandals", "loafers", "slippers"}, 4500},
	}},
	{"electronics", "Electronics", []leaf{
		{"audio", "Audio", []string{"headphones", "speaker", "earbuds", "turntable", "radio"}, 2900},
		{"wearables", "Wearables", []string{"watch", "fitness band", "smart ring", "watch strap", "clip tracker"}, 3500},
	}},
	{"office", "Office", []leaf{
		{"stationery", "Stationery", []string{"notebook", "pen set", "planner", "sketchbook", "pencil case"}, 500},
		{"desk", "Desk", []string{"desk organizer", "monitor stand", "cable tray", "desk mat", "bookend"}, 1400},
	}},
}

var (
	adjectives = []string{"classic", "compact", "deluxe", "ergonomic", "rugged", "sleek", "vintage", "modern", "handmade", "everyday", "nordic", "travel"}
	materials  = []string{"bamboo", "ceramic", "copper", "cotton", "leather", "oak", "steel", "wool", "glass", "linen", "granite", "walnut"}
	colours    = []string{"black", "white", "slate", "sand", "olive", "navy", "rust", "sage", "charcoal", "ivory"}
)

// seedEpoch is when seeded product 1 was created; each next one seedStep later, so "newest
// first" has a real order to show. A million products end before 2026: never in the future.
var seedEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const seedStep = 30 * time.Second

// categories returns the tree as rows (ids are fixed: parents 1.., leaves 100..) and its leaves.
func categories() ([]catalog.Category, []catalog.Category, []leaf) {
	var all, leafRows []catalog.Category
	var leaves []leaf
	next := int32(100)
	for i, top := range tree {
		parent := int32(i + 1)
		all = append(all, catalog.Category{ID: parent, Slug: top.slug, Name: top.name})
		for _, l := range top.leaves {
			c := catalog.Category{ID: next, ParentID: parent, Slug: l.slug, Name: l.name}
			all, leafRows, leaves = append(all, c), append(leafRows, c), append(leaves, l)
			next++
		}
	}
	return all, leafRows, leaves
}

// seedProduct is the deterministic product number i: the same fields on every run.
func seedProduct(i int64, leafRows []catalog.Category, leaves []leaf) catalog.Product {
	h := splitmix(uint64(i))
	n := int64(len(leaves))
	k := (i * 7) % n // neighbouring ids land in different categories
	l := leaves[k]
	noun := l.nouns[(i/n)%int64(len(l.nouns))]
	adj := adjectives[h%uint64(len(adjectives))]
	mat := materials[(h>>8)%uint64(len(materials))]
	colour := colours[(h>>16)%uint64(len(colours))]
	stock := int32((h >> 24) % 250)
	if (h>>32)%10 == 0 {
		stock = 0 // about one in ten is sold out
	}
	// Prices end in 9 or 5, as shops like them.
	price := l.minCents + int64((h>>40)%uint64(3*l.minCents))
	price = price/10*10 + 9
	if (h>>48)%4 == 0 {
		price -= 4
	}
	created := seedEpoch.Add(time.Duration(i) * seedStep)
	name := fmt.Sprintf("%s %s %s", title(adj), title(mat), title(noun))
	return catalog.Product{
		ID:          i,
		SKU:         fmt.Sprintf("FC-%07d", i),
		Name:        name,
		Description: fmt.Sprintf("A %s %s %s in %s, from our %s range. Item %d of the Flashcrowd demo catalog.", adj, mat, noun, colour, l.name, i),
		PriceCents:  price,
		Currency:    "EUR",
		Stock:       stock,
		CategoryID:  leafRows[k].ID,
		Attributes:  catalog.Attrs{"material": mat, "colour": colour},
		Featured:    i%5000 == 1,
		CreatedAt:   created,
		UpdatedAt:   created,
	}
}

// splitmix is a fixed 64-bit mixer (SplitMix64's finaliser): deterministic "randomness" per id.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func title(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] >= 'a' && b[i] <= 'z' && (i == 0 || b[i-1] == ' ') {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

var seedColumns = []string{"id", "sku", "name", "description", "price_cents", "currency", "stock",
	"category_id", "attributes", "featured", "created_at", "updated_at"}

// seed makes the category tree and products 1..n, in one transaction. It remembers how far it
// got, so a rerun adds only the missing products and never brings back one an admin deleted.
// Rows are streamed with COPY into a temporary table, then inserted in one statement that
// skips ids or SKUs already taken (by products an admin created). The temporary table, and the
// identity sequence, are not in the schema sqlc checks queries against: the statements that use
// them are written here, the others are generated (internal/queries/seed.sql).
func seed(ctx context.Context, conn *pgx.Conn, n int) (added int64, err error) {
	all, leafRows, leaves := categories()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if err := q.LockSeed(ctx); err != nil {
			return err
		}
		for _, c := range all {
			// A conversion: it compiles only while Category's fields are the statement's parameters.
			if err := q.UpsertCategory(ctx, queries.UpsertCategoryParams(c)); err != nil {
				return fmt.Errorf("category %s: %w", c.Slug, err)
			}
		}
		done, err := q.SeededProducts(ctx)
		if err != nil {
			return err
		}
		if int(done) >= n {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE seed_products (LIKE products INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		i := int64(done)
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"seed_products"}, seedColumns, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= int64(n) {
				return nil, nil
			}
			i++
			p := seedProduct(i, leafRows, leaves)
			return []any{p.ID, p.SKU, p.Name, p.Description, p.PriceCents, p.Currency, p.Stock,
				p.CategoryID, p.Attributes, p.Featured, p.CreatedAt, p.UpdatedAt}, nil
		}))
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		insert := func() error {
			tag, err := tx.Exec(ctx, `INSERT INTO products (`+strings.Join(seedColumns, ", ")+`)
			SELECT `+strings.Join(seedColumns, ", ")+` FROM seed_products ORDER BY id ON CONFLICT DO NOTHING`)
			added = tag.RowsAffected()
			return err
		}
		// Only into an empty table (the first start): a larger seed later adds to a table the
		// services are reading, and they need its indexes meanwhile.
		var empty bool
		if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM products)`).Scan(&empty); err != nil {
			return err
		}
		if empty {
			err = withoutSecondaryIndexes(ctx, tx, "products", insert)
		} else {
			err = insert()
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		// Products created later must not take the ids of products seeded by a larger run.
		_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('products', 'id'),
			greatest((SELECT max(id) FROM products), $1, (SELECT last_value FROM products_id_seq)))`, n)
		if err != nil {
			return err
		}
		return q.RecordSeed(ctx, int32(n))
	})
	return added, err
}

// withoutSecondaryIndexes runs load with the table's indexes dropped, all but those behind a
// constraint (ON CONFLICT needs them), and makes them again from their own definitions after
// it, in the caller's transaction. Building an index over 100,000 rows is faster than updating
// it row by row ("Populating a Database" in Postgres's manual): migrations and the first seed
// of 100,000 products take 5.4 s rather than 8 s on an idle 2-core machine, on the path of every
// `make up` from empty volumes. The migrations stay the one place that says what the indexes are.
func withoutSecondaryIndexes(ctx context.Context, tx pgx.Tx, table string, load func() error) error {
	rows, err := tx.Query(ctx, `SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i
		WHERE indrelid = $1::regclass AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, table)
	if err != nil {
		return err
	}
	type index struct{ name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		return ix, r.Scan(&ix.name, &ix.def)
	})
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := tx.Exec(ctx, "DROP INDEX "+ix.name); err != nil {
			return err
		}
	}
	if err := load(); err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := tx.Exec(ctx, ix.def); err != nil {
			return fmt.Errorf("index %s: %w", ix.name, err)
		}
	}
	return nil
}
