package test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/klagx/klagx/config"
)

// TestManagedKafka: IRSA and EKS Pod Identity need nothing but the
// ServiceAccount (its eks.amazonaws.com/role-arn annotation, or a Pod
// Identity association naming it) and aws-msk-iam; the OIDC client secret
// comes from an existing Secret mounted as a file, and the rendered config
// is accepted by klagx's own loader.
func TestManagedKafka(t *testing.T) {
	values := filepath.Join(t.TempDir(), "managed.yaml")
	if err := os.WriteFile(values, []byte(`serviceAccount:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/klagx
clusters:
  - name: msk
    brokers: [b-1.prod.abc123.c2.kafka.eu-west-1.amazonaws.com:9098]
    tls: {enabled: true, certKey: "", keyKey: ""}
    sasl:
      mechanism: aws-msk-iam
      aws: {region: eu-west-1}
  - name: confluent
    brokers: [pkc-00000.eu-west-1.aws.confluent.cloud:9092]
    tls: {enabled: true, certKey: "", keyKey: ""}
    sasl:
      mechanism: oauthbearer
      existingSecret: klagx-oidc
      oauth:
        tokenURL: https://idp.example.com/oauth2/token
        clientID: klagx
        scopes: [kafka]
        params: {audience: kafka}
        extensions: {logicalCluster: lkc-abc12, identityPoolId: pool-Xy1}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	m := render(t, "-f", values)
	sa := one[corev1.ServiceAccount](t, m, fullname)
	if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::123456789012:role/klagx" {
		t.Errorf("ServiceAccount annotations %v", sa.Annotations)
	}
	pod := m.podTemplate(t)
	if pod.Spec.ServiceAccountName != fullname {
		t.Errorf("pods run as %q, want the annotated ServiceAccount %q", pod.Spec.ServiceAccountName, fullname)
	}
	var mounted []string
	c := container(t, pod)
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil {
				for _, it := range v.Secret.Items {
					mounted = append(mounted, v.Secret.SecretName+"/"+it.Key+" -> "+vm.MountPath+"/"+it.Path)
				}
			}
		}
	}
	if want := []string{"klagx-oidc/client-secret -> /etc/klagx/sasl/1/client-secret"}; !reflect.DeepEqual(mounted, want) {
		t.Errorf("secret mounts %v, want %v", mounted, want)
	}

	f, err := config.ParseFile("config.yaml", []byte(m.configYAML(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Clusters[0].SASL; got.Mechanism != config.SASLAWSMSKIAM || got.AWS != (config.AWSIAM{Region: "eu-west-1"}) {
		t.Errorf("msk sasl = %+v", got)
	}
	want := config.OAuth{
		TokenURL: "https://idp.example.com/oauth2/token", ClientID: "klagx",
		ClientSecretFile: "/etc/klagx/sasl/1/client-secret", Scopes: []string{"kafka"},
		Params:     map[string]string{"audience": "kafka"},
		Extensions: map[string]string{"logicalCluster": "lkc-abc12", "identityPoolId": "pool-Xy1"},
	}
	if got := f.Clusters[1].SASL.OAuth; !reflect.DeepEqual(got, want) || f.Clusters[1].SASL.TokenFile != "" {
		t.Errorf("confluent oauth = %+v\nwant %+v", got, want)
	}
	cfg := recipeConfig(f.Clusters)
	if err := cfg.Validate(); err != nil {
		t.Errorf("klagx rejects the rendered config: %v", err)
	}

	// Without the Secret there is no client secret to mount.
	out := renderFails(t, "-f", values, "--set", "clusters[1].sasl.existingSecret=")
	if !strings.Contains(out, "sasl.oauth needs sasl.existingSecret") {
		t.Errorf("error %s", out)
	}
	// OAuth settings without a token endpoint would be silently dropped.
	out = renderFails(t, "-f", values, "--set", "clusters[1].sasl.oauth.tokenURL=")
	if !strings.Contains(out, "clusters[1] (confluent): sasl.oauth needs sasl.oauth.tokenURL") {
		t.Errorf("error %s", out)
	}
	// The schema refuses unknown oauth and aws keys.
	for _, set := range []string{"clusters[1].sasl.oauth.clientSecret=x", "clusters[0].sasl.aws.roleArn=x"} {
		if out := renderFails(t, "-f", values, "--set", set); !strings.Contains(out, "additional properties") && !strings.Contains(out, "additionalProperties") {
			t.Errorf("--set %s: %s", set, out)
		}
	}
}

// TestRecipesRender: every Helm values block of the managed Kafka recipes in
// docs/operations.md renders, and klagx accepts the config it renders.
func TestRecipesRender(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml helm-values\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d recipe Helm blocks, want at least 5", len(blocks))
	}
	for i, b := range blocks {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			values := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(values, []byte(b[1]), 0o600); err != nil {
				t.Fatal(err)
			}
			m := render(t, "-f", values)
			f, err := config.ParseFile("config.yaml", []byte(m.configYAML(t)))
			if err != nil {
				t.Fatal(err)
			}
			cfg := recipeConfig(f.Clusters)
			if err := cfg.Validate(); err != nil {
				t.Errorf("klagx rejects the rendered config: %v", err)
			}
		})
	}
}

// recipeConfig is a klagx Config of clusters with every other setting at its
// default (config.Default), so that Validate sees a complete configuration.
func recipeConfig(clusters []config.Cluster) config.Config {
	cfg := *config.Default()
	cfg.Clusters = clusters
	for i := range cfg.Clusters {
		if cfg.Clusters[i].Isolation == "" {
			cfg.Clusters[i].Isolation = config.IsolationReadUncommitted
		}
	}
	return cfg
}
