package main

import (
	"bytes"
	"context"
	"os"
	"strings"
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

// TestAlertsAbandonedAfter: the flag and its variable reach the rules.
func TestAlertsAbandonedAfter(t *testing.T) {
	if _, got, _ := runCLI(t, "alerts", "--abandoned-after=48h"); !strings.Contains(got, "max_over_time(klagx_group_members{job=\"klagx\"}[48h]))") {
		t.Errorf("--abandoned-after=48h is not in the rules:\n%s", got)
	}
	if _, got, _ := runCLI(t, "alerts", "--abandoned-after=0"); strings.Contains(got, "klagx_group_members") {
		t.Errorf("--abandoned-after=0 still reads klagx_group_members:\n%s", got)
	}
	t.Setenv("KLAGX_ALERTS_ABANDONED_AFTER", "7d")
	if code, got, errs := runCLI(t, "alerts"); code != exitUsage || !strings.Contains(errs, "--abandoned-after") {
		t.Errorf("7d (no such Go unit) accepted: exit %d\n%s%s", code, got, errs)
	}
	t.Setenv("KLAGX_ALERTS_ABANDONED_AFTER", "168h")
	if _, got, _ := runCLI(t, "alerts"); !strings.Contains(got, "[168h]") {
		t.Error("KLAGX_ALERTS_ABANDONED_AFTER=168h did not reach the rules")
	}
}
