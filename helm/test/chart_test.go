package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	yamlv3 "gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/klagx/klagx/alerts"
	"github.com/klagx/klagx/config"
)

func TestLint(t *testing.T) {
	for name, args := range map[string][]string{
		"defaults": nil,
		"all-on":   {"-f", allOn},
		"sharding": {"--set", "sharding.enabled=true,sharding.totalShards=4"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint: %s", out)
			}
		})
	}
}

// TestRenderStrict renders the defaults and everything on; render decodes
// every document strictly into the Go type of its kind.
func TestRenderStrict(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		m := render(t)
		want := []string{"ConfigMap/" + fullname + "-config", "Deployment/" + fullname, "Service/" + fullname, "ServiceAccount/" + fullname}
		got := m.names()
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("default objects: got %v, want %v", got, want)
		}
	})
	t.Run("all-on", func(t *testing.T) {
		// ConfigMaps: the config and one per dashboard (overview, group, rebalances, share groups).
		m := render(t, "-f", allOn)
		for kind, n := range map[string]int{
			"StatefulSet": 1, "Deployment": 0, "Service": 2, "ConfigMap": 5, "ServiceAccount": 1,
			"PodDisruptionBudget": 1, "NetworkPolicy": 1, "ServiceMonitor": 1, "PrometheusRule": 1,
		} {
			if got := m.count(kind); got != n {
				t.Errorf("%d %s, want %d (have %v)", got, kind, n, m.names())
			}
		}
	})
}

func TestOptionalResourcesOffByDefault(t *testing.T) {
	m := render(t)
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "NetworkPolicy", "StatefulSet"} {
		if n := m.count(kind); n != 0 {
			t.Errorf("defaults render %d %s", n, kind)
		}
	}
	for _, cm := range all[corev1.ConfigMap](m) {
		if _, ok := cm.Labels["grafana_dashboard"]; ok {
			t.Errorf("defaults render dashboard ConfigMap %s", cm.Name)
		}
	}
}

func TestServiceMonitor(t *testing.T) {
	m := render(t, "-f", allOn)
	sm := one[monitoringv1.ServiceMonitor](t, m, fullname)
	if sm.Namespace != "monitoring" || sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("namespace %q labels %v", sm.Namespace, sm.Labels)
	}
	if got := sm.Spec.NamespaceSelector.MatchNames; !slices.Equal(got, []string{namespace}) {
		t.Errorf("namespaceSelector %v", got)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints %v", sm.Spec.Endpoints)
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != "http-metrics" || ep.Path != "/metrics" || ep.Interval != "15s" || ep.ScrapeTimeout != "10s" {
		t.Errorf("endpoint %+v", ep)
	}
	if len(ep.RelabelConfigs) != 1 || ep.RelabelConfigs[0].TargetLabel != "node" {
		t.Errorf("relabelings %+v", ep.RelabelConfigs)
	}
	if len(ep.MetricRelabelConfigs) != 1 || ep.MetricRelabelConfigs[0].Action != "drop" {
		t.Errorf("metricRelabelings %+v", ep.MetricRelabelConfigs)
	}
	// web.config (TLS and basic auth) is on in all-on.yaml.
	if ep.Scheme.String() != "https" || ep.TLSConfig == nil || ep.TLSConfig.CA.Secret == nil || ep.BasicAuth == nil {
		t.Errorf("scheme %v tlsConfig %+v basicAuth %+v", ep.Scheme, ep.TLSConfig, ep.BasicAuth)
	}
	// It selects the metrics Service (whose name becomes the job label) and
	// not the StatefulSet's headless Service, so each shard is scraped once.
	var selected []string
	for _, svc := range all[corev1.Service](m) {
		if labelsMatch(sm.Spec.Selector.MatchLabels, svc.Labels) {
			selected = append(selected, svc.Name)
		}
	}
	if !slices.Equal(selected, []string{fullname}) {
		t.Errorf("ServiceMonitor selects Services %v, want [%s]", selected, fullname)
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestServiceAndProbes(t *testing.T) {
	for name, args := range map[string][]string{"defaults": nil, "all-on": {"-f", allOn}} {
		t.Run(name, func(t *testing.T) {
			m := render(t, args...)
			svc := one[corev1.Service](t, m, fullname)
			if svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Ports) != 1 {
				t.Fatalf("service %+v", svc.Spec)
			}
			p := svc.Spec.Ports[0]
			if p.Name != "http-metrics" || p.Port != 9308 || p.TargetPort.String() != "http-metrics" {
				t.Errorf("service port %+v", p)
			}
			if !svc.Spec.PublishNotReadyAddresses {
				t.Error("metrics Service must publish not-ready pods (an unreachable Kafka must still be scraped)")
			}
			pod := m.podTemplate(t)
			if !labelsMatch(svc.Spec.Selector, pod.Labels) {
				t.Errorf("service selector %v does not match pod labels %v", svc.Spec.Selector, pod.Labels)
			}
			c := container(t, pod)
			if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" || c.Ports[0].ContainerPort != 9308 {
				t.Errorf("container ports %+v", c.Ports)
			}
			if name == "all-on" {
				// web.config with basic auth: the kubelet cannot send
				// credentials, so both probes are tcpSocket probes.
				for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
					if p == nil || p.HTTPGet != nil || p.TCPSocket == nil || p.TCPSocket.Port.String() != "http-metrics" {
						t.Errorf("probe %+v, want tcpSocket on http-metrics", p)
					}
				}
			} else {
				if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
					t.Errorf("liveness %+v", c.LivenessProbe)
				}
				if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
					t.Errorf("readiness %+v", c.ReadinessProbe)
				}
			}
			wantArgs := []string{"serve", "--config.file=/etc/klagx/config.yaml", "--web.listen-address=:9308"}
			if !slices.Equal(c.Args[:3], wantArgs) {
				t.Errorf("args %v, want prefix %v", c.Args, wantArgs)
			}
			if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
				t.Error("the service account token must not be mounted")
			}
		})
	}
}

