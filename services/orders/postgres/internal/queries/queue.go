package queries

import "github.com/jackc/pgx/v5"

// sqlc's functions send each statement alone and read its answer at once. Checkout sends
// several in one round trip (a pgx.Batch); statements without results get there through a
// DBTX that queues them, and the one with a result through this.

// QueueTakeStock queues TakeStock on b; scan reads its row when the batch's results are read.
func QueueTakeStock(b *pgx.Batch, arg TakeStockParams, scan func(pgx.Row) error) {
	b.Queue(takeStock, arg.Quantity, arg.ID).QueryRow(scan)
}
