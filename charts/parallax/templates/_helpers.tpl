{{/* Chart name, overridable with nameOverride. */}}
{{- define "parallax.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: fullnameOverride, else release name (+ chart name unless already in it). */}}
{{- define "parallax.fullname" -}}
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

{{- define "parallax.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "parallax.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parallax.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "parallax.labels" -}}
helm.sh/chart: {{ include "parallax.chart" . }}
{{ include "parallax.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: parallax
{{- end }}

{{- define "parallax.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "parallax.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "parallax.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "parallax.webhookConfigurationName" -}}
{{- printf "%s-validating-webhook" (include "parallax.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "parallax.mutatingWebhookConfigurationName" -}}
{{- printf "%s-mutating-webhook" (include "parallax.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "parallax.webhookSecretName" -}}
{{- printf "%s-webhook-certs" (include "parallax.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "parallax.serverName" -}}
{{- printf "%s-server" (include "parallax.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The HTTP server's pods: component server, so the operator's Services and PDB never select them. */}}
{{- define "parallax.serverSelectorLabels" -}}
app.kubernetes.io/name: {{ include "parallax.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "parallax.serverLabels" -}}
helm.sh/chart: {{ include "parallax.chart" . }}
{{ include "parallax.serverSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: parallax
{{- end }}

{{/*
The Secret with the operator's client certificate for Agents with spec.tls, if any: the user's,
or the one cert-manager issues.
*/}}
{{- /* The ClusterIssuer agentTLS.certManager.agentsCA makes. */ -}}
{{- define "parallax.agentsIssuer" -}}
{{ include "parallax.fullname" . }}-agents
{{- end }}

{{- define "parallax.agentClientCertSecret" -}}
{{- if .Values.agentTLS.certManager.enabled -}}
{{ include "parallax.fullname" . }}-agent-client-cert
{{- else -}}
{{ .Values.agentTLS.clientCertSecret }}
{{- end -}}
{{- end }}
