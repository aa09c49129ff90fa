package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// Doc renders cfg's variables as a Markdown table. It fails when a variable has no description.
func Doc(cfg any) (string, error) {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	var missing []string
	walk(reflect.ValueOf(cfg), func(f field) {
		if strings.TrimSpace(f.desc) == "" {
			missing = append(missing, f.env)
		}
		def := "empty"
		switch {
		case f.required:
			def = "required"
		case f.def != "":
			def = "`" + f.def + "`"
		}
		if f.secret != "" {
			def += " (secret)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.env, def, strings.ReplaceAll(f.desc, "|", `\|`))
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("config: no desc tag on %s", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

// SyncDoc checks that the Markdown file at path holds Doc(cfg) between the markers
// "<!-- config:NAME -->" and "<!-- /config:NAME -->". With write set it rewrites that part
// instead (UPDATE_DOCS=1 in the tests, `make docs`).
func SyncDoc(path, name string, cfg any, write bool) error {
	want, err := Doc(cfg)
	if err != nil {
		return err
	}
	page, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	begin, end := []byte("<!-- config:"+name+" -->\n"), []byte("<!-- /config:"+name+" -->")
	i, j := bytes.Index(page, begin), bytes.Index(page, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q … %q markers", path, begin, end)
	}
	got := string(page[i+len(begin) : j])
	if got == want {
		return nil
	}
	if !write {
		return fmt.Errorf("%s: the %s table is not what its Config struct says; run `make docs` and review the change.\nwant:\n%s\ngot:\n%s", path, name, want, got)
	}
	out := append(append(append([]byte{}, page[:i+len(begin)]...), want...), page[j:]...)
	return os.WriteFile(path, out, 0o644)
}
