package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/klagx/klagx/metrics"
)

// Dashboard is one generated dashboard.
type Dashboard struct {
	// Name is the file base name and the dashboard UID, e.g. "klagx-overview".
	Name string
	// JSON is the dashboard model, indented, with a trailing newline.
	JSON []byte
}

// Query is one PromQL expression of a dashboard, with the Grafana variables
// ($__rate_interval, $cluster, ...) left in; see Substitute.
type Query struct {
	// Dashboard is the dashboard's Name (and UID).
	Dashboard string
	// Panel is the panel title, or "annotation: NAME" for an annotation
	// query.
	Panel string
	// RefID is the query's refId within the panel ("Anno" for annotations).
	RefID string
	// Expr is the PromQL expression as stored in the dashboard.
	Expr string
	// OptIn lists the opt-in families (metrics.Family.OptIn) the query
	// needs: it shows no data at the defaults.
	OptIn []string
}

// The dashboard UIDs, which are also the file base names.
const (
	OverviewUID   = "klagx-overview"
	GroupUID      = "klagx-group"
	RebalancesUID = "klagx-rebalances"
	// ShareGroupsUID is the share-group (KIP-932) dashboard.
	ShareGroupsUID = "klagx-share-groups"
)

// Tags are the tags of every klagx dashboard.
var Tags = []string{"klagx", "kafka"}

// generators lists the dashboards in the order All returns them.
var generators = []struct {
	name  string
	build func() (dashboard.Dashboard, error)
}{
	{OverviewUID, overview},
	{GroupUID, group},
	{RebalancesUID, rebalances},
	{ShareGroupsUID, shareGroups},
}

// All builds every dashboard.
func All() ([]Dashboard, error) {
	out := make([]Dashboard, 0, len(generators))
	for _, g := range generators {
		d, err := g.build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", g.name, err)
		}
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", g.name, err)
		}
		out = append(out, Dashboard{Name: g.name, JSON: append(b, '\n')})
	}
	return out, nil
}

