// Package status turns a group's lag, commit history and state into one
// status with a reason, the way an operator would judge it. It is pure: the
// inputs are facts computed elsewhere, and the same inputs always give the
// same answer.
//
// Rules are time-based, not commit-count windows (Burrow's false STALL on
// idle topics came from counting commits). In order, the first that applies
// wins:
//
//	unknown      the group has never been read
//	lost         retention deleted messages the group had not consumed (now or within the growth window)
//	stopped      lag > 0 and no members
//	rebalancing  the group is rebalancing (lag is expected to pause)
//	stalled      lag > 0 and no partition with lag has made commit progress for StallAfter
//	rewind       the committed offset moved backwards within the growth window
//	warning      time lag >= WarnLagSeconds, lag >= WarnLag, or lag rising at every poll through GrowthWindow
//	ok           none of the above (an idle topic with lag 0 is always ok)
package status

import (
	"fmt"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/rebalance"
)

// Status is one of the values below.
type Status string

// Statuses.
const (
	OK          Status = "ok"
	Warning     Status = "warning"
	Stalled     Status = "stalled"
	Stopped     Status = "stopped"
	Rewind      Status = "rewind"
	Lost        Status = "lost"
	Rebalancing Status = "rebalancing"
	Unknown     Status = "unknown"
)

// All lists every status, for state-set metrics and docs.
var All = []Status{OK, Warning, Stalled, Stopped, Rewind, Lost, Rebalancing, Unknown}

// String is the status as rendered: the klagx_group_status label value and
// the JSON "status".
func (s Status) String() string { return string(s) }

// Severity is the Nagios-style judgement of klagx check (OK, WARNING,
// CRITICAL, UNKNOWN); ExitCode is its exit code.
type Severity string

// Severities.
const (
	SeverityOK       Severity = "OK"
	SeverityWarning  Severity = "WARNING"
	SeverityCritical Severity = "CRITICAL"
	SeverityUnknown  Severity = "UNKNOWN"
)

// Severities lists every severity, worst first (the order of klagx
// check's summary).
var Severities = []Severity{SeverityCritical, SeverityWarning, SeverityUnknown, SeverityOK}

// String is the severity as rendered.
func (s Severity) String() string { return string(s) }

// ExitCode is the Nagios plugin exit code of s: 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN (also for a value that is none of these).
func (s Severity) ExitCode() int {
	switch s {
	case SeverityOK:
		return 0
	case SeverityWarning:
		return 1
	case SeverityCritical:
		return 2
	default:
		return 3
	}
}

// Worse reports whether s is worse than t: CRITICAL > WARNING > UNKNOWN >
// OK (a definite problem outranks a group that could not be judged).
func (s Severity) Worse(t Severity) bool { return s.rank() > t.rank() }

func (s Severity) rank() int {
	for i, v := range Severities {
		if s == v {
			return len(Severities) - i
		}
	}
	return 0
}

// Severity is the severity of a group in status s before klagx check's own
// lag thresholds: stalled, stopped and lost are CRITICAL; warning, rewind
// and rebalancing WARNING; unknown UNKNOWN; ok OK.
func (s Status) Severity() Severity {
	switch s {
	case Unknown:
		return SeverityUnknown
	case Stalled, Stopped, Lost:
		return SeverityCritical
	case Warning, Rewind, Rebalancing:
		return SeverityWarning
	default:
		return SeverityOK
	}
}

// Input is what the rules look at, for one group.
type Input struct {
	// HasData is false when the group was never read successfully.
	HasData bool
	State   string
	Members int

	// Lag is the total offset lag; LagSeconds the max time lag (valid if
	// LagSecondsKnown).
	Lag             int64
	LagSeconds      float64
	LagSecondsKnown bool

	// Gap is how long none of the group's partitions with lag has made
	// commit progress; GapWhere describes them.
	Gap      time.Duration
	GapWhere string

	// LostNow counts messages currently lost (commit below log start);
	// LostRecent counts messages newly lost within the growth window.
	LostNow, LostRecent int64
	LostWhere           string

	// Rewound names where the commit last moved backwards within the
	// growth window ("" if it did not).
	Rewound string

	// Rebalancing is true while a rebalance is observed in progress (the
	// rebalance package), even if the described state is already Stable.
	Rebalancing bool

	// Growing is true when the lag rose through the whole growth window;
	// GrowthFrom is the lag at the start of the window.
	Growing    bool
	GrowthFrom int64
}

// Result is a status and why.
type Result struct {
	Status Status
	Reason string
}

