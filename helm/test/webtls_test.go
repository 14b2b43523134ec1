package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/klagx/klagx/config"
)

// webOn turns on web.config (TLS and basic auth on the metrics port) with a
// certificate Secret and a ServiceMonitor that scrapes with a CA and
// credentials from Secrets.
var webOn = []string{"--set", strings.Join([]string{
	"web.config.enabled=true",
	"web.config.existingSecret=klagx-web",
	"web.config.certSecret=klagx-web-tls",
	"serviceMonitor.enabled=true",
	"serviceMonitor.tlsConfig.ca.secret.name=klagx-web-tls",
	"serviceMonitor.tlsConfig.ca.secret.key=ca.crt",
	"serviceMonitor.tlsConfig.serverName=t-klagx.kafka-monitoring.svc",
	"serviceMonitor.basicAuth.username.name=klagx-scrape",
	"serviceMonitor.basicAuth.username.key=username",
	"serviceMonitor.basicAuth.password.name=klagx-scrape",
	"serviceMonitor.basicAuth.password.key=password",
}, ",")}

func with(args []string, more ...string) []string {
	return append(slices.Clone(args), more...)
}

func volumeByName(pod *corev1.PodTemplateSpec, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

func mountByName(c *corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// webConfigFile returns web.config.file of the rendered config.yaml, read by
// klagx's own parser.
func webConfigFile(t *testing.T, m *manifests) (string, bool) {
	t.Helper()
	f, err := config.ParseFile("config.yaml", []byte(m.configYAML(t)))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := f.Lookup("web.config.file")
	if !ok {
		return "", false
	}
	s, isString := v.(string)
	if !isString {
		t.Fatalf("web.config.file is %T %v", v, v)
	}
	return s, true
}

// TestWebConfig: web.config mounts the user's Secrets read-only, points
// klagx at the web config file, switches the probes to tcpSocket and makes
// the ServiceMonitor scrape https with the CA and credentials from Secrets.
// render decodes every document strictly into its Go type.
func TestWebConfig(t *testing.T) {
	for name, args := range map[string][]string{
		"deployment":  webOn,
		"statefulset": with(webOn, "--set", "sharding.enabled=true,sharding.totalShards=2"),
	} {
		t.Run(name, func(t *testing.T) {
			m := render(t, args...)
			pod := m.podTemplate(t)
			c := container(t, pod)

			// The whole Secrets, read-only, without subPath: the web config
			// names its files itself, and klagx re-reads the file on each
			// request and the certificate on each handshake, so a rotated
			// Secret reaches the pod without a restart.
			for vol, want := range map[string]struct{ secret, path string }{
				"web-config": {"klagx-web", "/etc/klagx/web"},
				"web-tls":    {"klagx-web-tls", "/etc/klagx/web-tls"},
			} {
				v := volumeByName(pod, vol)
				if v == nil || v.Secret == nil || v.Secret.SecretName != want.secret || len(v.Secret.Items) != 0 ||
					v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 {
					t.Errorf("volume %s: %+v, want the whole Secret %s, mode 0440", vol, v, want.secret)
				}
				vm := mountByName(c, vol)
				if vm == nil || vm.MountPath != want.path || !vm.ReadOnly || vm.SubPath != "" {
					t.Errorf("mount %s: %+v, want read-only at %s", vol, vm, want.path)
				}
			}

			// klagx reads the path from config.yaml (web.config.file, the
			// key of --web.config.file), inside the web-config mount.
			file, ok := webConfigFile(t, m)
			if !ok || file != "/etc/klagx/web/web.yml" {
				t.Errorf("web.config.file = %q (set %v), want /etc/klagx/web/web.yml", file, ok)
			}
			for _, a := range c.Args {
				if strings.HasPrefix(a, "--web.config.file") {
					t.Errorf("args %v: the path belongs in config.yaml only", c.Args)
				}
			}

			// Basic auth may be on: the kubelet cannot send credentials, so
			// both probes are tcpSocket probes; the timings stay.
			for _, p := range []struct {
				name      string
				probe     *corev1.Probe
				threshold int32
			}{{"liveness", c.LivenessProbe, 6}, {"readiness", c.ReadinessProbe, 3}} {
				if p.probe == nil || p.probe.HTTPGet != nil || p.probe.Exec != nil || p.probe.GRPC != nil ||
					p.probe.TCPSocket == nil || p.probe.TCPSocket.Port.String() != "http-metrics" {
					t.Errorf("%s probe %+v, want only tcpSocket on http-metrics", p.name, p.probe)
					continue
				}
				if p.probe.PeriodSeconds != 10 || p.probe.TimeoutSeconds != 5 || p.probe.InitialDelaySeconds != 5 || p.probe.FailureThreshold != p.threshold {
					t.Errorf("%s probe timings %+v", p.name, p.probe)
				}
			}

			sm := one[monitoringv1.ServiceMonitor](t, m, fullname)
			if len(sm.Spec.Endpoints) != 1 {
				t.Fatalf("endpoints %+v", sm.Spec.Endpoints)
			}
			ep := sm.Spec.Endpoints[0]
			if ep.Scheme == nil || ep.Scheme.String() != "https" {
				t.Errorf("scheme %v, want https", ep.Scheme)
			}
			tc := ep.TLSConfig
			if tc == nil || tc.CA.Secret == nil || tc.CA.Secret.Name != "klagx-web-tls" || tc.CA.Secret.Key != "ca.crt" ||
				tc.ServerName == nil || *tc.ServerName != "t-klagx.kafka-monitoring.svc" {
				t.Errorf("tlsConfig %+v", tc)
			} else if tc.InsecureSkipVerify != nil {
				t.Errorf("insecureSkipVerify %v rendered without being set", *tc.InsecureSkipVerify)
			}
			ba := ep.BasicAuth
			if ba == nil || ba.Username.Name != "klagx-scrape" || ba.Username.Key != "username" ||
				ba.Password.Name != "klagx-scrape" || ba.Password.Key != "password" {
				t.Errorf("basicAuth %+v", ba)
			}
		})
	}
}

func TestWebConfigKeyAndCertSecret(t *testing.T) {
	// Another key; no certificate Secret (the certificate is in existingSecret).
	m := render(t, "--set", "web.config.enabled=true,web.config.existingSecret=klagx-web,web.config.key=config.yml")
	if file, _ := webConfigFile(t, m); file != "/etc/klagx/web/config.yml" {
		t.Errorf("web.config.file %q", file)
	}
	pod := m.podTemplate(t)
	if v := volumeByName(pod, "web-tls"); v != nil {
		t.Errorf("web-tls volume without certSecret: %+v", v)
	}
	if vm := mountByName(container(t, pod), "web-tls"); vm != nil {
		t.Errorf("web-tls mount without certSecret: %+v", vm)
	}
}

// TestWebConfigProbes: the chart adapts only its default httpGet handler;
// probes the user writes win.
func TestWebConfigProbes(t *testing.T) {
	const on = "web.config.enabled=true,web.config.existingSecret=klagx-web"
	type want struct {
		handler string // httpGet, tcpSocket, exec
		scheme  corev1.URIScheme
		headers int
		port    string
	}
	for _, tc := range []struct {
		name      string
		args      []string
		liveness  want
		readiness want
	}{
		{"tls and basic auth", []string{"--set", on},
			want{handler: "tcpSocket", port: "http-metrics"}, want{handler: "tcpSocket", port: "http-metrics"}},
		{"tls only", []string{"--set", on + ",web.config.basicAuth=false"},
			want{handler: "httpGet", scheme: corev1.URISchemeHTTPS, port: "http-metrics"}, want{handler: "httpGet", scheme: corev1.URISchemeHTTPS, port: "http-metrics"}},
		{"basic auth only", []string{"--set", on + ",web.config.tls=false"},
			want{handler: "tcpSocket", port: "http-metrics"}, want{handler: "tcpSocket", port: "http-metrics"}},
		{"neither", []string{"--set", on + ",web.config.tls=false,web.config.basicAuth=false"},
			want{handler: "httpGet", port: "http-metrics"}, want{handler: "httpGet", port: "http-metrics"}},
		// An httpGet with scheme and an Authorization header is the user's:
		// it stays as written.
		{"user httpGet with header", []string{"--set", on,
			"--set", "livenessProbe.httpGet.scheme=HTTPS,livenessProbe.httpGet.httpHeaders[0].name=Authorization,livenessProbe.httpGet.httpHeaders[0].value=Basic eDp5"},
			want{handler: "httpGet", scheme: corev1.URISchemeHTTPS, headers: 1, port: "http-metrics"}, want{handler: "tcpSocket", port: "http-metrics"}},
		// A handler of another type replaces the default httpGet, which Helm
		// merges in next to it, with or without web.config.
		{"user exec", []string{"--set", on, "--set", "livenessProbe.exec.command[0]=/klagx,livenessProbe.exec.command[1]=version"},
			want{handler: "exec"}, want{handler: "tcpSocket", port: "http-metrics"}},
		{"user tcpSocket port", []string{"--set", on, "--set", "readinessProbe.tcpSocket.port=9308"},
			want{handler: "tcpSocket", port: "http-metrics"}, want{handler: "tcpSocket", port: "9308"}},
		{"user exec without web.config", []string{"--set", "livenessProbe.exec.command[0]=/klagx"},
			want{handler: "exec"}, want{handler: "httpGet", port: "http-metrics"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := container(t, render(t, tc.args...).podTemplate(t))
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				want  want
				path  string
			}{{"liveness", c.LivenessProbe, tc.liveness, "/healthz"}, {"readiness", c.ReadinessProbe, tc.readiness, "/readyz"}} {
				pr := p.probe
				if pr == nil {
					t.Errorf("%s probe missing", p.name)
					continue
				}
				var handlers []string
				if pr.HTTPGet != nil {
					handlers = append(handlers, "httpGet")
				}
				if pr.TCPSocket != nil {
					handlers = append(handlers, "tcpSocket")
				}
				if pr.Exec != nil {
					handlers = append(handlers, "exec")
				}
				if pr.GRPC != nil {
					handlers = append(handlers, "grpc")
				}
				if !slices.Equal(handlers, []string{p.want.handler}) {
					t.Errorf("%s probe handlers %v, want [%s]", p.name, handlers, p.want.handler)
					continue
				}
				switch p.want.handler {
				case "httpGet":
					h := pr.HTTPGet
					if h.Path != p.path || h.Scheme != p.want.scheme || len(h.HTTPHeaders) != p.want.headers || h.Port.String() != p.want.port {
						t.Errorf("%s httpGet %+v, want path %s scheme %q, %d headers, port %s", p.name, h, p.path, p.want.scheme, p.want.headers, p.want.port)
					}
				case "tcpSocket":
					if pr.TCPSocket.Port.String() != p.want.port {
						t.Errorf("%s tcpSocket port %s, want %s", p.name, pr.TCPSocket.Port.String(), p.want.port)
					}
				}
			}
		})
	}
}

func TestWebConfigServiceMonitorScheme(t *testing.T) {
	const on = "web.config.enabled=true,web.config.existingSecret=klagx-web"
	for _, tc := range []struct {
		name, set, want string
	}{
		{"off", "serviceMonitor.enabled=true", ""},
		{"tls", "serviceMonitor.enabled=true," + on, "https"},
		{"basic auth without tls", "serviceMonitor.enabled=true," + on + ",web.config.tls=false", ""},
		{"scheme wins", "serviceMonitor.enabled=true,serviceMonitor.scheme=http," + on, "http"},
		// A web config set up by hand (extraVolumes, extraArgs).
		{"scheme without web.config", "serviceMonitor.enabled=true,serviceMonitor.scheme=https", "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := one[monitoringv1.ServiceMonitor](t, render(t, "--set", tc.set), fullname)
			ep := sm.Spec.Endpoints[0]
			if got := ep.Scheme.String(); got != tc.want {
				t.Errorf("scheme %q, want %q", got, tc.want)
			}
			if ep.TLSConfig != nil || ep.BasicAuth != nil {
				t.Errorf("tlsConfig %+v basicAuth %+v rendered without being set", ep.TLSConfig, ep.BasicAuth)
			}
		})
	}
	// insecureSkipVerify only when set explicitly.
	sm := one[monitoringv1.ServiceMonitor](t, render(t, "--set", "serviceMonitor.enabled=true,serviceMonitor.tlsConfig.insecureSkipVerify=true,"+on), fullname)
	if tc := sm.Spec.Endpoints[0].TLSConfig; tc == nil || tc.InsecureSkipVerify == nil || !*tc.InsecureSkipVerify {
		t.Errorf("tlsConfig %+v, want insecureSkipVerify true", tc)
	}
}