func TestImage(t *testing.T) {
	chart, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(chart, &meta); err != nil || meta.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %v %q", err, meta.AppVersion)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "ghcr.io/klagx/klagx:" + meta.AppVersion},
		{[]string{"--set", "image.tag=v1.2.3"}, "ghcr.io/klagx/klagx:v1.2.3"},
		{[]string{"--set", "image.digest=sha256:" + strings.Repeat("ab", 32)}, "ghcr.io/klagx/klagx@sha256:" + strings.Repeat("ab", 32)},
	} {
		c := container(t, render(t, tc.args...).podTemplate(t))
		if c.Image != tc.want || c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("%v: image %q (%s), want %q", tc.args, c.Image, c.ImagePullPolicy, tc.want)
		}
	}
}

func TestSecurityContext(t *testing.T) {
	for name, args := range map[string][]string{"defaults": nil, "all-on": {"-f", allOn}} {
		t.Run(name, func(t *testing.T) {
			pod := render(t, args...).podTemplate(t)
			psc := pod.Spec.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
				psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.FSGroup == nil || *psc.FSGroup != 65532 ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext %+v", psc)
			}
			sc := container(t, pod).SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("container securityContext %+v", sc)
			}
		})
	}
}

// TestSecrets checks that TLS and SASL material comes from the existing
// Secrets as read-only files whose paths are in the config, and never
// through arguments, environment values or anything else in plain text.
func TestSecrets(t *testing.T) {
	m := render(t, "-f", allOn)
	pod := m.podTemplate(t)
	c := container(t, pod)

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	// Every file a mounted Secret provides, by path in the container.
	secretFiles := map[string]string{} // path -> secret/key
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			t.Fatalf("mount %s has no volume", vm.Name)
		}
		// web-config, web-tls: the whole web.config Secrets, whose web config
		// file names its files itself (TestWebConfig checks them).
		if v.Secret == nil || vm.Name == "web-config" || vm.Name == "web-tls" {
			continue
		}
		if !vm.ReadOnly {
			t.Errorf("Secret volume %s is mounted read-write", vm.Name)
		}
		if len(v.Secret.Items) == 0 {
			t.Errorf("Secret volume %s mounts every key of %s, want only the configured ones", vm.Name, v.Secret.SecretName)
		}
		for _, it := range v.Secret.Items {
			secretFiles[vm.MountPath+"/"+it.Path] = v.Secret.SecretName + "/" + it.Key
		}
	}
	want := map[string]string{
		"/etc/klagx/tls/0/ca/ca.crt":       "prod-cluster-ca-cert/ca.crt",
		"/etc/klagx/tls/0/client/user.crt": "klagx-prod-user/user.crt",
		"/etc/klagx/tls/0/client/user.key": "klagx-prod-user/user.key",
		"/etc/klagx/sasl/0/password":       "klagx-prod-sasl/password",
		"/etc/klagx/sasl/1/pw":             "klagx-staging-sasl/pw",
		"/etc/klagx/sasl/2/token":          "klagx-oauth-token/token",
	}
	if !reflect.DeepEqual(secretFiles, want) {
		t.Errorf("secret files:\n got %v\nwant %v", secretFiles, want)
	}

	// The config points at exactly those files.
	f, err := config.ParseFile("config.yaml", []byte(m.configYAML(t)))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, cl := range f.Clusters {
		for _, p := range []string{cl.TLS.CAFile, cl.TLS.CertFile, cl.TLS.KeyFile, cl.SASL.PasswordFile, cl.SASL.TokenFile} {
			if p != "" {
				paths = append(paths, p)
			}
		}
		if cl.SASL.PasswordEnv != "" {
			t.Errorf("cluster %s reads its password from the environment (%s)", cl.Name, cl.SASL.PasswordEnv)
		}
	}
	for _, p := range paths {
		if _, ok := secretFiles[p]; !ok {
			t.Errorf("config file names %s, which no Secret volume provides (have %v)", p, secretFiles)
		}
	}
	if len(paths) != len(want) {
		t.Errorf("config names %d secret files %v, want %d", len(paths), paths, len(want))
	}

	// No secret in arguments or environment values.
	for _, a := range c.Args {
		if strings.Contains(strings.ToLower(a), "password") || strings.Contains(strings.ToLower(a), "token") {
			t.Errorf("argument %q mentions a secret", a)
		}
	}
	for _, e := range c.Env {
		n := strings.ToUpper(e.Name)
		if (strings.Contains(n, "PASSWORD") || strings.Contains(n, "TOKEN") || strings.Contains(n, "SECRET")) && e.Value != "" {
			t.Errorf("env %s has a plain value", e.Name)
		}
	}
	if envFrom := c.EnvFrom; len(envFrom) != 1 || envFrom[0].SecretRef == nil || envFrom[0].SecretRef.Name != "klagx-aws-credentials" {
		t.Errorf("envFrom %+v", envFrom)
	}
}

