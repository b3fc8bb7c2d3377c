{{/* The release's base name: the release name, with the chart's name in front unless it is already in it. */}}
{{- define "mirrorgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mirrorgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mirrorgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mirrorgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mirrorgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mirrorgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mirrorgate.serviceAccountName" -}}
{{- default (include "mirrorgate.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Leader election is on with more than one replica, or when asked for. */}}
{{- define "mirrorgate.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/* The Secret that holds the admin token (admin.tokenSecret). */}}
{{- define "mirrorgate.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "mirrorgate.fullname" .)) .Values.admin.tokenSecret -}}
{{- end -}}

{{- define "mirrorgate.leaseName" -}}
{{- default (printf "%s-leader" (include "mirrorgate.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The namespaces where the gateway may read Secrets (rbac.secretNamespaces), as a JSON list. */}}
{{- define "mirrorgate.secretNamespaces" -}}
{{- $namespaces := .Values.rbac.secretNamespaces | default .Values.watchNamespaces | default (list .Release.Namespace) -}}
{{- $namespaces | uniq | toJson -}}
{{- end -}}
