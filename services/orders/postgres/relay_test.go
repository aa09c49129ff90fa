package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres/internal/queries"
)

// Each claimed row becomes its task, in order, or is set apart for parking with its type and
// a reason that names the type.
func TestReadClaim(t *testing.T) {
	row := func(id int64, typ string) queries.ClaimOutboxRow {
		return queries.ClaimOutboxRow{ID: id, TaskType: typ, Payload: []byte(`{"v":1}`)}
	}
	tests := []struct {
		name       string
		rows       []queries.ClaimOutboxRow
		ready      []int64
		unreadable []int64
	}{
		{"empty claim", nil, nil, nil},
		{"all known", []queries.ClaimOutboxRow{row(1, tasks.TypeOrderConfirmation), row(2, tasks.TypeOrderEvent)}, []int64{1, 2}, nil},
		{"unknown at the head", []queries.ClaimOutboxRow{row(3, "order:refund"), row(4, tasks.TypeOrderEvent), row(5, "")}, []int64{4}, []int64{3, 5}},
		{"none known", []queries.ClaimOutboxRow{row(6, "order:refund"), row(7, tasks.TypeWebhookDelivery)}, nil, []int64{6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready, unreadable := readClaim(tt.rows)
			var readyIDs, unreadableIDs []int64
			for _, r := range ready {
				readyIDs = append(readyIDs, r.id)
				if r.task == nil {
					t.Fatalf("row %d: no task", r.id)
				}
			}
			for _, u := range unreadable {
				unreadableIDs = append(unreadableIDs, u.id)
				if !strings.Contains(u.reason, `"`+u.typ+`"`) {
					t.Errorf("row %d (%q): reason %q does not name the type", u.id, u.typ, u.reason)
				}
			}
			if !slices.Equal(readyIDs, tt.ready) || !slices.Equal(unreadableIDs, tt.unreadable) {
				t.Errorf("ready %v, unreadable %v; want %v and %v", readyIDs, unreadableIDs, tt.ready, tt.unreadable)
			}
		})
	}
}
