{{/* Names and labels. Object names follow upstream's chart (<fullname>-controller-manager, ...) so a
release of upstream's chart can be upgraded in place; with release name spin-operator they are
config/default's names. */}}

{{- define "spin-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "spin-operator.fullname" -}}
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

{{- define "spin-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spin-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "spin-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spin-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: spin-operator
{{- end }}

{{- define "spin-operator.serviceAccountName" -}}
{{ include "spin-operator.fullname" . }}-controller-manager
{{- end }}

{{- define "spin-operator.webhookServiceName" -}}
{{ include "spin-operator.fullname" . }}-webhook-service
{{- end }}

{{- define "spin-operator.mutatingName" -}}
{{ include "spin-operator.fullname" . }}-mutating-webhook-configuration
{{- end }}

{{- define "spin-operator.validatingName" -}}
{{ include "spin-operator.fullname" . }}-validating-webhook-configuration
{{- end }}

{{/* The Secret holding the webhook's CA and serving pair: made by the operator (selfManaged) or by
cert-manager (certManager: upstream's fixed name webhook-server-cert). */}}
{{- define "spin-operator.webhookSecretName" -}}
{{- if eq .Values.webhook.certificates.mode "certManager" -}}
{{ .Values.webhook.certificates.certManager.secretName }}
{{- else -}}
{{ include "spin-operator.fullname" . }}-webhook-server-cert
{{- end }}
{{- end }}

{{- define "spin-operator.image" -}}
{{- $img := .Values.controllerManager.manager.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag | default (printf "v%s" .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The user's args: upstream's controllerManager.manager.args, then extraArgs. */}}
{{- define "spin-operator.userArgs" -}}
{{- toJson (concat (.Values.controllerManager.manager.args | default list) (.Values.controllerManager.manager.extraArgs | default list)) }}
{{- end }}

{{/* flagValue: the value of the last --flag=value or -flag=value among the user's args, or "" when absent.
Call with (dict "args" $list "flag" "metrics-bind-address"). */}}
{{- define "spin-operator.flagValue" -}}
{{- $v := "" }}
{{- range .args }}
{{- $a := toString . | trimPrefix "-" | trimPrefix "-" }}
{{- if hasPrefix (printf "%s=" $.flag) $a }}
{{- $v = trimPrefix (printf "%s=" $.flag) $a }}
{{- end }}
{{- end }}
{{- $v }}
{{- end }}

{{/* flagSet: "true" when the user's args carry --flag or --flag=<anything>. */}}
{{- define "spin-operator.flagSet" -}}
{{- $set := false }}
{{- range .args }}
{{- $a := toString . | trimPrefix "-" | trimPrefix "-" }}
{{- if or (eq $a $.flag) (hasPrefix (printf "%s=" $.flag) $a) }}
{{- $set = true }}
{{- end }}
{{- end }}
{{- $set }}
{{- end }}

{{/* leaderElect: "true" when the operator runs with leader election: --leader-elect in the args (and not
=false), or more than one replica (the chart then adds the flag). */}}
{{- define "spin-operator.leaderElect" -}}
{{- $args := include "spin-operator.userArgs" . | fromJsonArray }}
{{- $v := include "spin-operator.flagValue" (dict "args" $args "flag" "leader-elect") }}
{{- $set := eq (include "spin-operator.flagSet" (dict "args" $args "flag" "leader-elect")) "true" }}
{{- or (gt (int .Values.controllerManager.replicas) 1) (and $set (ne $v "false")) }}
{{- end }}

{{/* port of [host]:port, for a flag among the user's args, else the default given. */}}
{{- define "spin-operator.flagPort" -}}
{{- $args := include "spin-operator.userArgs" .root | fromJsonArray }}
{{- $v := include "spin-operator.flagValue" (dict "args" $args "flag" .flag) }}
{{- if eq $v "" }}{{ $v = .default }}{{ end }}
{{- if eq $v "0" }}0{{ else }}{{ splitList ":" $v | last }}{{ end }}
{{- end }}

{{/* metricsSecure: "true" unless the args say --metrics-secure=false (the operator's default is HTTPS). */}}
{{- define "spin-operator.metricsSecure" -}}
{{- $args := include "spin-operator.userArgs" . | fromJsonArray }}
{{- ne (include "spin-operator.flagValue" (dict "args" $args "flag" "metrics-secure")) "false" }}
{{- end }}

{{- define "spin-operator.verifyDir" -}}/etc/spin-operator/verify{{- end }}
