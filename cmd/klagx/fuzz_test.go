package main

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klagx/klagx/config"
)

// The --cluster and --threshold values are key=value specs typed by users
// (or templated into KLAGX_CLUSTER by a Helm chart). These fuzz targets
// check their parsers.

// checkSpecError asserts that a spec error names what is wrong: the
// offending key, quoted as the user wrote it (lower-cased), or as a
// "key: " prefix for a bad value, or the format itself.
func checkSpecError(t *testing.T, spec string, err error, valid []string) {
	t.Helper()
	msg := err.Error()
	lower := strings.ToLower(spec)
	quotedKey := func(prefix string) (string, bool) {
		if !strings.HasPrefix(msg, prefix) {
			return "", false
		}
		k, uerr := strconv.QuotedPrefix(msg[len(prefix):])
		if uerr != nil {
			t.Fatalf("%q: error %q does not quote the key", spec, msg)
		}
		key, _ := strconv.Unquote(k)
		return key, true
	}
	switch {
	case strings.HasPrefix(msg, "want comma-separated key=value pairs starting with a key, e.g. "):
		// The first non-blank token has no '='.
		first := ""
		for _, tok := range strings.Split(spec, ",") {
			if strings.TrimSpace(tok) != "" || strings.Contains(tok, "=") {
				first = tok
				break
			}
		}
		if strings.Contains(first, "=") {
			t.Fatalf("%q: %q, but the first token %q has a key", spec, msg, first)
		}
	case msg == `key "group" is required (a regex of the group names the entry applies to)`:
		if slices.Contains(valid, "group") {
			for _, tok := range strings.Split(spec, ",") {
				if k, _, ok := strings.Cut(tok, "="); ok && strings.ToLower(strings.TrimSpace(k)) == "group" {
					t.Fatalf("%q: %q, but the spec has a group key", spec, msg)
				}
			}
		}
	default:
		for _, prefix := range []string{"unknown key ", "key "} {
			if key, ok := quotedKey(prefix); ok {
				if !strings.Contains(lower, strings.ToLower(key)) {
					t.Fatalf("%q: error %q names key %q, which is not in the spec", spec, msg, key)
				}
				if prefix == "unknown key " && slices.Contains(valid, key) {
					t.Fatalf("%q: valid key %q reported unknown", spec, key)
				}
				return
			}
		}
		// A bad value: "key: ...".
		key, _, ok := strings.Cut(msg, ": ")
		if !ok || !slices.Contains(valid, key) || !strings.Contains(lower, key) {
			t.Fatalf("%q: error %q does not name the offending key", spec, msg)
		}
	}
}

// FuzzParseClusterSpec: parseClusterSpec never panics; its errors name the
// offending key and never echo a password given by mistake; a parsed
// cluster formatted back into a spec parses to the same cluster.
func FuzzParseClusterSpec(f *testing.F) {
	for _, s := range []string{
		"name=prod,brokers=k1:9092,k2:9092, k3:9093,isolation=read_committed,tls=true,tls-ca-file=/ca.pem,tls-cert-file=/c.pem,tls-key-file=/k.pem,tls-server-name=kafka.example,tls-insecure-skip-verify=false,sasl-mechanism=scram-sha-512,sasl-username=klagx,sasl-password-env=PROD_PW",
		"brokers=a:1,b:2,name=x,sasl-mechanism=oauthbearer,sasl-token-file=/t,sasl-password-file=/p",
		"name=a,brokers=a:1,colour=blue",
		"name=a,brokers=a:1,password=hunter2",
		"NAME=a, Brokers = a:1",
		"a:9092,name=a",
		"name=a,name=b",
		"name=a,tls=yes-please",
		"",
		",,,",
		"=",
		"=x,name=a",
		"name==x",
		"name=a=b,brokers=a=b,c",
		"name=,x",
		"brokers=,,, ,",
		"tls=1,tls-insecure-skip-verify=T",
		"name=\xff\xfe,brokers=\u0130:1",
		"\u0130=x",
		"sasl-pass=x",
		"name=a;name=b",
		"name=msk,brokers=b:9098,sasl-mechanism=aws-msk-iam,sasl-aws-region=eu-west-1,sasl-aws-profile=kafka",
		"name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t?a=b,sasl-oauth-client-id=k,sasl-oauth-client-secret-env=S,sasl-oauth-scope=a, b,,c,sasl-oauth-ca-file=/ca",
		"sasl-oauth-client-secret-file=/s,sasl-oauth-client-secret=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := parseClusterSpec(spec)
		if err != nil {
			checkSpecError(t, spec, err, clusterKeys)
		}

		// A password typed by mistake is never echoed, whatever else is
		// wrong with the spec.
		const secret = "Zq9-not-for-logs"
		if strings.Contains(spec, secret) {
			t.Skip()
		}
		for _, key := range []string{"password", "sasl-password", "PASS", " sasl-pass "} {
			_, perr := parseClusterSpec(spec + "," + key + "=" + secret)
			if perr == nil {
				t.Fatalf("%q accepted with a %s key", spec, key)
			}
			if strings.Contains(perr.Error(), secret) {
				t.Fatalf("the password leaked: %v", perr)
			}
		}
		if err != nil {
			return
		}

		// Round trip.
		spec2 := formatClusterSpec(c)
		c2, err := parseClusterSpec(spec2)
		if err != nil {
			t.Fatalf("%q parsed, its reformatting %q does not: %v", spec, spec2, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip of %q via %q:\n%+v\n%+v", spec, spec2, c, c2)
		}
	})
}

