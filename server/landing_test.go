package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/snapshot"
)

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// TestLandingPageLinksResolve follows every link of the landing page to
// this server: none may be a 404 (the toolkit's page links pprof handlers
// that only exist with --web.enable-pprof).
func TestLandingPageLinksResolve(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		store := snapshot.NewStore("c")
		srv := httptest.NewServer(Handler(store, Options{Version: "test", EnablePprof: pprof}))
		t.Cleanup(srv.Close)
		base, _ := url.Parse(srv.URL + "/")
		code, page := get(t, srv.URL+"/")
		if code != http.StatusOK {
			t.Fatalf("pprof=%v: / answered %d", pprof, code)
		}
		var links []string
		for _, m := range hrefRE.FindAllStringSubmatch(page, -1) {
			u, err := base.Parse(m[1])
			if err != nil {
				t.Fatalf("pprof=%v: bad link %q: %v", pprof, m[1], err)
			}
			if u.Host != base.Host {
				continue // pprof.me, the toolkit's documentation
			}
			links = append(links, u.Path)
			if q := u.Query(); q.Get("seconds") != "" {
				q.Set("seconds", "1") // the CPU profile link asks for 60
				u.RawQuery = q.Encode()
			}
			code, _ := get(t, u.String())
			// /readyz is 503 until the first cycle; any other failure or a
			// 404 is a broken link.
			if code == http.StatusNotFound || (code >= 500 && u.Path != "/readyz") {
				t.Errorf("pprof=%v: link %s answered %d", pprof, u, code)
			}
		}
		hasPprof := strings.Contains(strings.Join(links, " "), "/debug/pprof/")
		if hasPprof != pprof || len(links) < 4 {
			t.Errorf("pprof=%v: links %v", pprof, links)
		}
	}
}

// TestStatusUnknownGroupIs404: /status?group= for a group klagx does not
// know says so, with a 404 and a JSON error, rather than an empty 200.
func TestStatusUnknownGroupIs404(t *testing.T) {
	srv := httptest.NewServer(Handler(snapshot.NewStore("c"), Options{}))
	t.Cleanup(srv.Close)
	code, body := get(t, srv.URL+"/status?group=nope")
	if code != http.StatusNotFound {
		t.Fatalf("/status?group=nope: %d, want 404", code)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("404 body is not the JSON report: %v\n%s", err, body)
	}
	if rep.Schema != report.Schema || !strings.Contains(rep.Error, `no consumer group "nope"`) {
		t.Errorf("404 body: %+v", rep)
	}
	if code, _ := get(t, srv.URL+"/status"); code != http.StatusOK {
		t.Errorf("/status without a group: %d, want 200", code)
	}
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOneLogLinePerEvent: starting to listen is one line (not klagx's,
// then the toolkit's "Listening on" and "TLS is disabled."), and a cluster
// that refuses connections is one WARN line per attempt, klagx's, not
// also kgo's.
func TestOneLogLinePerEvent(t *testing.T) {
	var logs lockedBuffer
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := kfaketest.Config(config.DefaultCluster("down", dead), time.Second)
	addr, stop := startServer(t, Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	kfaketest.WaitFor(t, 30*time.Second, "the poller to log the unreachable cluster", func() bool {
		return strings.Contains(logs.String(), "level=WARN")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var about, warns []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, addr) {
			about = append(about, line)
		}
		if strings.Contains(line, "level=WARN") {
			warns = append(warns, line)
		}
	}
	if len(about) != 1 || !strings.Contains(about[0], `msg="serving metrics"`) || !strings.Contains(about[0], "web_config=") {
		t.Errorf("lines about the listener %s, want one (serving metrics):\n%s", addr, strings.Join(about, "\n"))
	}
	for _, w := range warns {
		if strings.Contains(w, "component=kgo") {
			t.Errorf("kgo warned too: %s", w)
		}
	}
}
