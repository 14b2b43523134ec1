package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/klagx/klagx/check"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/status"
)

// Exit codes of klagx check (Nagios plugin conventions): those of
// status.Severity.ExitCode, as constants for the error paths
// (TestCheckExitCodeConstants keeps them in step).
const (
	checkOK       = 0
	checkWarning  = 1
	checkCritical = 2
	checkUnknown  = 3
)

// checkCmd is the one-shot check.
type checkCmd struct {
	configFileFlag `embed:""`
	configFlags    `embed:""`

	Group  []string      `name:"group" env:"KLAGX_CHECK_GROUP" group:"filters" sep:"none" placeholder:"REGEX" help:"Check only groups whose name fully matches this regex; repeatable (same as --group.include). Default: all groups."`
	Topic  []string      `name:"topic" env:"KLAGX_CHECK_TOPIC" group:"filters" sep:"none" placeholder:"REGEX" help:"Check only these topics (same as --topic.include); repeatable. Default: all topics."`
	Window time.Duration `name:"window" env:"KLAGX_CHECK_WINDOW" group:"check" default:"10s" placeholder:"DURATION" help:"Take a second sample this long after the first, to judge commit progress (a group with lag, members and no commit in the window is stalled) and produce/commit rates. Make it longer than the group's commit interval. 0 takes a single sample. Default: 10s."`
	Output string        `name:"output" env:"KLAGX_CHECK_OUTPUT" group:"check" short:"o" default:"table" placeholder:"FORMAT" help:"Output format: table (kafka-consumer-groups.sh style, plus LAG-SECONDS, STATUS and REASON, then the owner's CONSUMER-ID, HOST and CLIENT-ID), json (schema klagx.report/v1, see docs/check.md) or nagios (status line and perfdata). Default: table."`
	// PollInterval is serve's --poll-interval (the same setting, env var
	// and file key), for what it means in a one-shot check.
	PollInterval time.Duration `name:"poll-interval" group:"check" default:"15s" placeholder:"DURATION" help:"The time-lag accuracy target and, a quarter of it (2s to 10s), the timeout of one Kafka request; in serve, the time between two polls. Default: 15s."`
	Timeout      time.Duration `name:"timeout" env:"KLAGX_CHECK_TIMEOUT" group:"check" default:"10s" placeholder:"DURATION" help:"Deadline of one sample against Kafka; an unreachable cluster is UNKNOWN after this. Default: 10s."`
	Watch        bool          `name:"watch" env:"KLAGX_CHECK_WATCH" group:"check" help:"Refresh the table in place every --window (at least 1s) until interrupted, each sample judged against the previous one. Ctrl-C exits with 130 (SIGTERM: 143), not the last severity. Default: false."`
}

// toConfig is configFlags.toConfig with the polling defaults but for
// --poll-interval: check samples once (twice with --window), and renders
// no metrics.
func (c *checkCmd) toConfig(file *config.File) (*config.Config, error) {
	return c.configFlags.toConfig(file, checkPollFlags(c.PollInterval), metricFlags{})
}

// Help is the detailed help of klagx check.
func (c *checkCmd) Help() string {
	return `Answers "is this group healthy right now?" for a terminal, a CI job, cron, a Kubernetes Job or Nagios/Icinga: one batched poll of each cluster (two, --window apart), the exporter's lag, time-lag and status rules, and an exit code.

Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A group is CRITICAL when it is stalled, stopped or lost messages, or its lag is above --crit-lag-seconds or --crit-lag; WARNING when its status is warning, rewind or rebalancing (time lag above --warn-lag-seconds, lag above --warn-lag, ...); UNKNOWN when it could not be read. The check takes the worst of its groups (CRITICAL, then WARNING, then UNKNOWN). It is UNKNOWN as a whole, with the reason on stderr, when a cluster cannot be reached, authentication fails, no group matches, or the arguments are wrong.

Connection, TLS, SASL, filter, threshold and time-lag flags are the same as for serve, with the same KLAGX_* environment variables, and so is --config.file (its keys for serve alone, such as group_poll_interval or metric_opt_in_list, are ignored). --poll-interval sets, as for serve, the time-lag accuracy target and the timeout of one Kafka request (a quarter of it, 2s to 10s); --timeout the deadline of a whole sample. The flags of check alone read KLAGX_CHECK_<FLAG> (KLAGX_CHECK_WINDOW, KLAGX_CHECK_OUTPUT, KLAGX_CHECK_TIMEOUT, ...); the generic KLAGX_WINDOW, KLAGX_OUTPUT, KLAGX_TIMEOUT, ... are not read any more.`
}

