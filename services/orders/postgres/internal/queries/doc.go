// Package queries is the orders service's static SQL as typed Go: sqlc generates the other .go
// files here from the .sql files beside them, checked against the schema that the migrations
// build (services/orders/sqlc.yaml). Edit the SQL, then run `make generate`. Only the postgres
// package uses it.
package queries
