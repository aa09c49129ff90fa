package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	fdb "github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/jackc/pgx/v5/stdlib" // database/sql for goose
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// VersionTable is where goose records this schema's migrations: the catalog's migrations, in
// the same database, keep theirs in goose's default table, and the two must not mix.
const VersionTable = "orders_goose_db_version"

// lockID is this schema's advisory lock, apart from the catalog's (goose's default), so the
// two migrators need not wait for each other.
const lockID = 0x6f72646572730001 // "orders" + 1

// Migrate applies every pending migration and returns those it applied. url must reach the
// primary directly, not through PgBouncer: the session advisory lock that stops two migrators
// from racing does not survive transaction pooling. The catalog's migrations must have run
// first: checkout takes stock from its products table.
func Migrate(ctx context.Context, url string) ([]string, error) {
	cfg, err := fdb.ParseConnConfig(url)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := fdb.WaitFor(ctx, fdb.StartupWait, db.PingContext); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker), goose.WithTableName(VersionTable))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}