// TestWebConfigOffByDefault: without web.config, nothing of it renders.
func TestWebConfigOffByDefault(t *testing.T) {
	m := render(t, "--set", "serviceMonitor.enabled=true")
	pod := m.podTemplate(t)
	c := container(t, pod)
	for _, name := range []string{"web-config", "web-tls"} {
		if v := volumeByName(pod, name); v != nil {
			t.Errorf("defaults render volume %+v", v)
		}
		if vm := mountByName(c, name); vm != nil {
			t.Errorf("defaults render mount %+v", vm)
		}
	}
	if strings.Contains(m.raw, "/etc/klagx/web") {
		t.Error("defaults mention /etc/klagx/web")
	}
	if file, ok := webConfigFile(t, m); ok {
		t.Errorf("defaults set web.config.file %q", file)
	}
	for _, a := range c.Args {
		if strings.Contains(a, "web.config") {
			t.Errorf("defaults pass %s", a)
		}
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.TCPSocket != nil || p.probe.HTTPGet.Path != p.path ||
			p.probe.HTTPGet.Scheme != "" || p.probe.HTTPGet.Port.String() != "http-metrics" {
			t.Errorf("default probe %+v, want httpGet %s on http-metrics", p.probe, p.path)
		}
	}
	ep := one[monitoringv1.ServiceMonitor](t, m, fullname).Spec.Endpoints[0]
	if ep.Scheme != nil || ep.TLSConfig != nil || ep.BasicAuth != nil {
		t.Errorf("default ServiceMonitor endpoint %+v", ep)
	}
}

