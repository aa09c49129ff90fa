package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", which goose needs
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

//go:embed seed.sql
var seedSQL string

// Migrate applies every pending migration and then the deterministic seed of n products.
// url must reach the primary directly, not through PgBouncer: the session advisory lock that
// stops two migrators from racing does not survive transaction pooling.
func Migrate(ctx context.Context, url string, n int) ([]string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
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

	if _, err := db.ExecContext(ctx, seedSQL, n); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE products"); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	return applied, nil
}
