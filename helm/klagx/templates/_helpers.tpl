{{/* Chart name. */}}
{{- define "klagx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it contains the chart name. */}}
{{- define "klagx.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "klagx.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "klagx.labels" -}}
helm.sh/chart: {{ include "klagx.chart" . }}
{{ include "klagx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: klagx
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod selector labels. */}}
{{- define "klagx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "klagx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "klagx.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "klagx.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "klagx.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Matchers the alert rules use instead of job="klagx". */}}
{{- define "klagx.ruleSelector" -}}
{{- .Values.prometheusRule.selector | default (printf "job=%q" (include "klagx.fullname" .)) }}
{{- end }}

{{/* Where the Secrets of cluster number $i are mounted. */}}
{{- define "klagx.tlsCADir" -}}/etc/klagx/tls/{{ . }}/ca{{- end }}
{{- define "klagx.tlsClientDir" -}}/etc/klagx/tls/{{ . }}/client{{- end }}
{{- define "klagx.saslDir" -}}/etc/klagx/sasl/{{ . }}{{- end }}

{{/*
A cluster's tls / sasl values with the defaults of values.yaml filled in
(Helm does not merge defaults into list items), as JSON.
*/}}
{{- define "klagx.clusterTLS" -}}
{{- $t := deepCopy (. | default dict) -}}
{{- range $k, $d := dict "enabled" false "existingSecret" "" "caSecret" "" "caKey" "ca.crt" "certKey" "tls.crt" "keyKey" "tls.key" "serverName" "" "insecureSkipVerify" false -}}
{{- if not (hasKey $t $k) }}{{ $_ := set $t $k $d }}{{ end -}}
{{- end -}}
{{- toJson $t -}}
{{- end }}

{{- define "klagx.clusterSASL" -}}
{{- $s := deepCopy (. | default dict) -}}
{{- range $k, $d := dict "mechanism" "" "username" "" "existingSecret" "" "passwordKey" "password" "tokenKey" "token" "oauth" dict "aws" dict -}}
{{- if not (hasKey $s $k) }}{{ $_ := set $s $k $d }}{{ end -}}
{{- end -}}
{{- toJson $s -}}
{{- end }}

{{/* Secret holding the CA of a cluster's TLS config ("" for the system roots). */}}
{{- define "klagx.tlsCASecret" -}}
{{- if and .enabled .caKey }}{{ .caSecret | default .existingSecret | default "" }}{{ end }}
{{- end }}

{{/* Whether a cluster's TLS config mounts a client certificate. */}}
{{- define "klagx.tlsClientCert" -}}
{{- if and .enabled .existingSecret .certKey .keyKey }}true{{ end }}
{{- end }}

{{/* Key of the OIDC client secret in a cluster's sasl.existingSecret. */}}
{{- define "klagx.oauthSecretKey" -}}{{ .oauth.clientSecretKey | default "client-secret" }}{{- end }}

{{/* Whether a cluster's SASL config mounts a Secret. */}}
{{- define "klagx.saslSecret" -}}
{{- if and .existingSecret (has .mechanism (list "plain" "scram-sha-256" "scram-sha-512" "oauthbearer")) }}true{{ end }}
{{- end }}

{{/* Where the Secrets of web.config are mounted. */}}
{{- define "klagx.webConfigDir" -}}/etc/klagx/web{{- end }}
{{- define "klagx.webTLSDir" -}}/etc/klagx/web-tls{{- end }}

{{/*
Path of the exporter-toolkit web config file, "" when web.config is off.
Fails on a web.config without its Secret, or Secrets without web.config.enabled.
*/}}
{{- define "klagx.webConfigFile" -}}
{{- $w := .Values.web.config -}}
{{- if $w.enabled -}}
{{- if not $w.existingSecret }}{{ fail "web.config.enabled needs web.config.existingSecret (a Secret with the web config file under web.config.key)" }}{{ end -}}
{{- printf "%s/%s" (include "klagx.webConfigDir" .) $w.key -}}
{{- else if or $w.existingSecret $w.certSecret -}}
{{- fail "web.config.existingSecret and web.config.certSecret need web.config.enabled: true" -}}
{{- end -}}
{{- end }}

{{/* "true" when the metrics port serves HTTPS (web.config with tls). */}}
{{- define "klagx.webHTTPS" -}}
{{- if and (include "klagx.webConfigFile" .) .Values.web.config.tls }}true{{ end -}}
{{- end }}

{{/*
A probe (.probe) adapted to the web config of the root context (.root).
A handler the user set (tcpSocket, exec, grpc) replaces the default httpGet,
which Helm merges in next to it. With web.config.enabled, an httpGet without
scheme and httpHeaders (the chart's default) becomes a tcpSocket probe when
basic auth may be on (the kubelet cannot send credentials), or gets scheme
HTTPS when there is TLS only; any other httpGet is used as given.
*/}}
{{- define "klagx.probe" -}}
{{- $p := deepCopy .probe -}}
{{- $w := .root.Values.web.config -}}
{{- if and $p.httpGet (or $p.tcpSocket $p.exec $p.grpc) -}}
{{- $_ := unset $p "httpGet" -}}
{{- else if and (include "klagx.webConfigFile" .root) $p.httpGet (not $p.httpGet.scheme) (not $p.httpGet.httpHeaders) -}}
{{- if $w.basicAuth -}}
{{- $_ := set $p "tcpSocket" (dict "port" ($p.httpGet.port | default "http-metrics")) -}}
{{- $_ := unset $p "httpGet" -}}
{{- else if $w.tls -}}
{{- $_ := set $p.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- end -}}
{{- toYaml $p -}}
{{- end }}

{{/*
The klagx configuration file (config.yaml), in klagx's own format (see
config/file.go): only the keys set in the values are written, so klagx's
defaults apply to the rest.
*/}}
{{- define "klagx.config" -}}
{{- $v := .Values -}}
{{- $c := dict -}}
{{- with $v.pollInterval }}{{ $_ := set $c "poll_interval" (toString .) }}{{ end -}}
{{- with $v.groupPollInterval }}{{ $_ := set $c "group_poll_interval" (toString .) }}{{ end -}}
{{- with $v.granularity }}{{ $_ := set $c "granularity" . }}{{ end -}}
{{- $g := dict -}}
{{- with $v.groups.include }}{{ $_ := set $g "include" . }}{{ end -}}
{{- with $v.groups.exclude }}{{ $_ := set $g "exclude" . }}{{ end -}}
{{- if $g }}{{ $_ := set $c "group" $g }}{{ end -}}
{{- $t := dict -}}
{{- with $v.topics.include }}{{ $_ := set $t "include" . }}{{ end -}}
{{- with $v.topics.exclude }}{{ $_ := set $t "exclude" . }}{{ end -}}
{{- if $v.topics.includeInternal }}{{ $_ := set $t "include_internal" true }}{{ end -}}
{{- if $t }}{{ $_ := set $c "topic" $t }}{{ end -}}
{{- $tl := dict -}}
{{- with $v.timeLag.mode }}{{ $_ := set $tl "mode" . }}{{ end -}}
{{- if not (kindIs "invalid" $v.timeLag.fetchBudget) }}{{ $_ := set $tl "fetch_budget" (int64 $v.timeLag.fetchBudget) }}{{ end -}}
{{- if $tl }}{{ $_ := set $c "time_lag" $tl }}{{ end -}}
{{- $th := $v.thresholds -}}
{{- include "klagx.thresholdKeys" (dict "in" $th "out" $c) -}}
{{- $overrides := list -}}
{{- range $th.overrides -}}
{{- $o := dict "group" .group -}}
{{- include "klagx.thresholdKeys" (dict "in" . "out" $o) -}}
{{- $overrides = append $overrides $o -}}
{{- end -}}
{{- with $overrides }}{{ $_ := set $c "thresholds" . }}{{ end -}}
{{- $l := dict -}}
{{- with $v.log.level }}{{ $_ := set $l "level" . }}{{ end -}}
{{- with $v.log.format }}{{ $_ := set $l "format" . }}{{ end -}}
{{- if $l }}{{ $_ := set $c "log" $l }}{{ end -}}
{{- $w := dict -}}
{{- with $v.web.telemetryPath }}{{ $_ := set $w "telemetry_path" . }}{{ end -}}
{{- if $v.web.disableExporterMetrics }}{{ $_ := set $w "disable_exporter_metrics" true }}{{ end -}}
{{- with include "klagx.webConfigFile" . }}{{ $_ := set $w "config" (dict "file" .) }}{{ end -}}
{{- if $w }}{{ $_ := set $c "web" $w }}{{ end -}}
{{- $clusters := list -}}
{{- range $i, $cl := $v.clusters -}}
{{- $o := dict "name" $cl.name "brokers" $cl.brokers -}}
{{- with $cl.isolation }}{{ $_ := set $o "isolation" . }}{{ end -}}
{{- $tls := include "klagx.clusterTLS" $cl.tls | fromJson -}}
{{- if $tls.enabled -}}
{{- $ot := dict "enabled" true -}}
{{- if include "klagx.tlsCASecret" $tls }}{{ $_ := set $ot "ca_file" (printf "%s/%s" (include "klagx.tlsCADir" $i) $tls.caKey) }}{{ end -}}
{{- if include "klagx.tlsClientCert" $tls -}}
{{- $_ := set $ot "cert_file" (printf "%s/%s" (include "klagx.tlsClientDir" $i) $tls.certKey) -}}
{{- $_ := set $ot "key_file" (printf "%s/%s" (include "klagx.tlsClientDir" $i) $tls.keyKey) -}}
{{- end -}}
{{- with $tls.serverName }}{{ $_ := set $ot "server_name" . }}{{ end -}}
{{- if $tls.insecureSkipVerify }}{{ $_ := set $ot "insecure_skip_verify" true }}{{ end -}}
{{- $_ := set $o "tls" $ot -}}
{{- else if or $tls.existingSecret $tls.caSecret $tls.serverName $tls.insecureSkipVerify -}}
{{- fail (printf "clusters[%d] (%s): tls.existingSecret, tls.caSecret, tls.serverName and tls.insecureSkipVerify need tls.enabled: true" $i $cl.name) -}}
{{- end -}}
{{- $sasl := include "klagx.clusterSASL" $cl.sasl | fromJson -}}
{{- with $sasl.mechanism -}}
{{- $os := dict "mechanism" . -}}
{{- with $sasl.username }}{{ $_ := set $os "username" . }}{{ end -}}
{{- if has . (list "plain" "scram-sha-256" "scram-sha-512") -}}
{{- if not $sasl.existingSecret }}{{ fail (printf "clusters[%d] (%s): sasl.mechanism %s needs sasl.existingSecret (a Secret with the password under sasl.passwordKey)" $i $cl.name .) }}{{ end -}}
{{- $_ := set $os "password_file" (printf "%s/%s" (include "klagx.saslDir" $i) $sasl.passwordKey) -}}
{{- else if and (eq . "oauthbearer") $sasl.oauth.tokenURL -}}
{{- if not $sasl.existingSecret }}{{ fail (printf "clusters[%d] (%s): sasl.oauth needs sasl.existingSecret (a Secret with the client secret under sasl.oauth.clientSecretKey)" $i $cl.name) }}{{ end -}}
{{- $oo := dict "token_url" $sasl.oauth.tokenURL "client_id" $sasl.oauth.clientID "client_secret_file" (printf "%s/%s" (include "klagx.saslDir" $i) (include "klagx.oauthSecretKey" $sasl)) -}}
{{- with $sasl.oauth.scopes }}{{ $_ := set $oo "scopes" . }}{{ end -}}
{{- with $sasl.oauth.params }}{{ $_ := set $oo "params" . }}{{ end -}}
{{- with $sasl.oauth.extensions }}{{ $_ := set $oo "extensions" . }}{{ end -}}
{{- with $sasl.oauth.caFile }}{{ $_ := set $oo "ca_file" . }}{{ end -}}
{{- $_ := set $os "oauth" $oo -}}
{{- else if eq . "oauthbearer" -}}
{{- with $sasl.oauth }}{{ if or .clientID .scopes .params .extensions .caFile }}{{ fail (printf "clusters[%d] (%s): sasl.oauth needs sasl.oauth.tokenURL" $i $cl.name) }}{{ end }}{{ end -}}
{{- if not $sasl.existingSecret }}{{ fail (printf "clusters[%d] (%s): sasl.mechanism oauthbearer needs sasl.existingSecret (a Secret with the token under sasl.tokenKey)" $i $cl.name) }}{{ end -}}
{{- $_ := set $os "token_file" (printf "%s/%s" (include "klagx.saslDir" $i) $sasl.tokenKey) -}}
{{- else if eq . "aws-msk-iam" -}}
{{- $oa := dict -}}
{{- with $sasl.aws.region }}{{ $_ := set $oa "region" . }}{{ end -}}
{{- with $sasl.aws.profile }}{{ $_ := set $oa "profile" . }}{{ end -}}
{{- if $oa }}{{ $_ := set $os "aws" $oa }}{{ end -}}
{{- end -}}
{{- $_ := set $o "sasl" $os -}}
{{- end -}}
{{- $clusters = append $clusters $o -}}
{{- end -}}
{{- $_ := set $c "clusters" $clusters -}}
{{- $c = mustMergeOverwrite (deepCopy $v.extraConfig) $c -}}
{{- toYaml $c }}
{{- end }}

{{/* Threshold keys of .in (values, camelCase) written into .out (config, snake_case). */}}
{{- define "klagx.thresholdKeys" -}}
{{- $in := .in -}}
{{- $out := .out -}}
{{- range $key, $cfg := dict "warnLagSeconds" "warn_lag_seconds" "critLagSeconds" "crit_lag_seconds" "stallAfter" "stall_after" "growthWindow" "growth_window" -}}
{{- $val := index $in $key -}}
{{- if not (or (kindIs "invalid" $val) (eq (toString $val) "")) }}{{ $_ := set $out $cfg (toString $val) }}{{ end -}}
{{- end -}}
{{- range $key, $cfg := dict "warnLag" "warn_lag" "critLag" "crit_lag" -}}
{{- $val := index $in $key -}}
{{- if not (kindIs "invalid" $val) }}{{ $_ := set $out $cfg (int64 $val) }}{{ end -}}
{{- end -}}
{{- end }}

{{/* Volumes of the pod: config, /tmp, and the Secrets of the clusters. */}}
{{- define "klagx.volumes" -}}
- name: config
  configMap:
    name: {{ include "klagx.fullname" . }}-config
- name: tmp
  emptyDir:
    sizeLimit: 16Mi
{{- range $i, $cl := .Values.clusters }}
{{- $tls := include "klagx.clusterTLS" $cl.tls | fromJson }}
{{- with include "klagx.tlsCASecret" $tls }}
- name: tls-ca-{{ $i }}
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: {{ $tls.caKey }}
        path: {{ $tls.caKey }}
{{- end }}
{{- if include "klagx.tlsClientCert" $tls }}
- name: tls-client-{{ $i }}
  secret:
    secretName: {{ $tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $tls.certKey }}
        path: {{ $tls.certKey }}
      - key: {{ $tls.keyKey }}
        path: {{ $tls.keyKey }}
{{- end }}
{{- $sasl := include "klagx.clusterSASL" $cl.sasl | fromJson }}
{{- if include "klagx.saslSecret" $sasl }}
{{- $key := ternary $sasl.tokenKey $sasl.passwordKey (eq $sasl.mechanism "oauthbearer") }}
{{- if and (eq $sasl.mechanism "oauthbearer") $sasl.oauth.tokenURL }}{{ $key = include "klagx.oauthSecretKey" $sasl }}{{ end }}
- name: sasl-{{ $i }}
  secret:
    secretName: {{ $sasl.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $key }}
        path: {{ $key }}
{{- end }}
{{- end }}
{{- if include "klagx.webConfigFile" . }}
- name: web-config
  secret:
    secretName: {{ .Values.web.config.existingSecret }}
    defaultMode: 0440
{{- with .Values.web.config.certSecret }}
- name: web-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "klagx.volumeMounts" -}}
- name: config
  mountPath: /etc/klagx/config.yaml
  subPath: config.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- range $i, $cl := .Values.clusters }}
{{- $tls := include "klagx.clusterTLS" $cl.tls | fromJson }}
{{- if include "klagx.tlsCASecret" $tls }}
- name: tls-ca-{{ $i }}
  mountPath: {{ include "klagx.tlsCADir" $i }}
  readOnly: true
{{- end }}
{{- if include "klagx.tlsClientCert" $tls }}
- name: tls-client-{{ $i }}
  mountPath: {{ include "klagx.tlsClientDir" $i }}
  readOnly: true
{{- end }}
{{- if include "klagx.saslSecret" (include "klagx.clusterSASL" $cl.sasl | fromJson) }}
- name: sasl-{{ $i }}
  mountPath: {{ include "klagx.saslDir" $i }}
  readOnly: true
{{- end }}
{{- end }}
{{- if include "klagx.webConfigFile" . }}
- name: web-config
  mountPath: {{ include "klagx.webConfigDir" . }}
  readOnly: true
{{- if .Values.web.config.certSecret }}
- name: web-tls
  mountPath: {{ include "klagx.webTLSDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod template of the Deployment and the StatefulSet. */}}
{{- define "klagx.podTemplate" -}}
metadata:
  labels:
    {{- include "klagx.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "klagx.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "klagx.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: klagx
      image: {{ include "klagx.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --config.file=/etc/klagx/config.yaml
        - --web.listen-address=:9308
        {{- if .Values.sharding.enabled }}
        - --shard=$(KLAGX_SHARD)
        - --total-shards=$(KLAGX_TOTAL_SHARDS)
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or .Values.sharding.enabled .Values.extraEnv }}
      env:
        {{- if .Values.sharding.enabled }}
        - name: KLAGX_SHARD
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        - name: KLAGX_TOTAL_SHARDS
          value: {{ .Values.sharding.totalShards | int | toString | quote }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http-metrics
          containerPort: 9308
          protocol: TCP
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- include "klagx.probe" (dict "probe" . "root" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- include "klagx.probe" (dict "probe" . "root" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        {{- include "klagx.volumeMounts" . | nindent 8 }}
  volumes:
    {{- include "klagx.volumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