// TestNoPlaintextPassword: there is no value that takes a password, so one
// cannot end up in the manifests.
func TestNoPlaintextPassword(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	for _, set := range []string{
		"clusters[0].sasl.password=" + secret,
		"clusters[0].password=" + secret,
		"password=" + secret,
		"extraConfig.kafka.sasl.password=" + secret,
		"web.config.password=" + secret,
		"web.config.basicAuthPassword=" + secret,
		"serviceMonitor.basicAuth.password=" + secret,
	} {
		out := renderFails(t, "--set", set)
		if strings.Contains(out, "manifest") && strings.Contains(out, secret) {
			t.Errorf("--set %s: the password appears in the output: %s", set, out)
		}
	}
	// Mechanisms that need a secret fail without existingSecret rather than
	// falling back to an environment variable.
	for _, mech := range []string{"plain", "scram-sha-256", "scram-sha-512", "oauthbearer"} {
		out := renderFails(t, "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].sasl.mechanism="+mech)
		if !strings.Contains(out, "existingSecret") {
			t.Errorf("%s without existingSecret: %s", mech, out)
		}
	}
	m := render(t, "-f", allOn)
	for _, word := range []string{"sasl_password", "KLAGX_KAFKA_SASL_PASSWORD", "KLAGX_SASL_PASSWORD", "basic_auth_users", "$2y$", "$2a$", "$2b$"} {
		if strings.Contains(m.raw, word) {
			t.Errorf("rendered manifests contain %q", word)
		}
	}
	// The only password: is the ServiceMonitor's basicAuth, a Secret key
	// reference (strict decoding made it a SecretKeySelector).
	refs := 0
	for _, sm := range all[monitoringv1.ServiceMonitor](m) {
		for _, ep := range sm.Spec.Endpoints {
			if ep.BasicAuth != nil && ep.BasicAuth.Password.Name != "" && ep.BasicAuth.Password.Key != "" {
				refs++
			}
		}
	}
	if n := strings.Count(m.raw, "password:"); n != refs {
		t.Errorf("rendered manifests contain password: %d times, %d of them Secret references", n, refs)
	}
}

