//go:build e2e

package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The backup service takes a full backup once the seed is in, the leader archives its WAL, and
// make restore-drill's restore to a point in time has each table's rows at that moment and not
// the row written after it (infra/scripts/restore-drill.sh fails otherwise).
func TestBackupRestoresToAPointInTime(t *testing.T) {
	eventually(t, 3*time.Minute, "a full backup in the repository", func() bool {
		out, err := composeExec(t, nil, "backup", "pgbackrest", "info", "--output=json")
		if err != nil {
			return false
		}
		var stanzas []struct {
			Backup []struct {
				Type string `json:"type"`
			} `json:"backup"`
		}
		if err := json.Unmarshal([]byte(out), &stanzas); err != nil {
			t.Fatalf("pgbackrest info: %v\n%s", err, out)
		}
		for _, s := range stanzas {
			for _, b := range s.Backup {
				if b.Type == "full" {
					return true
				}
			}
		}
		return false
	})
	cmd := exec.Command("infra/scripts/restore-drill.sh")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "restore-drill: PASS") {
		t.Fatalf("restore drill: %v\n%s", err, out)
	}
	// Its table, and how long the restore took.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "|") || strings.HasPrefix(line, "restore and recovery") {
			t.Log(line)
		}
	}
}
