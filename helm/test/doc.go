// Package test holds the tests of the klagx Helm chart (helm/klagx). It is a
// separate module so that the Kubernetes API types it decodes manifests into
// never enter the main module.
package test