// Evaluate applies the rules to one group.
func Evaluate(in Input, th config.GroupThresholds) Result {
	switch {
	case !in.HasData:
		return Result{Unknown, "no successful read of this group yet"}
	case in.LostNow > 0:
		return Result{Lost, fmt.Sprintf("retention deleted %d messages the group had not consumed (%s)", in.LostNow, in.LostWhere)}
	case in.LostRecent > 0:
		return Result{Lost, fmt.Sprintf("retention deleted %d unconsumed messages within the last %s (%s)", in.LostRecent, th.GrowthWindow, in.LostWhere)}
	case in.Lag > 0 && in.Members == 0:
		return Result{Stopped, fmt.Sprintf("no members and %d messages behind", in.Lag)}
	case rebalance.RebalancingStates[in.State]:
		return Result{Rebalancing, "group state " + in.State}
	case in.Rebalancing:
		return Result{Rebalancing, "rebalance in progress"}
	case in.Lag > 0 && th.StallAfter > 0 && in.Gap >= th.StallAfter:
		return Result{Stalled, fmt.Sprintf("no commit progress for %s on %s (%d messages behind)", in.Gap.Round(time.Second), in.GapWhere, in.Lag)}
	case in.Rewound != "":
		return Result{Rewind, "committed offset moved backwards on " + in.Rewound}
	}
	if th.WarnLagSeconds > 0 && in.LagSecondsKnown && in.LagSeconds >= th.WarnLagSeconds.Seconds() {
		return Result{Warning, fmt.Sprintf("time lag %s is above %s", roundSeconds(in.LagSeconds), th.WarnLagSeconds)}
	}
	if th.WarnLag > 0 && in.Lag >= th.WarnLag {
		return Result{Warning, fmt.Sprintf("lag %d messages is above %d", in.Lag, th.WarnLag)}
	}
	if in.Growing {
		return Result{Warning, fmt.Sprintf("lag rose from %d to %d over %s", in.GrowthFrom, in.Lag, th.GrowthWindow)}
	}
	return Result{OK, ""}
}

func roundSeconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}

// Sample is one (time, lag) point of a group's lag history.
type Sample struct {
	At  time.Time
	Lag int64
}

// Growing reports whether lag rose through the whole window: the samples
// span at least window, the first is > 0, and every one is strictly above
// the one before (a consumer that keeps up lets its lag fall now and then;
// one that does not, never does). It returns the lag at the start of the
// window. Samples must be in time order.
func Growing(samples []Sample, now time.Time, window time.Duration) (bool, int64) {
	if window <= 0 || len(samples) < 3 {
		return false, 0
	}
	// The window starts at the newest sample at or before now-window.
	start := -1
	for i, s := range samples {
		if !s.At.After(now.Add(-window)) {
			start = i
		}
	}
	if start < 0 || len(samples)-start < 3 {
		return false, 0
	}
	w := samples[start:]
	if w[0].Lag <= 0 {
		return false, 0
	}
	for i := 1; i < len(w); i++ {
		if w[i].Lag <= w[i-1].Lag {
			return false, 0
		}
	}
	return true, w[0].Lag
}

// Trim drops samples older than needed for window (keeping one before it).
func Trim(samples []Sample, now time.Time, window time.Duration) []Sample {
	cut := 0
	for i, s := range samples {
		if !s.At.After(now.Add(-window)) {
			cut = i
		}
	}
	return samples[cut:]
}

// ShareInput is what the share-group rules look at. A share group has no
// commits: its members acquire records and acknowledge them, and the
// broker moves the share-partition start offset (SPSO) past every record
// that is acknowledged, archived or gone.
type ShareInput struct {
	HasData bool
	Members int
	// Lag is the share group's lag: records not yet acknowledged or
	// archived, summed over its share-partitions.
	Lag int64
	// Gap is how long no share-partition with lag has made progress (its
	// start offset advanced or its lag fell); GapWhere describes them.
	Gap      time.Duration
	GapWhere string
	// Growing and GrowthFrom are as in Input.
	Growing    bool
	GrowthFrom int64
}

// EvaluateShare applies the share-group rules, first match wins:
//
//	unknown  the group has never been read
//	stopped  lag > 0 and no members: nobody acquires the records
//	stalled  lag > 0, members, and no share-partition with lag has made progress (start offset up or lag down) for StallAfter
//	warning  lag >= WarnLag, or lag rising at every poll through GrowthWindow
//	ok       none of the above
//
// Time-lag thresholds do not apply (klagx does not estimate share-group
// time lag), nor do rewind, lost and rebalancing (share groups assign
// partitions to many members at once and never rewind a commit).
func EvaluateShare(in ShareInput, th config.GroupThresholds) Result {
	switch {
	case !in.HasData:
		return Result{Unknown, "no successful read of this share group yet"}
	case in.Lag > 0 && in.Members == 0:
		return Result{Stopped, fmt.Sprintf("no members and %d records not acknowledged", in.Lag)}
	case in.Lag > 0 && th.StallAfter > 0 && in.Gap >= th.StallAfter:
		return Result{Stalled, fmt.Sprintf("no acknowledgement progress for %s on %s (%d records not acknowledged)", in.Gap.Round(time.Second), in.GapWhere, in.Lag)}
	case th.WarnLag > 0 && in.Lag >= th.WarnLag:
		return Result{Warning, fmt.Sprintf("lag %d records is above %d", in.Lag, th.WarnLag)}
	case in.Growing:
		return Result{Warning, fmt.Sprintf("lag rose from %d to %d over %s", in.GrowthFrom, in.Lag, th.GrowthWindow)}
	}
	return Result{OK, ""}
}
