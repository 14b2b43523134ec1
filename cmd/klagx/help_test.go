package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// helpOf is the --help text of a command.
func helpOf(t *testing.T, cmd string) string {
	t.Helper()
	code, out, errs := runCLI(t, cmd, "--help")
	if code != exitOK {
		t.Fatalf("%s --help: exit %d: %s", cmd, code, errs)
	}
	return out
}

// TestHelpGroups: serve --help (and check, alerts, dashboards, demo) puts
// every flag under a heading, in a stable order, and lists only the flags
// that do something in that command.
func TestHelpGroups(t *testing.T) {
	for _, tc := range []struct {
		cmd      string
		headings []string
		absent   []string
	}{
		{"serve", []string{"Logging:", "Configuration file:", "Kafka connection:", "Kafka TLS", "Kafka SASL", "Filters:", "Time lag:", "Group status thresholds:", "Polling:", "Metric families:", "Web server:", "OpenTelemetry (OTLP) push:"}, nil},
		{"check", []string{"Logging:", "Configuration file:", "Kafka connection:", "Kafka TLS", "Kafka SASL", "Filters:", "Time lag:", "Group status thresholds:", "Check:"},
			[]string{"Polling:", "--group-poll-interval", "--granularity", "--shard", "--total-shards", "Metric families:", "--metric-", "--web."}},
		{"alerts", []string{"Logging:", "Alert rules:", "PrometheusRule manifest"}, []string{"--config.file", "Kafka connection:"}},
		{"dashboards", []string{"Logging:", "Dashboards:"}, []string{"--config.file"}},
		{"demo", []string{"Logging:", "Demo:"}, []string{"--config.file", "--brokers"}},
	} {
		h := helpOf(t, tc.cmd)
		var headings []string // lines such as "Kafka connection:"
		var flagLines []string
		for _, line := range strings.Split(h, "\n") {
			switch {
			case strings.HasSuffix(line, ":") && line != "" && line[0] >= 'A' && line[0] <= 'Z':
				headings = append(headings, line)
			case strings.HasPrefix(strings.TrimLeft(line, " "), "-"):
				flagLines = append(flagLines, strings.TrimLeft(line, " "))
			}
		}
		next := 0
		for _, heading := range tc.headings {
			i := slices.IndexFunc(headings[next:], func(l string) bool { return strings.HasPrefix(l, heading) })
			if i < 0 {
				t.Errorf("%s --help lacks the heading %q after %v (headings %v)", tc.cmd, heading, tc.headings[:max(0, next)], headings)
				continue
			}
			next += i + 1
		}
		for _, a := range tc.absent {
			for _, l := range append(flagLines, headings...) {
				if strings.HasPrefix(l, a) || strings.HasPrefix(l, "-h, "+a) {
					t.Errorf("%s --help lists %q, which does nothing there", tc.cmd, l)
				}
			}
		}
		// The ungrouped "Flags:" section holds --help alone.
		if i := strings.Index(h, "\nFlags:\n"); i >= 0 {
			section := h[i+len("\nFlags:\n"):]
			section = section[:strings.Index(section, "\n\n")]
			if lines := strings.Split(strings.TrimSpace(section), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "--help") {
				t.Errorf("%s --help: flags without a heading:\n%s", tc.cmd, section)
			}
		}
	}
}

// TestEnvVarNames: every environment variable means one thing. A variable
// is read by one flag, and by one command, except the settings serve and
// check share (their connection, filter, threshold and time-lag flags,
// which mean the same in both). alerts, dashboards and demo read
// KLAGX_ALERTS_*, KLAGX_DASHBOARDS_* and KLAGX_DEMO_*.
func TestEnvVarNames(t *testing.T) {
	var c cli
	var out, errb bytes.Buffer
	parser, err := kong.New(&c, kong.Name("klagx"), kong.Writers(&out, &errb), kong.DefaultEnvars(envPrefix), kong.ExplicitGroups(helpGroups))
	if err != nil {
		t.Fatal(err)
	}
	type use struct{ flag, cmd string }
	uses := map[string][]use{}
	for _, f := range parser.Model.Flags {
		for _, env := range f.Envs {
			uses[env] = append(uses[env], use{f.Name, ""})
		}
	}
	prefixes := map[string]string{"alerts": "KLAGX_ALERTS_", "dashboards": "KLAGX_DASHBOARDS_", "demo": "KLAGX_DEMO_"}
	// The flags of check alone (not shared with serve) read KLAGX_CHECK_*.
	checkOnly := map[string]bool{"group": true, "topic": true, "window": true, "output": true, "timeout": true, "watch": true}
	for _, cmd := range parser.Model.Children {
		for _, f := range cmd.Flags {
			for _, env := range f.Envs {
				uses[env] = append(uses[env], use{f.Name, cmd.Name})
				if p, ok := prefixes[cmd.Name]; ok && !strings.HasPrefix(env, p) {
					t.Errorf("%s --%s reads %s, want a %s* name", cmd.Name, f.Name, env, p)
				}
				if cmd.Name == "check" && checkOnly[f.Name] != strings.HasPrefix(env, "KLAGX_CHECK_") {
					t.Errorf("check --%s reads %s: want KLAGX_CHECK_* exactly for the flags of check alone", f.Name, env)
				}
			}
		}
	}
	for env, us := range uses {
		var flags, cmds []string
		for _, u := range us {
			if !slices.Contains(flags, u.flag) {
				flags = append(flags, u.flag)
			}
			if !slices.Contains(cmds, u.cmd) {
				cmds = append(cmds, u.cmd)
			}
		}
		slices.Sort(cmds)
		if len(flags) != 1 {
			t.Errorf("%s is read by several flags: %v", env, flags)
		}
		if len(cmds) > 1 && !slices.Equal(cmds, []string{"check", "serve"}) {
			t.Errorf("%s is read by several commands: %v", env, cmds)
		}
	}
	for _, env := range []string{"KLAGX_ALERTS_GROWTH_WINDOW", "KLAGX_ALERTS_OUT", "KLAGX_ALERTS_FORMAT", "KLAGX_ALERTS_NAME", "KLAGX_DASHBOARDS_OUT", "KLAGX_DEMO_POLL_INTERVAL", "KLAGX_DEMO_BROKER_COUNT", "KLAGX_GROWTH_WINDOW"} {
		if _, ok := uses[env]; !ok {
			t.Errorf("nothing reads %s", env)
		}
	}
	for _, env := range []string{"KLAGX_OUT", "KLAGX_FORMAT", "KLAGX_NAME", "KLAGX_WINDOW", "KLAGX_OUTPUT", "KLAGX_TIMEOUT"} {
		if _, ok := uses[env]; ok {
			t.Errorf("%s is still read: %v", env, uses[env])
		}
	}
}

// TestAlertsGrowthWindowEnv: KLAGX_GROWTH_WINDOW (the status window of
// serve and check) does not change the alert rules; KLAGX_ALERTS_GROWTH_WINDOW
// does.
func TestAlertsGrowthWindowEnv(t *testing.T) {
	_, def, _ := runCLI(t, "alerts")
	t.Setenv("KLAGX_GROWTH_WINDOW", "1m")
	if _, got, _ := runCLI(t, "alerts"); got != def {
		t.Error("KLAGX_GROWTH_WINDOW changed the alert rules")
	}
	t.Setenv("KLAGX_ALERTS_GROWTH_WINDOW", "1h")
	_, got, _ := runCLI(t, "alerts")
	if got == def || !strings.Contains(got, "[1h]") {
		t.Error("KLAGX_ALERTS_GROWTH_WINDOW=1h did not reach the alert rules")
	}
}
