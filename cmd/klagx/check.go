package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/klagx/klagx/check"
	"github.com/klagx/klagx/report"
)

// Exit codes of klagx check (Nagios plugin conventions).
const (
	checkOK       = 0
	checkWarning  = 1
	checkCritical = 2
	checkUnknown  = 3
)

// checkCmd is the one-shot check.
type checkCmd struct {
	configFlags `embed:""`

	Group   []string      `name:"group" sep:"none" placeholder:"REGEX" help:"Check only groups whose name fully matches this regex; repeatable (same as --group.include). Default: all groups."`
	Topic   []string      `name:"topic" sep:"none" placeholder:"REGEX" help:"Check only these topics (same as --topic.include); repeatable. Default: all topics."`
	Window  time.Duration `name:"window" default:"10s" placeholder:"DURATION" help:"Take a second sample this long after the first, to judge commit progress (a group with lag, members and no commit in the window is stalled) and produce/commit rates. Make it longer than the group's commit interval. 0 takes a single sample. Default: 10s."`
	Output  string        `name:"output" short:"o" default:"table" placeholder:"FORMAT" help:"Output format: table (kafka-consumer-groups.sh style, plus LAG-SECONDS, STATUS and REASON), json (schema klagx.report/v1, see docs/check.md) or nagios (status line and perfdata). Default: table."`
	Timeout time.Duration `name:"timeout" default:"10s" placeholder:"DURATION" help:"Deadline of one sample against Kafka; an unreachable cluster is UNKNOWN after this. Default: 10s."`
	Watch   bool          `name:"watch" help:"Refresh the table in place every --window (at least 1s) until interrupted, each sample judged against the previous one. Default: false."`
}

// Help is the detailed help of klagx check.
func (c *checkCmd) Help() string {
	return `Answers "is this group healthy right now?" for a terminal, a CI job, cron, a Kubernetes Job or Nagios/Icinga: one batched poll of each cluster (two, --window apart), the exporter's lag, time-lag and status rules, and an exit code.

Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A group is CRITICAL when it is stalled, stopped or lost messages, or its lag is above --crit-lag-seconds or --crit-lag; WARNING when its status is warning, rewind or rebalancing (time lag above --warn-lag-seconds, lag above --warn-lag, ...); UNKNOWN when it could not be read. The check takes the worst of its groups (CRITICAL, then WARNING, then UNKNOWN). It is UNKNOWN as a whole, with the reason on stderr, when a cluster cannot be reached, authentication fails, no group matches, or the arguments are wrong.

Connection, TLS, SASL, filter, threshold and time-lag flags are the same as for serve, and so is --config.file. --poll-interval, --group-poll-interval, --granularity and the --metric-* flags have no effect here.`
}

// Run runs the check and turns its result into the exit code.
func (c *checkCmd) Run(g *globals) error {
	fail := func(err error) error { return exitError{code: checkUnknown, err: err} }
	if !oneOf(c.Output, check.Formats) {
		return fail(fmt.Errorf("--output: %q is not one of table, json, nagios", c.Output))
	}
	if c.Window < 0 {
		return fail(fmt.Errorf("--window: %s is negative (0 takes a single sample)", c.Window))
	}
	if c.Timeout < time.Second {
		return fail(fmt.Errorf("--timeout: %s is below the minimum of 1s", c.Timeout))
	}
	c.GroupInclude = append(c.GroupInclude, c.Group...)
	c.TopicInclude = append(c.TopicInclude, c.Topic...)
	cfg, err := c.toConfig(g.ConfigFile)
	if err != nil {
		return fail(err)
	}
	// One sample's deadline; the retry budget of the Kafka client too.
	cfg.PollInterval = c.Timeout
	opts := check.Options{Config: cfg, Window: c.Window, Logger: g.Logger}
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
	if res.Severity != check.OK {
		return exitError{code: int(res.Severity), silent: true}
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
		sev, code := "UNKNOWN", checkUnknown
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
	last := checkUnknown
	for {
		res, err := ck.Sample(g.Context)
		if g.Context.Err() != nil {
			return exitError{code: last, silent: true}
		}
		fmt.Fprint(g.Stdout, "\033[H\033[2J") // home, clear screen
		fmt.Fprintf(g.Stdout, "klagx check --watch, every %s, %s (Ctrl-C to stop)\n\n", every, time.Now().Format(time.TimeOnly))
		if err != nil {
			fmt.Fprintf(g.Stdout, "UNKNOWN: %s\n", err)
			last = checkUnknown
		} else {
			_ = check.Render(g.Stdout, res, check.FormatTable)
			last = int(res.Severity)
		}
		t := time.NewTimer(every)
		select {
		case <-g.Context.Done():
			t.Stop()
			return exitError{code: last, silent: true}
		case <-t.C:
		}
	}
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
