package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestAlertsDefaultsMatchCommittedRules: `klagx alerts` with its flag
// defaults writes exactly the committed rules, so the flags and
// alerts.DefaultOptions cannot drift apart.
func TestAlertsDefaultsMatchCommittedRules(t *testing.T) {
	for args, file := range map[string]string{
		"rules":          "../../alerts/klagx-rules.yaml",
		"prometheusrule": "../../alerts/klagx-prometheusrule.yaml",
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"alerts", "--format", args}, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("klagx alerts --format %s differs from %s", args, file)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"alerts", "--format", "helm"}, &out, &errb); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
}
