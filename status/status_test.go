package status

import (
	"strings"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/metrics"
)

var th = config.GroupThresholds{WarnLagSeconds: 2 * time.Minute, CritLagSeconds: 10 * time.Minute,
	WarnLag: 1000, StallAfter: 3 * time.Minute, GrowthWindow: 5 * time.Minute}

func TestEvaluateOrder(t *testing.T) {
	base := Input{HasData: true, State: "Stable", Members: 1}
	for _, tc := range []struct {
		name string
		mod  func(*Input)
		want Status
		why  string
	}{
		{"no data", func(in *Input) { in.HasData = false }, Unknown, "no successful read"},
		{"healthy", func(in *Input) {}, OK, ""},
		{"idle with old commit", func(in *Input) { in.Gap = time.Hour }, OK, ""},
		{"lost beats everything", func(in *Input) { in.Lag, in.Members, in.LostNow, in.LostWhere = 5, 0, 7, "t/0" }, Lost, "deleted 7"},
		{"recent loss", func(in *Input) { in.LostRecent, in.LostWhere = 3, "t/1" }, Lost, "within the last 5m0s"},
		{"stopped", func(in *Input) { in.Lag, in.Members, in.State = 5, 0, "Empty" }, Stopped, "no members"},
		{"rebalancing hides a stall", func(in *Input) { in.Lag, in.Gap, in.State = 5, time.Hour, "PreparingRebalance" }, Rebalancing, "PreparingRebalance"},
		{"KIP-848 reconciling", func(in *Input) { in.State = "Reconciling" }, Rebalancing, "Reconciling"},
		{"stalled", func(in *Input) { in.Lag, in.Gap, in.GapWhere = 5, 4*time.Minute, "2 partitions with lag" }, Stalled, "4m0s"},
		{"gap below threshold", func(in *Input) { in.Lag, in.Gap = 5, 2*time.Minute }, OK, ""},
		{"rewind", func(in *Input) { in.Rewound = "t/0 (from 9 to 2)" }, Rewind, "backwards"},
		{"time lag warning", func(in *Input) { in.Lag, in.LagSeconds, in.LagSecondsKnown = 5, 150, true }, Warning, "time lag 2m30s"},
		{"unknown time lag is not a warning", func(in *Input) { in.Lag, in.LagSeconds = 5, 150 }, OK, ""},
		{"message lag warning", func(in *Input) { in.Lag = 1000 }, Warning, "1000 messages"},
		{"growing", func(in *Input) { in.Lag, in.Growing, in.GrowthFrom = 50, true, 10 }, Warning, "rose from 10 to 50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.mod(&in)
			got := Evaluate(in, th)
			if got.Status != tc.want || !strings.Contains(got.Reason, tc.why) {
				t.Fatalf("Evaluate = %+v, want %s with reason containing %q", got, tc.want, tc.why)
			}
		})
	}
}

func TestGrowing(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	mk := func(lags ...int64) []Sample {
		out := make([]Sample, len(lags))
		for i, l := range lags {
			out[i] = Sample{At: t0.Add(time.Duration(i) * time.Minute), Lag: l}
		}
		return out
	}
	for _, tc := range []struct {
		lags []int64
		want bool
	}{
		{[]int64{1, 2, 3, 4, 5, 6, 7}, true},
		{[]int64{1, 2, 3, 3, 5, 6, 7}, false}, // a flat step: keeping up at times
		{[]int64{0, 2, 3, 4, 5, 6, 7}, true},  // the window starts after the 0 (t0+1m)
		{[]int64{5, 4, 9, 10, 11, 12, 13}, true},
		{[]int64{1, 2, 3}, false}, // does not span the window yet
	} {
		s := mk(tc.lags...)
		got, _ := Growing(s, s[len(s)-1].At, 5*time.Minute)
		if got != tc.want {
			t.Errorf("Growing(%v) = %v, want %v", tc.lags, got, tc.want)
		}
	}
}

// TestContractListsEveryStatus keeps metrics.Statuses in step with All.
func TestContractListsEveryStatus(t *testing.T) {
	if len(metrics.Statuses) != len(All) {
		t.Fatalf("metrics.Statuses %v, status.All %v", metrics.Statuses, All)
	}
	for i, s := range All {
		if metrics.Statuses[i] != string(s) {
			t.Fatalf("metrics.Statuses %v, status.All %v", metrics.Statuses, All)
		}
	}
}

// TestSeverity: each status's check severity, the exit codes and the
// ranking klagx check reports the worst group by.
func TestSeverity(t *testing.T) {
	want := map[Status]Severity{OK: SeverityOK, Warning: SeverityWarning, Rewind: SeverityWarning, Rebalancing: SeverityWarning,
		Stalled: SeverityCritical, Stopped: SeverityCritical, Lost: SeverityCritical, Unknown: SeverityUnknown}
	for _, s := range All {
		if got := s.Severity(); got != want[s] {
			t.Errorf("%s: severity %s, want %s", s, got, want[s])
		}
	}
	for sev, code := range map[Severity]int{SeverityOK: 0, SeverityWarning: 1, SeverityCritical: 2, SeverityUnknown: 3} {
		if sev.ExitCode() != code {
			t.Errorf("%s: exit code %d, want %d", sev, sev.ExitCode(), code)
		}
	}
	order := []Severity{SeverityOK, SeverityUnknown, SeverityWarning, SeverityCritical}
	for i := 1; i < len(order); i++ {
		if !order[i].Worse(order[i-1]) || order[i-1].Worse(order[i]) {
			t.Errorf("%s must be worse than %s", order[i], order[i-1])
		}
	}
}
