package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	fdb "github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // database/sql for goose
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies every pending migration and then the deterministic seed of n products, and
// returns the migrations it applied and the number of products it added.
// url must reach the primary directly, not through PgBouncer: the session advisory lock that
// stops two migrators from racing does not survive transaction pooling.
func Migrate(ctx context.Context, url string, n int) ([]string, int64, error) {
	cfg, err := fdb.ParseConnConfig(url)
	if err != nil {
		return nil, 0, fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := fdb.WaitFor(ctx, fdb.StartupWait, db.PingContext); err != nil {
		return nil, 0, fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, 0, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, 0, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, 0, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("migrate up: %w", err)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}

	var conn *pgx.Conn
	err = fdb.WaitFor(ctx, fdb.StartupWait, func(ctx context.Context) (err error) {
		conn, err = pgx.ConnectConfig(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("seed: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	added, err := seed(ctx, conn, n)
	if err != nil {
		return nil, 0, fmt.Errorf("seed: %w", err)
	}
	if added > 0 {
		// Fresh statistics, so the planner picks the indexes EXPLAIN shows in docs/; and VACUUM
		// merges the GIN indexes' pending lists, which every search on a replica (where nothing
		// can merge them) would otherwise scan row by row until autovacuum got there.
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) products, categories"); err != nil {
			return nil, 0, fmt.Errorf("vacuum: %w", err)
		}
	}
	return applied, added, nil
}