// Write writes every dashboard to dir as <Name>.json, creating dir if needed.
func Write(dir string) error {
	ds, err := All()
	if err != nil {
		return err
	}
	for _, d := range ds {
		if _, err := d.WriteFile(dir); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes d to dir as <Name>.json, creating dir if needed, and
// returns the file's path.
func (d Dashboard) WriteFile(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, d.Name+".json")
	return path, os.WriteFile(path, d.JSON, 0o644)
}

// Queries returns every PromQL expression of every dashboard: panel targets
// and annotation queries, in dashboard and panel order. Variable queries
// (label_values(...)) are Grafana syntax, not PromQL, and are not included.
func Queries() ([]Query, error) {
	ds, err := All()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, d := range ds {
		var m struct {
			Panels      []jsonPanel `json:"panels"`
			Annotations struct {
				List []struct {
					Name string `json:"name"`
					Expr string `json:"expr"`
				} `json:"list"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal(d.JSON, &m); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.Name, err)
		}
		var walk func([]jsonPanel)
		walk = func(ps []jsonPanel) {
			for _, p := range ps {
				for _, t := range p.Targets {
					out = append(out, Query{Dashboard: d.Name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr, OptIn: OptIn(t.Expr)})
				}
				walk(p.Panels)
			}
		}
		walk(m.Panels)
		for _, a := range m.Annotations.List {
			if a.Expr != "" {
				out = append(out, Query{Dashboard: d.Name, Panel: "annotation: " + a.Name, RefID: "Anno", Expr: a.Expr, OptIn: OptIn(a.Expr)})
			}
		}
	}
	return out, nil
}

type jsonPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []jsonPanel `json:"panels"`
}

// Substitute replaces Grafana variables in expr: each key of vars, written
// $key or ${key}, by its value. Longer names are replaced first, so
// $__rate_interval is not mistaken for $__rate. Use it to run Queries
// against Prometheus, e.g. with {"__rate_interval": "5m", "cluster": "prod"}.
func Substitute(expr string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) > len(names[j])
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		expr = strings.ReplaceAll(expr, "${"+k+"}", vars[k])
		expr = strings.ReplaceAll(expr, "$"+k, vars[k])
	}
	return expr
}

// ---- building blocks shared by the dashboards ----

// datasourceVar is the name of the data source variable every panel and
// query uses.
const datasourceVar = "datasource"

func ptr[T any](v T) *T { return &v }

// ds is the reference to the dashboard's Prometheus data source variable.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${" + datasourceVar + "}")}
}

// newDashboard starts a dashboard with the settings all three share.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags(Tags).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-3h", "now").
		Refresh("1m").
		Timezone("browser").
		WithVariable(dashboard.NewDatasourceVariableBuilder(datasourceVar).
			Label("Data source").
			Type("prometheus"))
}

// queryVar is a Prometheus query variable over label_values(query).
func queryVar(name, label, query string, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(ds()).
		Query(dashboard.StringOrMap{String: ptr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortNaturalAsc)
	if multi {
		v = v.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return v
}

// target is one Prometheus target, neither range nor instant yet.
func target(refID, expr, legend string) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().
		RefId(refID).
		Expr(expr).
		Datasource(ds()).
		EditorMode(prometheus.QueryEditorModeCode)
	if legend != "" {
		b = b.LegendFormat(legend)
	}
	return b
}

// q is one range Prometheus target.
func q(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return target(refID, expr, legend).Range()
}

// instant is one instant Prometheus target in table format.
func instant(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return target(refID, expr, legend).Instant().Format(prometheus.PromQueryFormatTable)
}

// current is one instant Prometheus target as time series: the values at the
// end of the time range only, one series per label set, named by legend.
// A stat panel showing "the current X" needs it: over a range, every value
// the series took is a series of its own, and the panel shows each.
func current(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return target(refID, expr, legend).Instant()
}

func targets(qs []*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, b := range qs {
		out[i] = b
	}
	return out
}

// panel is what every panel states: id, title, description, unit, size
// and queries.
type panel struct {
	id          uint32
	title, desc string
	unit        string
	w, h        uint32
	queries     []*prometheus.DataqueryBuilder
}

// description is the panel's description, plus a note naming the opt-in
// families its queries need, so that a panel empty at the defaults says
// why and how to fill it.
func (p panel) description() string {
	var need []string
	for _, qb := range p.queries {
		dq, err := qb.Build()
		if err != nil {
			continue
		}
		if q, ok := dq.(prometheus.Dataquery); ok {
			for _, n := range OptIn(q.Expr) {
				if !slices.Contains(need, n) {
					need = append(need, n)
				}
			}
		}
	}
	if len(need) == 0 {
		return p.desc
	}
	return p.desc + " Needs the opt-in " + strings.Join(need, ", ") + ": serve it with --metric-opt-in-list (docs/metrics.md)."
}

// metricName matches every klagx metric identifier in an expression.
var metricName = regexp.MustCompile(`\bklagx_[a-zA-Z0-9_]*`)

// family resolves a series name used in PromQL to its contract family:
// histograms are queried through _bucket, _sum and _count.
func family(name string) (metrics.Family, bool) {
	if f, ok := metrics.Lookup(name); ok {
		return f, f.Type != metrics.Histogram // a bare histogram name has no series
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := metrics.Lookup(base); ok && f.Type == metrics.Histogram {
				return f, true
			}
		}
	}
	return metrics.Family{}, false
}

// OptIn returns the opt-in families expr needs, which are not served at
// the defaults. A topic-level family next to a partition-level one is the
// fallback of "partition-query or topic-query" (for --granularity=topic,
// where it is served): it is not needed.
func OptIn(expr string) []string {
	var optIn []string
	partitionLevel := false
	for _, name := range metricName.FindAllString(expr, -1) {
		f, ok := family(name)
		if !ok {
			continue
		}
		if f.Level == metrics.LevelPartition && !f.OptIn {
			partitionLevel = true
		}
		if f.OptIn && !slices.Contains(optIn, f.Name) {
			optIn = append(optIn, f.Name)
		}
	}
	if partitionLevel {
		optIn = slices.DeleteFunc(optIn, func(n string) bool {
			f, _ := metrics.Lookup(n)
			return f.Level == metrics.LevelTopic
		})
	}
	return optIn
}

func legend(table bool) *common.VizLegendOptionsBuilder {
	l := common.NewVizLegendOptionsBuilder().ShowLegend(true).Placement(common.LegendPlacementBottom)
	if table {
		return l.DisplayMode(common.LegendDisplayModeTable).Calcs([]string{"lastNotNull", "max"}).SortBy("Last *").SortDesc(true)
	}
	return l.DisplayMode(common.LegendDisplayModeList)
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

func timeseriesPanel(p panel) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(p.id).
		Title(p.title).
		Description(p.description()).
		Datasource(ds()).
		Unit(p.unit).
		Span(p.w).
		Height(p.h).
		Targets(targets(p.queries)).
		Legend(legend(true)).
		Tooltip(tooltip()).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever)
}

func statPanel(p panel) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(p.id).
		Title(p.title).
		Description(p.description()).
		Datasource(ds()).
		Unit(p.unit).
		Span(p.w).
		Height(p.h).
		Targets(targets(p.queries)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeAuto)
}

func tablePanel(p panel) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(p.id).
		Title(p.title).
		Description(p.description()).
		Datasource(ds()).
		Unit(p.unit).
		Span(p.w).
		Height(p.h).
		Targets(targets(p.queries)).
		CellHeight(common.TableCellHeightSm).
		ShowHeader(true).
		// table.NewOptions leaves footer.reducer null, which Grafana does
		// not expect and the SDK's own strict decoder rejects.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false))
}

func stateTimelinePanel(p panel) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Id(p.id).
		Title(p.title).
		Description(p.description()).
		Datasource(ds()).
		Unit(p.unit).
		Span(p.w).
		Height(p.h).
		Targets(targets(p.queries)).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(false).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		ShowValue(common.VisibilityModeNever).
		MergeValues(true).
		FillOpacity(80)
}

func heatmapPanel(p panel, yUnit string) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().
		Id(p.id).
		Title(p.title).
		Description(p.description()).
		Datasource(ds()).
		Unit(p.unit).
		Span(p.w).
		Height(p.h).
		Targets(targets(p.queries)).
		Calculate(false).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit(yUnit).AxisPlacement(common.AxisPlacementLeft)).
		Color(heatmap.NewHeatmapColorOptionsBuilder().Mode(heatmap.HeatmapColorModeScheme).Scheme("Oranges").Fill("dark-orange").Scale(heatmap.HeatmapColorScaleExponential).Exponent(0.5).Steps(64)).
		CellGap(1).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(true))
}

// row starts a section of a dashboard. Rows carry the data source too, so
// that every element of the panel list refers to ${datasource}.
func row(id uint32, title string) *dashboard.RowBuilder {
	return dashboard.NewRowBuilder(title).Id(id).Datasource(ds())
}

// fixedColor is a field-config override property setting a fixed colour.
func fixedColor(color string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": color}}}
}

// statusColors colours the values of klagx_group_status{status}.
var statusColors = []struct{ status, color string }{
	{"ok", "green"},
	{"warning", "yellow"},
	{"rewind", "orange"},
	{"rebalancing", "blue"},
	{"stalled", "red"},
	{"stopped", "dark-red"},
	{"lost", "purple"},
	{"unknown", "text"},
}

// sel renders a label selector from matchers such as `cluster=~"$cluster"`.
func sel(matchers ...string) string {
	return "{" + strings.Join(matchers, ", ") + "}"
}

// build runs a dashboard builder and reports its errors.
func build(b *dashboard.DashboardBuilder) (dashboard.Dashboard, error) {
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, err
	}
	// Let Grafana assign the numeric id on import.
	d.Id = nil
	// The SDK defaults links and annotation toggles to the dashboard
	// controls menu (placement inControlsMenu), which Grafana before 12.4
	// does not render for links: keep them above the panels, where every
	// Grafana puts them.
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	return d, nil
}

// stackNormal stacks the series of a time series panel.
func stackNormal() *common.StackingConfigBuilder {
	return common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A")
}

// organize is Grafana's "organize fields" transformation: hide some
// columns of a table, rename others.
func organize(exclude, rename map[string]any) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{
		Id:      "organize",
		Options: map[string]any{"excludeByName": exclude, "renameByName": rename},
	}
}

// upMappings shows klagx_up as UP (green) or DOWN (red).
func upMappings() []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr("DOWN"), Color: ptr("red"), Index: ptr(int32(0))},
			"1": {Text: ptr("UP"), Color: ptr("green"), Index: ptr(int32(1))},
		},
	}}}
}
