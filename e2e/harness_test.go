// Package e2e proves the whole path a user relies on with real components:
// the klagx binary built from this tree polling a kfake cluster, a real
// Prometheus (Debian package) scraping it and evaluating the generated
// alert rules, a real Alertmanager routing to a webhook inside the test, and
// consumers this project did not write (kcat, python3-kafka) next to
// franz-go ones. Every process binds 127.0.0.1 on a free port, is started by
// the test and stopped by its PID; logs are printed when a test fails.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klagx/klagx/alerts"
	"github.com/klagx/klagx/internal/kfaketest"
)

// tool finds a required binary: a failure in CI, a skip elsewhere.
func tool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI (.ci/run installs it from Debian)", names[0])
	}
	t.Skipf("%s not installed", names[0])
	return ""
}

// freePort returns a free 127.0.0.1 port (closed again; a process started
// right after binds it).
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a child process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
}

// syncBuffer is a concurrency-safe output sink.
type syncBuffer = kfaketest.SyncBuffer

// start runs a process until the test ends; it is stopped by its PID
// (SIGTERM, then SIGKILL) and its output is logged if the test failed.
func start(t testing.TB, name string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, tail(p.out.String(), 6000))
		}
	})
	return p
}

// stop signals the process and waits for it (SIGKILL after 5 s).
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	kfaketest.WaitFor(t, d, what, cond)
}

// buildKlagx builds the binary from this tree once per test process.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

func klagxBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "klagx-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "klagx")
		out, err := exec.Command("go", "build", "-o", buildPath, "../cmd/klagx").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// stack is klagx + Prometheus + Alertmanager + the webhook receiver.
type stack struct {
	t          testing.TB
	klagxAddr  string
	promURL    string
	webhook    *webhook
	klagx      *proc
	prometheus *proc
}

// e2eAlertOptions are the generated rules with durations short enough to
// see alerts within seconds.
func e2eAlertOptions() alerts.Options {
	o := alerts.DefaultOptions()
	o.Selector = `job="klagx"`
	o.ForOverride = 3 * time.Second
	o.StormRebalances = 3
	o.StormWindow = 30 * time.Second
	o.StuckAfter = 20 * time.Second
	o.StaleAfter = 20 * time.Second
	o.GrowthWindow = 30 * time.Second
	return o
}

// klagxFlags are the exporter's flags for the e2e scenarios: fast polls and
// thresholds in seconds.
var klagxFlags = []string{
	"--poll-interval=1s", "--group-poll-interval=200ms",
	"--warn-lag-seconds=5s", "--crit-lag-seconds=8s", "--warn-lag=100000", "--crit-lag=500000",
	"--stall-after=4s", "--growth-window=10s",
	"--log.level=info",
}

func newStack(t testing.TB, brokers []string) *stack {
	t.Helper()
	promBin := tool(t, "prometheus")
	amBin := tool(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	s := &stack{t: t, webhook: newWebhook(t)}

	// klagx serve, on a port it picks itself; the address is read from its log.
	s.klagx = start(t, "klagx", klagxBinary(t), append([]string{"serve", "--brokers", strings.Join(brokers, ","),
		"--cluster-name=e2e", "--web.listen-address=127.0.0.1:0"}, klagxFlags...)...)
	addrRE := regexp.MustCompile(`msg="serving metrics" address=([0-9.:]+)`)
	waitFor(t, 30*time.Second, "klagx to listen", func() bool {
		m := addrRE.FindStringSubmatch(s.klagx.out.String())
		if m != nil {
			s.klagxAddr = m[1]
		}
		return m != nil
	})

	// Alertmanager, cluster port off, routing everything to the webhook.
	amAddr := freePort(t)
	amConf := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, amConf, fmt.Sprintf(`route:
  receiver: webhook
  group_by: [alertname, cluster, group]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, s.webhook.url))
	start(t, "alertmanager", amBin, "--config.file="+amConf, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")

	// Prometheus with the generated rules.
	rules, err := alerts.Render(e2eAlertOptions(), alerts.FormatRules)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules.yml"), string(rules))
	promAddr := freePort(t)
	promConf := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConf, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: klagx
    static_configs:
      - targets: [%q]
`, amAddr, s.klagxAddr))
	s.prometheus = start(t, "prometheus", promBin, "--config.file="+promConf, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--web.enable-lifecycle")
	s.promURL = "http://" + promAddr
	waitFor(t, 60*time.Second, "Prometheus to scrape klagx", func() bool {
		v, ok := s.queryScalar(`klagx_up{job="klagx"}`)
		return ok && v == 1
	})
	waitFor(t, 30*time.Second, "Alertmanager to be ready", func() bool {
		resp, err := http.Get("http://" + amAddr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// promResult is a Prometheus instant-query vector.
type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns the vector.
func (s *stack) query(q string) ([]promResult, error) {
	resp, err := http.Get(s.promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promResult `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, nil
	}
	return body.Data.Result, nil
}

// queryScalar returns the single value of a query, if there is exactly one.
func (s *stack) queryScalar(q string) (float64, bool) {
	r, err := s.query(q)
	if err != nil || len(r) != 1 {
		return 0, false
	}
	var v float64
	if str, ok := r[0].Value[1].(string); ok {
		fmt.Sscan(str, &v)
	}
	return v, true
}

// webhook records Alertmanager notifications.
type webhook struct {
	url  string
	mu   sync.Mutex
	msgs []notification
}

type notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n notification
		if err := json.Unmarshal(b, &n); err == nil {
			w.mu.Lock()
			w.msgs = append(w.msgs, n)
			w.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

// alert returns the first notified alert (firing or resolved) matching the
// name and labels.
func (w *webhook) alert(status, name string, labels map[string]string) (map[string]string, map[string]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.msgs {
		for _, a := range n.Alerts {
			if a.Status != status || a.Labels["alertname"] != name {
				continue
			}
			match := true
			for k, v := range labels {
				if a.Labels[k] != v {
					match = false
				}
			}
			if match {
				return a.Labels, a.Annotations, true
			}
		}
	}
	return nil, nil, false
}

// any reports whether any notification concerns the group.
func (w *webhook) anyFor(group string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.msgs {
		for _, a := range n.Alerts {
			if a.Labels["group"] == group {
				out = append(out, a.Labels["alertname"]+"/"+a.Status)
			}
		}
	}
	return out
}

// runCheck runs `klagx check` as a process and returns its exit code and output.
func runCheck(t testing.TB, brokers []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, klagxBinary(t), append([]string{"check", "--brokers", strings.Join(brokers, ","),
		"--cluster-name=e2e", "--log.level=error"}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("klagx check: %v", err)
	}
	return code, string(out)
}
