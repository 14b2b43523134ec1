package metrics

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"strings"
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
		// Member identity lands on member series only, never beside a
		// topic or partition label (issue 18: one series per member).
		if contains(f.Labels, LabelMember) != (UnitOf(f) == PerMember) || (UnitOf(f) == PerMember && (contains(f.Labels, LabelTopic) || contains(f.Labels, LabelPartition))) {
			t.Errorf("%s: the member label belongs on per-member families without topic or partition", f.Name)
		}
		if (contains(f.Labels, LabelClientID) || contains(f.Labels, LabelHost)) && !contains(f.Labels, LabelMember) {
			t.Errorf("%s: client_id and host label member series only", f.Name)
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

// TestDefaultsWithinBudget fails when the default families, at any
// granularity, serve more series per unit than Budget allows.
func TestDefaultsWithinBudget(t *testing.T) {
	for _, level := range []Level{LevelPartition, LevelTopic, LevelGroup} {
		s := DefaultSelection
		s.Level = level
		got := s.Cardinality()
		for u, limit := range Budget {
			if got[u] > limit {
				t.Errorf("granularity %s: %d series per %s at the defaults, budget %d", levelName(level), got[u], u, limit)
			}
		}
	}
	// The counts themselves, so that a change to the defaults is a
	// deliberate one (and docs/metrics.md shows it).
	want := map[Unit]int{PerPartition: 2, PerGroup: 30, PerGroupTopic: 0, PerGroupPartition: 2, PerMember: 2,
		PerShareGroup: 14, PerShareGroupTopic: 0, PerShareGroupPartition: 2}
	for u, n := range want {
		if got := DefaultSelection.Cardinality()[u]; got != n {
			t.Errorf("%d series per %s at the defaults, want %d", got, u, n)
		}
	}
}

func TestSelection(t *testing.T) {
	re := func(ps ...string) []*regexp.Regexp {
		out, err := CompileNames("--x", ps)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	lat, _ := Lookup(GroupCommitLatency)
	lag, _ := Lookup(GroupLag)
	plag, _ := Lookup(GroupPartitionLag)
	tlag, _ := Lookup(GroupTopicLag)
	for _, tc := range []struct {
		name string
		s    Selection
		f    Family
		want bool
	}{
		{"default family", DefaultSelection, lag, true},
		{"opt-in family off by default", DefaultSelection, lat, false},
		{"opted in", Selection{Level: LevelPartition, OptIn: re("klagx_group_commit_.*")}, lat, true},
		{"pattern is anchored", Selection{Level: LevelPartition, OptIn: re("commit_latency")}, lat, false},
		{"allowlist restricts", Selection{Level: LevelPartition, Allow: re("klagx_group_lag")}, plag, false},
		{"allowlist keeps", Selection{Level: LevelPartition, Allow: re("klagx_group_lag")}, lag, true},
		{"allowlist does not opt in", Selection{Level: LevelPartition, Allow: re(".*")}, lat, false},
		{"denylist", Selection{Level: LevelPartition, Deny: re("klagx_group_partition_.*")}, plag, false},
		{"denylist wins over opt-in", Selection{Level: LevelPartition, OptIn: re(".*"), Deny: re(".*latency.*")}, lat, false},
		{"granularity drops finer", Selection{Level: LevelTopic, OptIn: re(".*")}, plag, false},
		{"topic families stand in at topic granularity", Selection{Level: LevelTopic}, tlag, true},
		{"topic families opt-in at partition granularity", DefaultSelection, tlag, false},
	} {
		if got := tc.s.Enabled(tc.f); got != tc.want {
			t.Errorf("%s: Enabled(%s) = %v, want %v", tc.name, tc.f.Name, got, tc.want)
		}
	}
	if _, err := CompileNames("--metric-denylist", []string{"klagx_("}); err == nil || !strings.Contains(err.Error(), "--metric-denylist") {
		t.Errorf("bad pattern: err = %v, want one naming the flag", err)
	}
}
