-- +goose Up
-- A row the relay cannot make a task of (a task type this binary does not know, written by a
-- newer or an older one) is parked: kept with the reason, out of the claim and the oldest-row
-- gauge, until an operator requeues it (parked_at back to NULL) or deletes it
-- (docs/architecture.md, "The outbox"). Both columns are NULL on every row that waits.
ALTER TABLE outbox
    ADD COLUMN parked_at     timestamptz,
    ADD COLUMN parked_reason text;

-- The claim and the oldest-row query read the waiting rows in id order from this index, which
-- holds none of the parked ones: however many are parked, they cost those reads nothing.
CREATE INDEX outbox_waiting ON outbox (id) WHERE parked_at IS NULL;
-- The parked-row gauge counts this one, which stays empty (and costs an insert nothing) while
-- nothing is parked.
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;

-- +goose Down
DROP INDEX outbox_parked;
DROP INDEX outbox_waiting;
ALTER TABLE outbox
    DROP COLUMN parked_reason,
    DROP COLUMN parked_at;