// TestSchemaRejects: wrong types, unknown keys and impossible combinations
// make helm template fail with a message naming the value.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct{ name, flag, value, want string }{
		{"string for bool", "--set-string", "serviceMonitor.enabled=yes", "at '/serviceMonitor/enabled': got string, want boolean"},
		{"unknown top-level key", "--set", "serviceMonitr.enabled=true", "additional properties 'serviceMonitr' not allowed"},
		{"unknown serviceMonitor", "--set", "serviceMonitor.intervall=10s", "additional properties 'intervall' not allowed"},
		{"unknown prometheusRule", "--set", "prometheusRule.foo=bar", "additional properties 'foo' not allowed"},
		{"unknown dashboards", "--set", "dashboards.foo=bar", "additional properties 'foo' not allowed"},
		{"unknown pdb", "--set", "podDisruptionBudget.foo=1", "additional properties 'foo' not allowed"},
		{"unknown networkPolicy", "--set", "networkPolicy.foo=1", "additional properties 'foo' not allowed"},
		{"unknown sharding", "--set", "sharding.shards=3", "additional properties 'shards' not allowed"},
		{"unknown image", "--set", "image.name=x", "additional properties 'name' not allowed"},
		{"unknown cluster key", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].foo=1", "additional properties 'foo' not allowed"},
		{"unknown tls key", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].tls.ca=x", "additional properties 'ca' not allowed"},
		{"unknown sasl key", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].sasl.secret=x", "additional properties 'secret' not allowed"},
		{"unknown threshold key", "--set", "thresholds.warn=1m", "additional properties 'warn' not allowed"},
		{"no clusters", "--set", "clusters=null", "missing property 'clusters'"},
		{"empty clusters", "--set", "clusters={}", "/clusters"},
		{"cluster without brokers", "--set", "clusters[0].name=a", "missing property 'brokers'"},
		{"bad cluster name", "--set", "clusters[0].name=a b,clusters[0].brokers[0]=k:9092", "/clusters/0/name"},
		{"bad duration", "--set-string", "pollInterval=15", "/pollInterval"},
		{"number for duration", "--set", "thresholds.warnLagSeconds=60", "at '/thresholds/warnLagSeconds': got number, want string"},
		{"bad granularity", "--set", "granularity=partitions", "/granularity"},
		{"bad mechanism", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].sasl.mechanism=gssapi", "/clusters/0/sasl/mechanism"},
		{"bad isolation", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].isolation=committed", "/clusters/0/isolation"},
		{"string shards", "--set-string", "sharding.totalShards=3", "at '/sharding/totalShards': got string, want integer"},
		{"zero shards", "--set", "sharding.totalShards=0", "/sharding/totalShards"},
		{"managed key in extraConfig", "--set", "extraConfig.poll_interval=1s", "invalid propertyName 'poll_interval'"},
		{"selector with braces", "--set", `prometheusRule.selector=\{job="x"\}`, "/prometheusRule/selector"},
		{"tls secret without tls", "--set", "clusters[0].name=a,clusters[0].brokers[0]=k:9092,clusters[0].tls.existingSecret=s", "need tls.enabled: true"},
		{"string for label map", "--set", "serviceMonitor.additionalLabels=x", "/serviceMonitor/additionalLabels"},
		{"negative warnLag", "--set", "thresholds.warnLag=-1", "/thresholds/warnLag"},
		{"override without group", "--set", "thresholds.overrides[0].warnLag=1", "missing property 'group'"},
		{"string for networkPolicy", "--set-string", "networkPolicy.enabled=true", "at '/networkPolicy/enabled': got string, want boolean"},
		{"string for dashboards", "--set-string", "dashboards.enabled=1", "at '/dashboards/enabled': got string, want boolean"},
		{"string for prometheusRule", "--set-string", "prometheusRule.enabled=true", "at '/prometheusRule/enabled': got string, want boolean"},
		{"string for podDisruptionBudget", "--set-string", "podDisruptionBudget.enabled=true", "at '/podDisruptionBudget/enabled': got string, want boolean"},
		{"unknown web.config key", "--set", "web.config.secret=x", "additional properties 'secret' not allowed"},
		{"string for web.config.enabled", "--set-string", "web.config.enabled=true", "at '/web/config/enabled': got string, want boolean"},
		{"string for web.config.basicAuth", "--set-string", "web.config.basicAuth=false", "at '/web/config/basicAuth': got string, want boolean"},
		{"web.config.key with a slash", "--set", "web.config.key=a/web.yml", "/web/config/key"},
		{"bad serviceMonitor.scheme", "--set", "serviceMonitor.scheme=ftp", "/serviceMonitor/scheme"},
		{"unknown tlsConfig key", "--set", "serviceMonitor.tlsConfig.insecureSkipVerfy=true", "additional properties 'insecureSkipVerfy' not allowed"},
		{"string for insecureSkipVerify", "--set-string", "serviceMonitor.tlsConfig.insecureSkipVerify=true", "at '/serviceMonitor/tlsConfig/insecureSkipVerify': got string, want boolean"},
		{"tlsConfig.ca without key", "--set", "serviceMonitor.tlsConfig.ca.secret.name=ca", "missing property 'key'"},
		{"basicAuth without password", "--set", "serviceMonitor.basicAuth.username.name=s,serviceMonitor.basicAuth.username.key=u", "missing property 'password'"},
		{"plain basicAuth password", "--set", "serviceMonitor.basicAuth.password=x", "/serviceMonitor/basicAuth/password"},
		{"web.config without its Secret", "--set", "web.config.enabled=true", "web.config.enabled needs web.config.existingSecret"},
		{"web.config Secret without enabled", "--set", "web.config.existingSecret=s", "need web.config.enabled: true"},
		{"web.config certSecret without enabled", "--set", "web.config.certSecret=s", "need web.config.enabled: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out := renderFails(t, tc.flag, tc.value); !strings.Contains(out, tc.want) {
				t.Errorf("error does not contain %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestChecksumAnnotation(t *testing.T) {
	checksum := func(args ...string) string {
		m := render(t, args...)
		pod := m.podTemplate(t)
		sum := pod.Annotations["checksum/config"]
		// It is the sha256 of the rendered config.yaml.
		h := sha256.Sum256([]byte(strings.TrimSuffix(m.configYAML(t), "\n")))
		if want := hex.EncodeToString(h[:]); sum != want {
			t.Errorf("%v: checksum/config %q, want sha256 of config.yaml %q", args, sum, want)
		}
		return sum
	}
	base := checksum()
	if again := checksum(); again != base {
		t.Errorf("checksum not stable: %s vs %s", base, again)
	}
	if other := checksum("--set", "image.tag=v2"); other != base {
		t.Errorf("checksum changed without a config change")
	}
	for _, set := range []string{"pollInterval=1m", "thresholds.warnLagSeconds=5m", "clusters[0].name=other,clusters[0].brokers[0]=k:9092", "log.level=debug",
		// The web config file path is part of config.yaml: turning web.config
		// on or changing its key rolls the pods.
		"web.config.enabled=true,web.config.existingSecret=s", "web.config.enabled=true,web.config.existingSecret=s,web.config.key=w.yml"} {
		if got := checksum("--set", set); got == base {
			t.Errorf("--set %s: checksum/config did not change", set)
		}
	}
	if checksum("-f", allOn) == base {
		t.Error("all-on: checksum/config did not change")
	}
}

func TestSharding(t *testing.T) {
	m := render(t, "--set", "sharding.enabled=true,sharding.totalShards=4")
	if n := m.count("Deployment"); n != 0 {
		t.Fatalf("sharding renders %d Deployments", n)
	}
	sts := one[appsv1.StatefulSet](t, m, fullname)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 4 {
		t.Errorf("replicas %v, want 4", sts.Spec.Replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q", sts.Spec.PodManagementPolicy)
	}
	headless := one[corev1.Service](t, m, sts.Spec.ServiceName)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !labelsMatch(headless.Spec.Selector, sts.Spec.Template.Labels) {
		t.Errorf("headless service %+v", headless.Spec)
	}
	if !labelsMatch(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels)
	}
	c := container(t, &sts.Spec.Template)
	for _, a := range []string{"--shard=$(KLAGX_SHARD)", "--total-shards=$(KLAGX_TOTAL_SHARDS)"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	env := map[string]corev1.EnvVar{}
	for i, e := range c.Env {
		env[e.Name] = e
		// $(VAR) in args only expands variables defined before use.
		if e.Name == "KLAGX_SHARD" || e.Name == "KLAGX_TOTAL_SHARDS" {
			if i > 1 {
				t.Errorf("%s is env %d, want it first", e.Name, i)
			}
		}
	}
	shard := env["KLAGX_SHARD"]
	if shard.ValueFrom == nil || shard.ValueFrom.FieldRef == nil ||
		shard.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("KLAGX_SHARD %+v", shard)
	}
	if total := env["KLAGX_TOTAL_SHARDS"]; total.Value != "4" {
		t.Errorf("KLAGX_TOTAL_SHARDS %+v", total)
	}

	// Without sharding there is neither a StatefulSet nor shard flags.
	m = render(t)
	c = container(t, m.podTemplate(t))
	if m.count("StatefulSet") != 0 || slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, "shard") }) {
		t.Errorf("sharding off: %v, args %v", m.names(), c.Args)
	}
	for _, e := range c.Env {
		if strings.Contains(e.Name, "SHARD") {
			t.Errorf("sharding off: env %s", e.Name)
		}
	}
}

