package metrics

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the table")

const docPath = "../docs/metrics.md"

// TestDocsInSync fails when docs/metrics.md drifts from the table.
func TestDocsInSync(t *testing.T) {
	want := Markdown()
	if *update {
		if err := os.WriteFile(docPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run `make generate`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run `make generate`", docPath)
	}
}

var validName = regexp.MustCompile(`^klagx_[a-z0-9_]+$`)

func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Families {
		if !validName.MatchString(f.Name) {
			t.Errorf("%s: not a klagx_ snake_case name", f.Name)
		}
		if seen[f.Name] {
			t.Errorf("%s: declared twice", f.Name)
		}
		seen[f.Name] = true
		if f.Help == "" || f.Type == "" || f.Stability == "" {
			t.Errorf("%s: help, type and stability are required", f.Name)
		}
		if f.Type == Counter && !bytes.HasSuffix([]byte(f.Name), []byte("_total")) {
			t.Errorf("%s: counters end in _total", f.Name)
		}
		if f.GroupScoped != contains(f.Labels, LabelGroup) {
			t.Errorf("%s: GroupScoped must match the presence of the group label", f.Name)
		}
		if contains(f.Labels, LabelPartition) && f.Level != LevelPartition {
			t.Errorf("%s: partition-labelled families belong to the partition level", f.Name)
		}
	}
}

func TestNormalizeGroupState(t *testing.T) {
	for in, want := range map[string]string{"Stable": "Stable", "Reconciling": "Reconciling", "": "Unknown", "Weird": "Unknown"} {
		if got := NormalizeGroupState(in); got != want {
			t.Errorf("NormalizeGroupState(%q) = %q, want %q", in, got, want)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