// formatClusterSpec writes c as a --cluster value.
func formatClusterSpec(c config.Cluster) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("name", c.Name)
	add("brokers", strings.Join(c.Brokers, ","))
	// Parsing starts from config.DefaultCluster, so an isolation the spec
	// emptied must be written out to come back empty (Validate rejects it).
	parts = append(parts, "isolation="+string(c.Isolation))
	parts = append(parts, "tls="+strconv.FormatBool(c.TLS.Enabled))
	add("tls-ca-file", c.TLS.CAFile)
	add("tls-cert-file", c.TLS.CertFile)
	add("tls-key-file", c.TLS.KeyFile)
	add("tls-server-name", c.TLS.ServerName)
	parts = append(parts, "tls-insecure-skip-verify="+strconv.FormatBool(c.TLS.InsecureSkipVerify))
	add("sasl-mechanism", c.SASL.Mechanism)
	add("sasl-username", c.SASL.Username)
	add("sasl-password-file", c.SASL.PasswordFile)
	add("sasl-password-env", c.SASL.PasswordEnv)
	add("sasl-token-file", c.SASL.TokenFile)
	add("sasl-aws-region", c.SASL.AWS.Region)
	add("sasl-aws-profile", c.SASL.AWS.Profile)
	add("sasl-oauth-token-url", c.SASL.OAuth.TokenURL)
	add("sasl-oauth-client-id", c.SASL.OAuth.ClientID)
	add("sasl-oauth-client-secret-file", c.SASL.OAuth.ClientSecretFile)
	add("sasl-oauth-client-secret-env", c.SASL.OAuth.ClientSecretEnv)
	add("sasl-oauth-scope", strings.Join(c.SASL.OAuth.Scopes, ","))
	add("sasl-oauth-ca-file", c.SASL.OAuth.CAFile)
	return strings.Join(parts, ",")
}

// FuzzParseThresholdSpec: parseThresholdSpec never panics; its errors name
// the offending key; a parsed override formatted back into a spec parses
// to the same override.
func FuzzParseThresholdSpec(f *testing.F) {
	for _, s := range []string{
		"group=batch-.*,warn-lag-seconds=30s,crit-lag-seconds=2m,warn-lag=1000,crit-lag=5000,stall-after=1m,growth-window=10m",
		"crit-lag=0,group=x{1,3}",
		"group=a,colour=blue",
		"warn-lag=5",
		"orders,group=a",
		"group=a,group=b",
		"group=a,warn-lag-seconds=30",
		"group=a,crit-lag=lots",
		"group=a,crit-lag=99999999999999999999",
		"group=a,warn-lag=-9223372036854775808,stall-after=-2562047h47m16.854775808s",
		"group=a,growth-window=1.5h,crit-lag-seconds=1µs",
		"group=(a|b),c",
		"GROUP= x ",
		"group=",
		"",
		"=",
		",group=a,",
		"group=a=b",
		"group=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		o, err := parseThresholdSpec(spec)
		if err != nil {
			checkSpecError(t, spec, err, thresholdKeys)
			return
		}
		if o.Group != nil {
			t.Fatalf("the parser compiled the regex; Validate does")
		}
		spec2 := formatThresholdSpec(o)
		o2, err := parseThresholdSpec(spec2)
		if err != nil {
			t.Fatalf("%q parsed, its reformatting %q does not: %v", spec, spec2, err)
		}
		if !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip of %q via %q:\n%+v\n%+v", spec, spec2, o, o2)
		}
	})
}

// formatThresholdSpec writes o as a --threshold value, group last so that
// a comma in the regex stays in it.
func formatThresholdSpec(o config.ThresholdOverride) string {
	var parts []string
	for _, d := range []struct {
		key string
		v   fmt.Stringer
		set bool
	}{
		{"warn-lag-seconds", o.WarnLagSeconds, o.WarnLagSeconds != nil},
		{"crit-lag-seconds", o.CritLagSeconds, o.CritLagSeconds != nil},
		{"stall-after", o.StallAfter, o.StallAfter != nil},
		{"growth-window", o.GrowthWindow, o.GrowthWindow != nil},
	} {
		if d.set {
			parts = append(parts, d.key+"="+d.v.String())
		}
	}
	if o.WarnLag != nil {
		parts = append(parts, "warn-lag="+strconv.FormatInt(*o.WarnLag, 10))
	}
	if o.CritLag != nil {
		parts = append(parts, "crit-lag="+strconv.FormatInt(*o.CritLag, 10))
	}
	parts = append(parts, "group="+o.Source)
	return strings.Join(parts, ",")
}