// TestConfigAcceptedByKlagx parses the rendered config.yaml with klagx's own
// strict parser (unknown keys are errors there) and checks what it read.
func TestConfigAcceptedByKlagx(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		f, err := config.ParseFile("config.yaml", []byte(render(t).configYAML(t)))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Clusters) != 1 || f.Clusters[0].Name != "default" || !slices.Equal(f.Clusters[0].Brokers, []string{"kafka:9092"}) {
			t.Errorf("clusters %+v", f.Clusters)
		}
		// Unset values leave klagx's defaults alone.
		for _, flag := range []string{"poll-interval", "granularity", "warn-lag-seconds", "warn-lag", "time-lag.mode"} {
			if v, ok := f.Lookup(flag); ok {
				t.Errorf("defaults set %s to %v", flag, v)
			}
		}
	})
	t.Run("all-on", func(t *testing.T) {
		f, err := config.ParseFile("config.yaml", []byte(render(t, "-f", allOn).configYAML(t)))
		if err != nil {
			t.Fatal(err)
		}
		for flag, want := range map[string]any{
			"poll-interval": "30s", "group-poll-interval": "2s", "granularity": "topic",
			"warn-lag-seconds": "1m", "crit-lag-seconds": "5m", "warn-lag": 10000, "crit-lag": 2000000,
			"stall-after": "2m", "growth-window": "10m", "time-lag.mode": "exact", "time-lag.fetch-budget": 500,
			"topic.include-internal": true, "log.level": "debug", "log.format": "json",
			"web.disable-exporter-metrics": true, "otlp.endpoint": "http://otel-collector:4318",
			"web.config.file": "/etc/klagx/web/web-config.yml",
		} {
			if got, ok := f.Lookup(flag); !ok || got != want {
				t.Errorf("%s = %v (%T, set %v), want %v (%T)", flag, got, got, ok, want, want)
			}
		}
		if got, _ := f.Lookup("group.include"); !reflect.DeepEqual(got, []any{"orders-.*", "billing"}) {
			t.Errorf("group.include %v", got)
		}
		if len(f.Clusters) != 4 {
			t.Fatalf("clusters %+v", f.Clusters)
		}
		prod := f.Clusters[0]
		if prod.Name != "prod" || prod.Isolation != config.IsolationReadCommitted || !prod.TLS.Enabled ||
			prod.TLS.ServerName != "kafka.example" || prod.SASL.Mechanism != config.SASLScramSHA512 || prod.SASL.Username != "klagx" {
			t.Errorf("prod %+v", prod)
		}
		if msk := f.Clusters[3]; msk.SASL.Mechanism != config.SASLAWSMSKIAM || !msk.TLS.Enabled || msk.TLS.CAFile != "" || msk.TLS.CertFile != "" {
			t.Errorf("msk %+v", msk)
		}
		if len(f.Thresholds) != 2 {
			t.Fatalf("thresholds %+v", f.Thresholds)
		}
		batch, reports := f.Thresholds[0], f.Thresholds[1]
		if batch.Source != "batch-.*" || batch.WarnLagSeconds == nil || *batch.WarnLagSeconds != time.Hour ||
			batch.CritLag == nil || *batch.CritLag != 5000000 || batch.GrowthWindow == nil || *batch.GrowthWindow != time.Hour {
			t.Errorf("batch override %+v", batch)
		}
		if reports.Source != "reports-[0-9]{1,3}" || reports.CritLagSeconds == nil || *reports.CritLagSeconds != 0 || reports.WarnLagSeconds != nil {
			t.Errorf("reports override %+v", reports)
		}
	})
}

