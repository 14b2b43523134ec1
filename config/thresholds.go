package config

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Defaults of the time-lag and threshold settings, set by [Default].
const (
	// DefaultFetchBudget is the default [TimeLag.FetchBudget].
	DefaultFetchBudget = 1000
	// DefaultWarnLagSeconds is the default [GroupThresholds.WarnLagSeconds].
	DefaultWarnLagSeconds = 2 * time.Minute
	// DefaultCritLagSeconds is the default [GroupThresholds.CritLagSeconds].
	DefaultCritLagSeconds = 10 * time.Minute
	// DefaultStallAfter is the default [GroupThresholds.StallAfter].
	DefaultStallAfter = 3 * time.Minute
	// DefaultGrowthWindow is the default [GroupThresholds.GrowthWindow].
	DefaultGrowthWindow = 5 * time.Minute
)

// DefaultGroupThresholds returns the built-in thresholds: warning at 2m of
// time lag, critical at 10m, no message-count rules, stalled after 3m
// without commit progress, growth judged over 5m.
func DefaultGroupThresholds() GroupThresholds {
	return GroupThresholds{
		WarnLagSeconds: DefaultWarnLagSeconds,
		CritLagSeconds: DefaultCritLagSeconds,
		StallAfter:     DefaultStallAfter,
		GrowthWindow:   DefaultGrowthWindow,
	}
}

// TimeLagMode selects how the time lag (seconds behind) of a partition is
// estimated.
type TimeLagMode string

// TimeLagMode values.
const (
	// TimeLagInterpolate estimates the timestamp of the committed offset
	// from the end offsets seen over time (default; no record fetches).
	TimeLagInterpolate TimeLagMode = "interpolate"
	// TimeLagExact fetches the record at the committed offset to read its
	// timestamp, up to TimeLag.FetchBudget fetches per cycle and cluster.
	TimeLagExact TimeLagMode = "exact"
)

// TimeLagModes lists the valid [TimeLagMode] values, default first.
var TimeLagModes = []TimeLagMode{TimeLagInterpolate, TimeLagExact}

// TimeLag configures the time-lag estimation.
type TimeLag struct {
	// Mode; default TimeLagInterpolate.
	Mode TimeLagMode
	// FetchBudget is, in exact mode, the maximum number of record fetches
	// per poll cycle per cluster. Default DefaultFetchBudget; must be >= 1.
	FetchBudget int
}

// GroupThresholds are the status thresholds of one group. A zero duration or
// count disables that rule (except StallAfter and GrowthWindow, which must be > 0).
type GroupThresholds struct {
	WarnLagSeconds time.Duration // default 2m
	CritLagSeconds time.Duration // default 10m
	WarnLag        int64         // messages; default 0 (disabled)
	CritLag        int64         // messages; default 0 (disabled)
	StallAfter     time.Duration // default 3m: lag > 0 and no commit progress for this long = stalled
	GrowthWindow   time.Duration // default 5m: lag rising through this whole window = warning
}

// ThresholdOverride applies to groups whose name fully matches Group; nil fields inherit.
//
// Build it with [NewThresholdOverride], which compiles Source into Group.
// An override whose Group is nil matches nothing (and fails Validate).
type ThresholdOverride struct {
	Group          *regexp.Regexp // fully anchored like the other filters
	Source         string         // the regex as written, for messages and docs
	WarnLagSeconds *time.Duration
	CritLagSeconds *time.Duration
	WarnLag        *int64
	CritLag        *int64
	StallAfter     *time.Duration
	GrowthWindow   *time.Duration
}

// Thresholds are the default thresholds and the per-group overrides.
type Thresholds struct {
	Default   GroupThresholds
	Overrides []ThresholdOverride // first matching override wins
}

// For returns the thresholds of group: Default with the first matching override applied.
func (t Thresholds) For(group string) GroupThresholds {
	for _, o := range t.Overrides {
		if o.Group != nil && o.Group.MatchString(group) {
			return o.apply(t.Default)
		}
	}
	return t.Default
}

// apply returns g with the non-nil fields of o replacing its own.
func (o ThresholdOverride) apply(g GroupThresholds) GroupThresholds {
	set := func(dst *time.Duration, src *time.Duration) {
		if src != nil {
			*dst = *src
		}
	}
	set(&g.WarnLagSeconds, o.WarnLagSeconds)
	set(&g.CritLagSeconds, o.CritLagSeconds)
	set(&g.StallAfter, o.StallAfter)
	set(&g.GrowthWindow, o.GrowthWindow)
	if o.WarnLag != nil {
		g.WarnLag = *o.WarnLag
	}
	if o.CritLag != nil {
		g.CritLag = *o.CritLag
	}
	return g
}