// Run runs the check and turns its result into the exit code.
func (c *checkCmd) Run(g *globals) error {
	fail := func(err error) error { return exitError{code: checkUnknown, err: g.Sources.describe(err)} }
	if !slices.Contains(check.Formats, c.Output) {
		return fail(fmt.Errorf("--output: %q is not one of table, json, nagios", c.Output))
	}
	if c.Window < 0 {
		return fail(fmt.Errorf("--window: %s is negative (0 takes a single sample)", c.Window))
	}
	if c.Timeout < time.Second {
		return fail(fmt.Errorf("--timeout: %s is below the minimum of 1s", c.Timeout))
	}
	// --group and --topic join --group.include and --topic.include:
	// check their regexes first, so that an error names them.
	for _, f := range []struct {
		kind string
		res  []string
	}{{"group", c.Group}, {"topic", c.Topic}} {
		if _, err := config.NewFilter(f.kind, f.res, nil); err != nil {
			return fail(fmt.Errorf("--%s: %s", f.kind, strings.TrimPrefix(err.Error(), f.kind+".include: ")))
		}
	}
	c.GroupInclude = append(c.GroupInclude, c.Group...)
	c.TopicInclude = append(c.TopicInclude, c.Topic...)
	cfg, err := c.toConfig(g.ConfigFile)
	if err != nil {
		return fail(g.Sources.describe(err))
	}
	opts := check.Options{Config: cfg, Window: c.Window, Timeout: c.Timeout, Logger: g.Logger}
	if c.Watch {
		return c.watch(g, opts)
	}
	res, err := check.Run(g.Context, opts)
	if err != nil {
		c.renderError(g, err)
		return fail(err)
	}
	if err := check.Render(g.Stdout, res, c.Output); err != nil {
		return fail(err)
	}
	if res.Severity != status.SeverityOK {
		return exitError{code: res.Severity.ExitCode(), silent: true}
	}
	return nil
}

// renderError writes what Nagios and JSON consumers read on stdout when the
// check is UNKNOWN; the table format only uses stderr.
func (c *checkCmd) renderError(g *globals, err error) {
	switch c.Output {
	case check.FormatNagios:
		fmt.Fprintf(g.Stdout, "KLAGX UNKNOWN - %s\n", err)
	case check.FormatJSON:
		sev, code := status.SeverityUnknown, checkUnknown
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report.Report{Schema: report.Schema, GeneratedAt: time.Now().UTC(), Severity: &sev, ExitCode: &code,
			Error: err.Error(), Clusters: []report.Cluster{}})
	}
}

// watch refreshes the table until the context ends.
func (c *checkCmd) watch(g *globals, opts check.Options) error {
	every := max(c.Window, time.Second)
	ck, err := check.New(opts)
	if err != nil {
		return exitError{code: checkUnknown, err: err}
	}
	defer ck.Close()
	for {
		res, err := ck.Sample(g.Context)
		if g.Context.Err() != nil {
			return exitError{code: interruptedCode(g.Context), silent: true}
		}
		fmt.Fprint(g.Stdout, "\033[H\033[2J") // home, clear screen
		fmt.Fprintf(g.Stdout, "klagx check --watch, every %s, %s (Ctrl-C to stop)\n\n", every, time.Now().Format(time.TimeOnly))
		if err != nil {
			fmt.Fprintf(g.Stdout, "UNKNOWN: %s\n", err)
		} else {
			_ = check.Render(g.Stdout, res, check.FormatTable)
		}
		t := time.NewTimer(every)
		select {
		case <-g.Context.Done():
			t.Stop()
			return exitError{code: interruptedCode(g.Context), silent: true}
		case <-t.C:
		}
	}
}