// notes renders NOTES.txt (helm template does not): a copy of the chart
// renders it through a template of its own.
func notes(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "klagx")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "templates", "NOTES.txt"), filepath.Join(dir, "NOTES.txt")); err != nil {
		t.Fatal(err)
	}
	tmpl := `notes: {{ tpl (.Files.Get "NOTES.txt") . | toJson }}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace, "--show-only", "templates/zz-notes.yaml"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Notes string `json:"notes"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil || doc.Notes == "" {
		t.Fatalf("notes: %v\n%s", err, out)
	}
	return doc.Notes
}

func TestWebConfigNotes(t *testing.T) {
	const on = "web.config.enabled=true,web.config.existingSecret=klagx-web"
	for _, tc := range []struct {
		name, set, curl string
		ready           bool // the readiness probe is /readyz
	}{
		{"off", "", "curl http://127.0.0.1:9308/metrics", true},
		{"tls and basic auth", on, "curl -k -u USER https://127.0.0.1:9308/metrics", false},
		{"tls only", on + ",web.config.basicAuth=false", "curl -k https://127.0.0.1:9308/metrics", true},
		{"basic auth only", on + ",web.config.tls=false", "curl -u USER http://127.0.0.1:9308/metrics", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.set != "" {
				args = []string{"--set", tc.set}
			}
			n := notes(t, args...)
			if !strings.Contains(n, tc.curl) {
				t.Errorf("notes lack %q:\n%s", tc.curl, n)
			}
			if strings.Contains(n, "https://") != strings.Contains(tc.curl, "https") {
				t.Errorf("notes mix http and https:\n%s", n)
			}
			if got := strings.Contains(n, "Pods are not Ready until each cluster has been polled"); got != tc.ready {
				t.Errorf("readiness hint %v, want %v:\n%s", got, tc.ready, n)
			}
		})
	}
}