// NewThresholdOverride returns an override for the groups fully matching
// the regex source, which it compiles; field names the setting in errors
// (e.g. "thresholds[2].group").
func NewThresholdOverride(field, source string) (ThresholdOverride, error) {
	if source == "" {
		return ThresholdOverride{}, fmt.Errorf("%s: required (a regex of the group names the entry applies to)", field)
	}
	res, err := compileAnchored(field, []string{source})
	if err != nil {
		return ThresholdOverride{}, err
	}
	return ThresholdOverride{Group: res[0], Source: source}, nil
}

// validateTimeLagAndThresholds checks the time-lag and threshold settings.
func (c Config) validateTimeLagAndThresholds() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !slices.Contains(TimeLagModes, c.TimeLag.Mode) {
		add("time_lag.mode: %q is not one of %s", c.TimeLag.Mode, join(TimeLagModes))
	}
	if c.TimeLag.FetchBudget < 1 {
		add("time_lag.fetch_budget: %d is below the minimum of 1", c.TimeLag.FetchBudget)
	}

	errs = append(errs, c.Thresholds.Default.validate("", c.PollInterval, nil)...)
	for i, o := range c.Thresholds.Overrides {
		p := fmt.Sprintf("thresholds[%d]", i)
		if o.Group == nil {
			add("%s.group: required (a regex of the group names the entry applies to)", p)
		}
		errs = append(errs, o.apply(c.Thresholds.Default).validate(p+".", c.PollInterval, &o)...)
	}
	return errs
}

// validate checks g. p prefixes the field names ("" or "thresholds[2].").
// For an override o (nil for the default), values o does not set are
// reported as inherited, and only the rules o touches are checked, so that
// a bad default is reported once.
func (g GroupThresholds) validate(p string, poll time.Duration, o *ThresholdOverride) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// own reports whether the field is set here (always for the default).
	own := func(set bool) bool { return o == nil || set }
	from := func(set bool) string {
		if o != nil && !set {
			return ", inherited"
		}
		return ""
	}

	type dur struct {
		name string
		v    time.Duration
		set  bool
	}
	var wls, cls, sa, gw dur
	wls = dur{"warn_lag_seconds", g.WarnLagSeconds, o != nil && o.WarnLagSeconds != nil}
	cls = dur{"crit_lag_seconds", g.CritLagSeconds, o != nil && o.CritLagSeconds != nil}
	sa = dur{"stall_after", g.StallAfter, o != nil && o.StallAfter != nil}
	gw = dur{"growth_window", g.GrowthWindow, o != nil && o.GrowthWindow != nil}
	wlSet := o != nil && o.WarnLag != nil
	clSet := o != nil && o.CritLag != nil

	for _, d := range []dur{wls, cls} {
		if own(d.set) && d.v < 0 {
			add("%s%s: %s is negative (0 disables the rule)", p, d.name, d.v)
		}
	}
	if own(wlSet) && g.WarnLag < 0 {
		add("%swarn_lag: %d is negative (0 disables the rule)", p, g.WarnLag)
	}
	if own(clSet) && g.CritLag < 0 {
		add("%scrit_lag: %d is negative (0 disables the rule)", p, g.CritLag)
	}
	for _, d := range []dur{sa, gw} {
		if own(d.set) && d.v < poll {
			add("%s%s: %s is below poll_interval (%s); it must be at least one poll interval", p, d.name, d.v, poll)
		}
	}
	if (own(wls.set) || own(cls.set)) && wls.v > 0 && cls.v > 0 && wls.v > cls.v {
		add("%swarn_lag_seconds (%s%s) is above crit_lag_seconds (%s%s): the warning threshold must not exceed the critical one (0 disables either)",
			p, wls.v, from(wls.set), cls.v, from(cls.set))
	}
	if (own(wlSet) || own(clSet)) && g.WarnLag > 0 && g.CritLag > 0 && g.WarnLag > g.CritLag {
		add("%swarn_lag (%d%s) is above crit_lag (%d%s): the warning threshold must not exceed the critical one (0 disables either)",
			p, g.WarnLag, from(wlSet), g.CritLag, from(clSet))
	}
	return errs
}
