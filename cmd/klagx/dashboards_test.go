package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/klagx/klagx/dashboards"
)

// TestDashboardsOutput: with no flags, klagx dashboards writes the three
// dashboards to standard output, as klagx alerts writes its rules, instead
// of failing; --dashboard picks one, a single JSON document ready for
// Grafana's import; --out DIR writes the files.
func TestDashboardsOutput(t *testing.T) {
	code, out, errs := runCLI(t, "dashboards")
	if code != exitOK {
		t.Fatalf("klagx dashboards: exit %d: %s", code, errs)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	var uids []string
	for dec.More() {
		var d struct{ UID string }
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		uids = append(uids, d.UID)
	}
	if len(uids) != 4 || uids[0] != dashboards.OverviewUID || uids[1] != dashboards.GroupUID || uids[2] != dashboards.RebalancesUID || uids[3] != dashboards.ShareGroupsUID {
		t.Errorf("stdout holds %v", uids)
	}

	code, out, errs = runCLI(t, "dashboards", "--dashboard", "group")
	want, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "json", dashboards.GroupUID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if code != exitOK || out != string(want) {
		t.Errorf("--dashboard group: exit %d (%s), not the committed %s.json", code, errs, dashboards.GroupUID)
	}

	dir := t.TempDir()
	if code, _, errs := runCLI(t, "dashboards", "--out", dir); code != exitOK {
		t.Fatalf("--out: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, dashboards.RebalancesUID+".json")); err != nil {
		t.Error(err)
	}
}
