package authz_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writers match a write of the door's tables: SQL statements, COPY through
// pgx, and table names assembled in Go.
var writers = []*regexp.Regexp{
	regexp.MustCompile(`(?is)\b(insert\s+into|update|delete\s+from|truncate(\s+table)?|copy)\s+(only\s+)?"?authz"?\."?(relations|group_members|agreements)\b`),
	regexp.MustCompile(`(?is)Identifier\{\s*"authz"\s*,\s*"(relations|group_members|agreements)"`),
}

// TestOneDoor holds the tree to the one door: outside pkg/authz's own
// (non-test) sources and the migrations that define the schema, no Go or
// SQL source writes authz.relations, authz.group_members or
// authz.agreements.
func TestOneDoor(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "gen", "node_modules", ".casebridge", "artifacts":
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".go" && ext != ".sql" {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "migrations" || (dir == "pkg/authz" && !strings.HasSuffix(path, "_test.go")) {
			return nil
		}
		if rel == filepath.Join("pkg", "authz", "door_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, re := range writers {
			if loc := re.FindIndex(src); loc != nil {
				line := 1 + strings.Count(string(src[:loc[0]]), "\n")
				t.Errorf("%s:%d writes an authorization table outside the door (pkg/authz): %q", rel, line, src[loc[0]:loc[1]])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 50 {
		t.Fatalf("scanned only %d files: is the tree where the test expects it?", scanned)
	}
}
