package check

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/status"
)

// Formats of Render.
const (
	FormatTable  = "table"
	FormatJSON   = "json"
	FormatNagios = "nagios"
)

// Formats lists the output formats.
var Formats = []string{FormatTable, FormatJSON, FormatNagios}

// Render writes the result in the given format.
func Render(w io.Writer, r *Result, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r.Report)
	case FormatNagios:
		return renderNagios(w, r)
	default:
		return renderTable(w, r)
	}
}

func secs(p *float64) string {
	if p == nil {
		return "-"
	}
	v := *p
	switch {
	case v >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// renderTable prints one block per group, in the spirit of
// kafka-consumer-groups.sh --describe, with a summary line per group and a
// last line for the whole check.
func renderTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	multi := len(r.Report.Clusters) > 1
	header := "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tLAG-SECONDS\tSTATUS\tREASON\tCATCHUP\tCONSUMER-ID\tHOST\tCLIENT-ID"
	if multi {
		header = "CLUSTER\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, cg := range SortedGroups(r.Report) {
		g := cg.Group
		prefix := ""
		if multi {
			prefix = cg.Cluster + "\t"
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				cur := "-"
				if p.Committed != nil {
					cur = strconv.FormatInt(*p.Committed, 10)
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t-\t%s\n", prefix, g.Name, t.Name, p.Partition, cur, p.End, p.Lag, secs(p.LagSeconds), p.Status, dash(p.Reason), owner(p.Owner))
			}
		}
		reason := g.Reason
		if g.ProduceRate != nil && g.CommitRate != nil {
			rates := fmt.Sprintf("produce %.1f/s, commit %.1f/s", *g.ProduceRate, *g.CommitRate)
			if reason == "" {
				reason = rates
			} else {
				reason += "; " + rates
			}
		}
		members := fmt.Sprintf("%d members", g.Members)
		if g.Members == 1 {
			members = "1 member"
		}
		if g.Kind != "" {
			members += ", " + g.Kind // classic, consumer (KIP-848), streams (KIP-1071)
		}
		members = "(" + members + ")"
		// Empty owner cells keep the owner columns aligned across groups.
		fmt.Fprintf(tw, "%s%s\t%s\t\t\t\t%d\t%s\t%s %s\t%s\t%s\t\t\t\n", prefix, g.Name, members, g.Lag, secs(g.LagSeconds), g.Severity, g.Status, reason, secs(g.CatchUpSeconds))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := renderShareTable(w, r, multi); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, summary(r))
	return err
}

// owner is the CONSUMER-ID, HOST and CLIENT-ID cells of a partition, as
// kafka-consumer-groups --describe shows them: "-" when no member owns it.
func owner(o *report.Owner) string {
	if o == nil {
		return "-\t-\t-"
	}
	return dash(o.MemberID) + "\t" + dash(o.Host) + "\t" + dash(o.ClientID)
}

// dash is s, or "-" for an empty cell (a column after it would otherwise
// shift under tabwriter's alignment when read by whitespace).
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// renderShareTable prints the share groups (KIP-932), if any, in the
// spirit of kafka-share-groups.sh --describe --offsets: no commits, the
// share-partition start offset instead.
func renderShareTable(w io.Writer, r *Result, multi bool) error {
	has := false
	for _, c := range r.Report.Clusters {
		has = has || len(c.ShareGroups) > 0
	}
	if !has {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "SHARE-GROUP\tTOPIC\tPARTITION\tSTART-OFFSET\tLOG-END-OFFSET\tLAG\tSTATUS\tREASON"
	if multi {
		header = "CLUSTER\t" + header
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, header)
	for _, c := range r.Report.Clusters {
		prefix := ""
		if multi {
			prefix = c.Name + "\t"
		}
		for _, g := range c.ShareGroups {
			for _, p := range g.Partitions {
				lag := optInt(p.Lag)
				if p.Estimated {
					lag = "<=" + lag
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%d\t%d\t%s\t%s\t\t\n", prefix, g.Name, p.Topic, p.Partition, p.StartOffset, optInt(p.End), lag)
			}
			members := fmt.Sprintf("(%d members)", len(g.Members))
			if len(g.Members) == 1 {
				members = "(1 member)"
			}
			fmt.Fprintf(tw, "%s%s\t%s\t\t\t\t%d\t%s %s\t%s\n", prefix, g.Name, members, g.Lag, g.Severity, g.Status, g.Reason)
		}
	}
	return tw.Flush()
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

func summary(r *Result) string {
	var parts []string
	for _, s := range status.Severities {
		if n := r.Counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(s.String())))
		}
	}
	return fmt.Sprintf("%s: %s", r.Severity, strings.Join(parts, ", "))
}

// renderNagios prints the Nagios plugin format: one status line naming the
// worst groups, then perfdata per group (lag in messages and seconds with
// warning and critical thresholds, standard label=value[UOM];warn;crit;min;
// syntax).
func renderNagios(w io.Writer, r *Result) error {
	var bad []string
	var perf []string
	multi := len(r.Report.Clusters) > 1
	for _, cg := range SortedGroups(r.Report) {
		g := cg.Group
		name := g.Name
		if multi {
			name = cg.Cluster + "/" + g.Name
		}
		if g.Severity != status.SeverityOK {
			d := fmt.Sprintf("%s %s", name, g.Status)
			if g.Reason != "" {
				d += " (" + g.Reason + ")"
			}
			bad = append(bad, d)
		}
		th := r.thresholds[cg.Cluster+"\x00"+g.Name]
		perf = append(perf, fmt.Sprintf("'%s lag'=%d;%s;%s;0;", perfLabel(name), g.Lag, num(th.warnLag), num(th.critLag)))
		if g.LagSeconds != nil {
			perf = append(perf, fmt.Sprintf("'%s lag_seconds'=%ss;%s;%s;0;", perfLabel(name),
				strconv.FormatFloat(*g.LagSeconds, 'f', 1, 64), num(th.warnSecs), num(th.critSecs)))
		}
	}
	for _, c := range r.Report.Clusters {
		for _, g := range c.ShareGroups {
			name := "share " + g.Name
			if multi {
				name = c.Name + "/" + name
			}
			if g.Severity != status.SeverityOK {
				d := fmt.Sprintf("%s %s", name, g.Status)
				if g.Reason != "" {
					d += " (" + g.Reason + ")"
				}
				bad = append(bad, d)
			}
			th := r.thresholds[c.Name+"\x00share\x00"+g.Name]
			perf = append(perf, fmt.Sprintf("'%s lag'=%d;%s;%s;0;", perfLabel(name), g.Lag, num(th.warnLag), num(th.critLag)))
		}
	}
	line := "KLAGX " + summary(r)
	if len(bad) > 0 {
		line += " - " + strings.Join(bad, "; ")
	}
	_, err := fmt.Fprintf(w, "%s | %s\n", strings.ReplaceAll(line, "|", "/"), strings.Join(perf, " "))
	return err
}

// perfLabel keeps a label inside its single quotes.
func perfLabel(s string) string {
	return strings.NewReplacer("'", "_", "=", "_", "|", "_").Replace(s)
}

func num(v int64) string {
	if v <= 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}
