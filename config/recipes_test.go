package config

import (
	"os"
	"regexp"
	"testing"
)

// recipeBlocks returns the fenced blocks of docs/operations.md tagged
// ```yaml <tag>.
func recipeBlocks(t *testing.T, tag string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```yaml " + regexp.QuoteMeta(tag) + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestRecipesParse: every klagx config block of the managed Kafka recipes
// is accepted by the strict file loader and by Validate.
func TestRecipesParse(t *testing.T) {
	blocks := recipeBlocks(t, "klagx-config")
	if len(blocks) < 5 {
		t.Fatalf("found %d recipe config blocks in docs/operations.md, want at least 5", len(blocks))
	}
	for i, b := range blocks {
		f, err := ParseFile("operations.md", []byte(b))
		if err != nil {
			t.Errorf("recipe %d: %v\n%s", i, err, b)
			continue
		}
		cfg := recipeConfig(f.Clusters)
		if err := cfg.Validate(); err != nil {
			t.Errorf("recipe %d: %v\n%s", i, err, b)
		}
	}
}

// recipeConfig is a Config of clusters with every other setting at its
// default (config.Default), so that Validate sees a complete configuration.
func recipeConfig(clusters []Cluster) Config {
	cfg := *Default()
	cfg.Clusters = clusters
	for i := range cfg.Clusters {
		if cfg.Clusters[i].Isolation == "" {
			cfg.Clusters[i].Isolation = IsolationReadUncommitted
		}
	}
	return cfg
}
