package alerts

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klagx/klagx/metrics"
)

var update = flag.Bool("update", false, "rewrite the committed rule files")

var committed = map[string]string{
	"klagx-rules.yaml":          FormatRules,
	"klagx-prometheusrule.yaml": FormatPrometheusRule,
}

// TestCommittedFilesInSync fails when alerts/*.yaml drift from the generator.
func TestCommittedFilesInSync(t *testing.T) {
	for file, format := range committed {
		got, err := Render(DefaultOptions(), format)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("alerts/%s is out of date: run `make generate`", file)
		}
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install prometheus): %v", err)
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	return p
}

// TestPromtoolCheckRules: the rules file is valid for Prometheus.
func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "klagx-rules.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestPromtoolRuleTests runs the unit tests of the rules: input series and
// the alerts they must (and must not) fire.
func TestPromtoolRuleTests(t *testing.T) {
	files, err := filepath.Glob("tests/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests: %v", err)
	}
	out, err := exec.Command(promtool(t), append([]string{"test", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestEveryAlertIsTestedAndHasARunbook: each alert fires in some rule test
// and has a section in docs/runbooks.md.
func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	files, _ := filepath.Glob("tests/*.yaml")
	var tests bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tests.Write(b)
	}
	runbooks, err := os.ReadFile("../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		if !strings.Contains(tests.String(), "alertname: "+name) {
			t.Errorf("%s is not exercised by alerts/tests", name)
		}
		if !strings.Contains(string(runbooks), "## "+name) {
			t.Errorf("%s has no section in docs/runbooks.md", name)
		}
	}
}

// TestRulesUseOnlyContractMetrics: every klagx_ metric in an expression is
// a family of the metric contract, served at the defaults.
func TestRulesUseOnlyContractMetrics(t *testing.T) {
	rf, err := Rules(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`klagx_[a-z_]+`)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, name := range re.FindAllString(r.Expr, -1) {
				f, ok := metrics.Lookup(name)
				if !ok {
					t.Errorf("%s uses %s, which klagx does not export", r.Alert, name)
				} else if !metrics.DefaultSelection.Enabled(f) {
					t.Errorf("%s uses %s, which is not served at the defaults: alerts must work on the default families", r.Alert, name)
				}
			}
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	o.Selector = `{job="x"}`
	if _, err := Render(o, FormatRules); err == nil || !strings.Contains(err.Error(), "without braces") {
		t.Fatalf("%v", err)
	}
	o = DefaultOptions()
	o.AbandonedAfter = StoppedFor
	if _, err := Render(o, FormatRules); err == nil || !strings.Contains(err.Error(), "abandoned after: 10m0s must be 0 (off) or longer than the 10m0s") {
		t.Fatalf("a window no longer than the for: duration: %v", err)
	}
	o.ForOverride = 3 * time.Second // the e2e rules: a short window is fine
	if _, err := Render(o, FormatRules); err != nil {
		t.Fatal(err)
	}
	o.AbandonedAfter = 0 // off: the rules do not read klagx_group_members
	if b, err := Render(o, FormatRules); err != nil || bytes.Contains(b, []byte("klagx_group_members")) {
		t.Fatalf("abandoned after 0: %v\n%s", err, b)
	}
	if _, err := Render(DefaultOptions(), "helm"); err == nil {
		t.Fatal("unknown format accepted")
	}
}