// TestPrometheusRule checks the rules against what the alerts package
// generates with the chart's selector and runbook URL.
func TestPrometheusRule(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		selector    string
		runbook     string
		extraLabels map[string]string
	}{
		{"defaults", []string{"--set", "prometheusRule.enabled=true"}, `job="` + fullname + `"`, alerts.DefaultRunbookBaseURL, nil},
		{"all-on", []string{"-f", allOn}, `job="kafka-lag",namespace="kafka"`, "https://runbooks.example.com/klagx", map[string]string{"team": "data-platform"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.args...)
			pr := one[monitoringv1.PrometheusRule](t, m, fullname)
			if tc.extraLabels != nil && pr.Labels["release"] != "kube-prometheus-stack" {
				t.Errorf("additionalLabels missing: %v", pr.Labels)
			}
			opts := alerts.DefaultOptions()
			opts.Selector, opts.RunbookBaseURL = tc.selector, tc.runbook
			rf, err := alerts.Rules(opts)
			if err != nil {
				t.Fatal(err)
			}
			for gi := range rf.Groups {
				for ri := range rf.Groups[gi].Rules {
					if tc.extraLabels != nil && rf.Groups[gi].Rules[ri].Labels == nil {
						rf.Groups[gi].Rules[ri].Labels = map[string]string{} // recording rules have none
					}
					for k, v := range tc.extraLabels {
						rf.Groups[gi].Rules[ri].Labels[k] = v
					}
				}
			}
			want := toGeneric(t, rf)
			var got any
			for _, o := range m.objs {
				if o.kind == "PrometheusRule" {
					var doc struct {
						Spec any `json:"spec"`
					}
					if err := json.Unmarshal(o.raw, &doc); err != nil {
						t.Fatal(err)
					}
					got = doc.Spec
				}
			}
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("PrometheusRule spec differs from alerts.Rules(selector %s, runbook %s):\n got %s\nwant %s", tc.selector, tc.runbook, gj, wj)
			}
		})
	}
}

