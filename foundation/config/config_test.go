package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testConfig struct {
	Common
	Port    int           `env:"PORT" envDefault:"8080" desc:"Port."`
	Wait    time.Duration `env:"WAIT" envDefault:"2s" desc:"How long."`
	Token   string        `env:"TOKEN,required" desc:"A token." secret:"true"`
	DB      string        `env:"DB_URL" envDefault:"postgres://u:dev-pw@h/db" desc:"Database." secret:"url"`
	Enabled bool          `env:"ENABLED" envDefault:"true" desc:"On or off."`
}

func (c *testConfig) Validate() error {
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("PORT=%d: want 1 to 65535", c.Port)
	}
	return nil
}

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoad(t *testing.T) {
	var c testConfig
	err := Load(&c, getenv(map[string]string{"FLASHCROWD_ENV": "development", "TOKEN": "dev-token", "WAIT": "5s", "ENABLED": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Wait != 5*time.Second || c.Token != "dev-token" || !c.Enabled || c.LogLevel != "info" || c.Env != Development {
		t.Fatalf("loaded %+v", c)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	var c testConfig
	err := Load(&c, getenv(map[string]string{"PORT": "0", "WAIT": "soon"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"PORT", "WAIT", "TOKEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// Outside development mode a development, short or empty secret stops the binary.
func TestSecretsOutsideDevelopment(t *testing.T) {
	strong := "s3cr3t-0123456789abcdef"
	for _, tt := range []struct {
		name string
		vars map[string]string
		bad  []string
	}{
		{"dev secrets in production", map[string]string{"TOKEN": "dev-admin-token-change-me"}, []string{"TOKEN", "DB_URL"}},
		{"mode unset means production", map[string]string{"TOKEN": strong}, []string{"DB_URL"}},
		{"short", map[string]string{"TOKEN": "short", "DB_URL": "postgres://u:" + strong + "@h/db"}, []string{"TOKEN"}},
		{"url without password", map[string]string{"TOKEN": strong, "DB_URL": "postgres://u@h/db"}, []string{"DB_URL"}},
		{"strong", map[string]string{"FLASHCROWD_ENV": "production", "TOKEN": strong, "DB_URL": "postgres://u:" + strong + "@h/db"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			err := Load(&c, getenv(tt.vars))
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %v", tt.vars)
			}
			for _, name := range tt.bad {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s: %v", name, err)
				}
			}
		})
	}
}

func TestDocAndSyncDoc(t *testing.T) {
	doc, err := Doc(&testConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `FLASHCROWD_ENV` | `production` |", "| `TOKEN` | required (secret) | A token. |", "| `PORT` | `8080` | Port. |"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc lacks %q:\n%s", want, doc)
		}
	}
	path := filepath.Join(t.TempDir(), "page.md")
	page := "# Page\n<!-- config:test -->\nold\n<!-- /config:test -->\nend\n"
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncDoc(path, "test", &testConfig{}, false); err == nil {
		t.Fatal("a stale table passed")
	}
	if err := SyncDoc(path, "test", &testConfig{}, true); err != nil {
		t.Fatal(err)
	}
	if err := SyncDoc(path, "test", &testConfig{}, false); err != nil {
		t.Fatalf("after a rewrite: %v", err)
	}
	type undocumented struct {
		X string `env:"X"`
	}
	if _, err := Doc(&undocumented{}); err == nil || !strings.Contains(err.Error(), "X") {
		t.Fatalf("a variable without desc passed: %v", err)
	}
}
