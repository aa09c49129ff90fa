// Package queries is the catalog's static SQL as typed Go: sqlc generates the other .go files
// here from the .sql files beside them, checked against the schema that postgres/migrations
// builds (services/catalog/sqlc.yaml). Edit the SQL, then run `make generate`; `make vet`
// fails while the Go is stale. Only the postgres package uses it.
package queries
