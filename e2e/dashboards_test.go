package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/klagx/klagx/dashboards"
)

// dashboardQueries runs every panel query of every generated dashboard,
// with its variables filled in, over the run so far: each must return at
// least one series (a panel that can never show data is a bug). klagx runs
// at its default metric families, which the dashboards must work on: the
// queries that need an opt-in family (their panels say so) are skipped.
func dashboardQueries(t *testing.T, s *stack, since time.Time) {
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"datasource": "prometheus", "cluster": "e2e", "group": "py-slow", "topic": "slow",
		"__rate_interval": "20s", "__interval": "5s", "__range": "5m",
	}
	// The rebalance and retention panels are about the groups that had them.
	perDashboard := map[string]map[string]string{dashboards.ShareGroupsUID: {
		"datasource": "prometheus", "cluster": "e2e", "group": shareRunning, "topic": "jobs",
		"__rate_interval": "20s", "__interval": "5s", "__range": "5m",
	}}
	empty, optIn := 0, 0
	for _, q := range qs {
		if len(q.OptIn) > 0 {
			optIn++
			continue
		}
		v := vars
		if o, ok := perDashboard[q.Dashboard]; ok {
			v = o
		}
		expr := dashboards.Substitute(q.Expr, v)
		n, err := rangeSeries(s, expr, since)
		if err == nil && n == 0 {
			// A group-specific panel may concern another scenario's
			// group: try the groups that had rebalances, losses, stops.
			for _, g := range []string{"stormy", "archiver", "stop-group", "healthy", shareStopped} {
				alt := copyVars(v)
				alt["group"] = g
				alt["topic"] = map[string]string{"stormy": "storm", "archiver": "retention", "stop-group": "stop", "healthy": "orders", shareStopped: "jobs"}[g]
				if n, err = rangeSeries(s, dashboards.Substitute(q.Expr, alt), since); err != nil || n > 0 {
					break
				}
			}
		}
		switch {
		case err != nil:
			t.Errorf("%s / %s (%s): %v\n%s", q.Dashboard, q.Panel, q.RefID, err, expr)
		case n == 0:
			empty++
			t.Errorf("%s / %s (%s) returned no series during the run:\n%s", q.Dashboard, q.Panel, q.RefID, expr)
		}
	}
	t.Logf("%d dashboard queries run, %d without data, %d skipped (need opt-in families)", len(qs)-optIn, empty, optIn)
}

func copyVars(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rangeSeries runs a range query over [since, now] and counts series.
func rangeSeries(s *stack, expr string, since time.Time) (int, error) {
	q := url.Values{}
	q.Set("query", expr)
	q.Set("start", strconv.FormatInt(since.Unix(), 10))
	q.Set("end", strconv.FormatInt(time.Now().Unix(), 10))
	q.Set("step", "2")
	resp, err := http.Get(s.promURL + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("%s", body.Error)
	}
	return len(body.Data.Result), nil
}
