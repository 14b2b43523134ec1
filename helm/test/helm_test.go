package test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../klagx"
	repoRoot  = "../.."
	release   = "t"
	namespace = "kafka-monitoring"
	fullname  = "t-klagx"
	allOn     = "testdata/all-on.yaml"
)

var (
	helmOnce sync.Once
	helmPath string
)

// helm returns the helm binary: on PATH, in /root/go/bin, or in
// $(go env GOPATH)/bin. Without one the test is skipped, except in CI (CI
// non-empty), where it fails: CI installs it with
// `go install helm.sh/helm/v3/cmd/helm@v3.22.0`.
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if p, err := exec.LookPath("helm"); err == nil {
			helmPath = p
			return
		}
		candidates := []string{"/root/go/bin/helm"}
		if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			for _, dir := range filepath.SplitList(strings.TrimSpace(string(gp))) {
				candidates = append(candidates, filepath.Join(dir, "bin", "helm"))
			}
		}
		if home, err := os.UserHomeDir(); err == nil {
			candidates = append(candidates, filepath.Join(home, "go", "bin", "helm"))
		}
		for _, c := range candidates {
			if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				helmPath = c
				return
			}
		}
	})
	if helmPath == "" {
		msg := "helm not found (PATH, /root/go/bin, $(go env GOPATH)/bin); install it with `go install helm.sh/helm/v3/cmd/helm@v3.22.0`"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return helmPath
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// templateArgs returns the arguments of `helm template` with extra flags
// (-f FILE, --set k=v, ...).
func templateArgs(extra ...string) []string {
	return append([]string{"template", release, chartDir, "--namespace", namespace}, extra...)
}

// render runs helm template and strictly decodes every document.
func render(t *testing.T, extra ...string) *manifests {
	t.Helper()
	out, err := runHelm(t, templateArgs(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", extra, err)
	}
	return m
}

// renderFails runs helm template and returns its error output; it fails
// the test when rendering succeeds.
func renderFails(t *testing.T, extra ...string) string {
	t.Helper()
	out, err := runHelm(t, templateArgs(extra...)...)
	if err == nil {
		t.Fatalf("helm template %v succeeded, want an error; output:\n%s", extra, out)
	}
	return err.Error()
}

type object struct {
	kind string
	name string
	raw  []byte // the document as JSON
	obj  any    // a pointer to the typed object
}

type manifests struct {
	raw  string
	objs []object
}

// decode splits the output of helm template into documents and decodes
// each strictly (unknown or duplicate fields are errors) into the Go type
// of its kind.
func decode(out string) (*manifests, error) {
	m := &manifests{raw: out}
	r := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // a comment-only document
		}
		var tm struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(js, &tm); err != nil {
			return nil, err
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1/StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "policy/v1/PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "networking.k8s.io/v1/NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "monitoring.coreos.com/v1/ServiceMonitor":
			obj = &monitoringv1.ServiceMonitor{}
		case "monitoring.coreos.com/v1/PrometheusRule":
			obj = &monitoringv1.PrometheusRule{}
		default:
			return nil, fmt.Errorf("unexpected kind %s %s", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(js, obj); err != nil {
			return nil, fmt.Errorf("%s %s does not decode strictly: %w", tm.Kind, tm.Metadata.Name, err)
		}
		if tm.Metadata.Name == "" {
			return nil, fmt.Errorf("%s without a name", tm.Kind)
		}
		m.objs = append(m.objs, object{kind: tm.Kind, name: tm.Metadata.Name, raw: js, obj: obj})
	}
	return m, nil
}

// all returns the objects of a kind.
func all[T any](m *manifests) []*T {
	var out []*T
	for _, o := range m.objs {
		if v, ok := o.obj.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the single object of a kind with the given name.
func one[T any](t *testing.T, m *manifests, name string) *T {
	t.Helper()
	for _, o := range m.objs {
		if v, ok := o.obj.(*T); ok && o.name == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q; have %v", zero, name, m.names())
	return nil
}

func (m *manifests) names() []string {
	var out []string
	for _, o := range m.objs {
		out = append(out, o.kind+"/"+o.name)
	}
	return out
}

func (m *manifests) count(kind string) int {
	n := 0
	for _, o := range m.objs {
		if o.kind == kind {
			n++
		}
	}
	return n
}

// podSpec returns the pod template of the Deployment, or of the StatefulSet
// when sharding is on.
func (m *manifests) podTemplate(t *testing.T) *corev1.PodTemplateSpec {
	t.Helper()
	deps, sts := all[appsv1.Deployment](m), all[appsv1.StatefulSet](m)
	switch {
	case len(deps) == 1 && len(sts) == 0:
		return &deps[0].Spec.Template
	case len(sts) == 1 && len(deps) == 0:
		return &sts[0].Spec.Template
	}
	t.Fatalf("want exactly one Deployment or StatefulSet, have %v", m.names())
	return nil
}

func container(t *testing.T, pod *corev1.PodTemplateSpec) *corev1.Container {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Spec.Containers))
	}
	return &pod.Spec.Containers[0]
}

// configYAML returns config.yaml of the klagx ConfigMap.
func (m *manifests) configYAML(t *testing.T) string {
	t.Helper()
	cm := one[corev1.ConfigMap](t, m, fullname+"-config")
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml: %v", cm.Name, cm.Data)
	}
	return data
}
