package config

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The stack's settings: every variable of .env has a row in docs/configuration.md, and every
// ${VAR} that compose.yaml (or compose.ha.yaml) uses is set in .env (compose would quietly pass an empty string).
func TestStackSettingsAreDocumentedAndSet(t *testing.T) {
	f, err := os.Open("../../.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			set[name] = true
		}
	}
	page, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	// The rows of the section "## `.env`", up to the next section.
	_, section, _ := strings.Cut(string(page), "\n## `.env`\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for name := range set {
		if !strings.Contains(section, "| `"+name+"` |") {
			t.Errorf(".env sets %s, which the .env table of docs/configuration.md has no row for", name)
		}
	}
	for _, file := range []string{"compose.yaml", "compose.ha.yaml"} {
		compose, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(string(compose), -1) {
			if !set[m[1]] {
				t.Errorf("%s uses ${%s}, which .env does not set", file, m[1])
			}
		}
	}
}