// toGeneric turns the rules into plain maps the way the rules file is read:
// rendered with their own YAML tags, then decoded like the manifest.
func toGeneric(t *testing.T, rf alerts.RuleFile) any {
	t.Helper()
	y, err := yamlv3.Marshal(rf)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "files", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("chart dashboards: %v %v", files, err)
	}
	m := render(t, "--set", "dashboards.enabled=true,dashboards.label=my_dashboards,dashboards.labelValue=yes,dashboards.namespace=grafana")
	var dash []*corev1.ConfigMap
	for _, cm := range all[corev1.ConfigMap](m) {
		if cm.Labels["my_dashboards"] == "yes" {
			dash = append(dash, cm)
		}
	}
	if len(dash) != len(files) {
		t.Fatalf("%d dashboard ConfigMaps, want %d (%v)", len(dash), len(files), m.names())
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Base(f)
		found := false
		for _, cm := range dash {
			if got, ok := cm.Data[key]; ok {
				found = true
				if cm.Namespace != "grafana" {
					t.Errorf("%s in namespace %q", cm.Name, cm.Namespace)
				}
				if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
					t.Errorf("ConfigMap %s %s differs from %s", cm.Name, key, f)
				}
				if !json.Valid([]byte(got)) {
					t.Errorf("%s: not valid JSON", key)
				}
			}
		}
		if !found {
			t.Errorf("no ConfigMap holds %s", key)
		}
	}
	// The sidecar default and annotations.
	m = render(t, "-f", allOn)
	n := 0
	for _, cm := range all[corev1.ConfigMap](m) {
		if cm.Labels["grafana_dashboard"] == "1" {
			n++
			if cm.Annotations["grafana_folder"] != "Kafka" {
				t.Errorf("%s annotations %v", cm.Name, cm.Annotations)
			}
		}
	}
	if n != len(files) {
		t.Errorf("%d ConfigMaps labelled grafana_dashboard=1, want %d", n, len(files))
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	pdb := one[policyv1.PodDisruptionBudget](t, render(t, "--set", "podDisruptionBudget.enabled=true"), fullname)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("pdb %+v", pdb.Spec)
	}
	pdb = one[policyv1.PodDisruptionBudget](t, render(t, "--set", "podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=2"), fullname)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("pdb minAvailable %+v", pdb.Spec)
	}
}

func TestNetworkPolicy(t *testing.T) {
	m := render(t, "--set", "networkPolicy.enabled=true")
	np := one[networkingv1.NetworkPolicy](t, m, fullname)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Egress) != 0 {
		t.Errorf("default: egress must stay open: %+v", np.Spec)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "http-metrics" {
		t.Errorf("ingress %+v", np.Spec.Ingress)
	}
	if !labelsMatch(np.Spec.PodSelector.MatchLabels, m.podTemplate(t).Labels) {
		t.Errorf("podSelector %v", np.Spec.PodSelector)
	}

	np = one[networkingv1.NetworkPolicy](t, render(t, "-f", allOn), fullname)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector == nil {
		t.Errorf("ingress from %+v", np.Spec.Ingress)
	}
	if len(np.Spec.Egress) != 2 || len(np.Spec.Egress[0].Ports) != 2 || np.Spec.Egress[0].Ports[0].Port.IntValue() != 53 ||
		len(np.Spec.Egress[1].To) != 1 || np.Spec.Egress[1].To[0].IPBlock.CIDR != "10.0.0.0/8" || len(np.Spec.Egress[1].Ports) != 3 {
		t.Errorf("egress %+v", np.Spec.Egress)
	}
}

// TestChartFilesInSync: the chart cannot read files outside itself, so it
// keeps copies of the generated rules and dashboards; they must equal the
// committed originals (copy them again after `make generate`).
func TestChartFilesInSync(t *testing.T) {
	pairs := map[string]string{
		filepath.Join(chartDir, "files", "klagx-rules.yaml"): filepath.Join(repoRoot, "alerts", "klagx-rules.yaml"),
	}
	orig, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "json", "*.json"))
	if err != nil || len(orig) == 0 {
		t.Fatalf("dashboards/json: %v %v", orig, err)
	}
	for _, o := range orig {
		pairs[filepath.Join(chartDir, "files", "dashboards", filepath.Base(o))] = o
	}
	copies, _ := filepath.Glob(filepath.Join(chartDir, "files", "dashboards", "*.json"))
	for _, c := range copies {
		if _, ok := pairs[c]; !ok {
			t.Errorf("%s has no original in dashboards/json: remove it", c)
		}
	}
	for cp, src := range pairs {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(cp)
		if err != nil {
			t.Errorf("%v: run cp %s %s", err, src, cp)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s: run cp %s %s", cp, src, src, cp)
		}
	}
}
