{{/* Chart name. */}}
{{- define "scriptorium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name, at most 40 characters: suffixes ("-postgresql", 11) are
appended to it, Service names must stay within 63 and StatefulSet names within 52 (their
pods' controller-revision-hash label adds 11). */}}
{{- define "scriptorium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "scriptorium.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "scriptorium.labels" -}}
helm.sh/chart: {{ include "scriptorium.chart" . }}
app.kubernetes.io/name: {{ include "scriptorium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scriptorium
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "scriptorium.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scriptorium.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scriptorium.componentLabels" -}}
{{ include "scriptorium.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scriptorium.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "scriptorium.scriptImage" -}}
{{- printf "%s:%s" .Values.execution.scriptImage.repository (default .Chart.AppVersion .Values.execution.scriptImage.tag) -}}
{{- end -}}

{{/* The namespace script pods run in. */}}
{{- define "scriptorium.scriptNamespace" -}}
{{- default (printf "%s-scripts" .Release.Namespace) .Values.execution.scriptNamespace.name -}}
{{- end -}}

{{- define "scriptorium.sessionsDomain" -}}
{{- default (printf "sessions.%s" .Values.ingress.host) .Values.ingress.sessionsDomain -}}
{{- end -}}

{{/* Secret and key holding DATABASE_URL. */}}
{{- define "scriptorium.databaseSecretName" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "scriptorium.fullname" .) -}}
{{- end -}}
{{- end -}}
{{- define "scriptorium.databaseSecretKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecretKey -}}
{{- else -}}
database-url
{{- end -}}
{{- end -}}

{{/* Secret and key holding BOOTSTRAP_ADMIN_PASSWORD. */}}
{{- define "scriptorium.adminSecretName" -}}
{{- default (printf "%s-bootstrap-admin" (include "scriptorium.fullname" .)) .Values.auth.bootstrapAdmin.existingSecret -}}
{{- end -}}
{{- define "scriptorium.adminSecretKey" -}}
{{- if .Values.auth.bootstrapAdmin.existingSecret -}}
{{- .Values.auth.bootstrapAdmin.existingSecretKey -}}
{{- else -}}
password
{{- end -}}
{{- end -}}

{{/* The NATS_URL env entry (a value, or a reference to a Secret). */}}
{{- define "scriptorium.natsUrlEnv" -}}
- name: NATS_URL
{{- if .Values.nats.enabled }}
  value: {{ printf "nats://%s-nats:4222" (include "scriptorium.fullname" .) | quote }}
{{- else if .Values.externalNats.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalNats.existingSecret }}
      key: {{ .Values.externalNats.existingSecretKey }}
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ include "scriptorium.fullname" . }}-nats
      key: nats-url
{{- end }}
{{- end -}}

{{/*
A Secret value that is generated once and kept across upgrades:
(dict "root" $ "name" "secret-name" "key" "password" "given" "explicit value or empty" "length" 32)
*/}}
{{- define "scriptorium.persistentSecretValue" -}}
{{- if .given -}}
{{- .given -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- $old := "" -}}
{{- if $existing -}}{{- $old = dig "data" .key "" $existing -}}{{- end -}}
{{- if $old -}}
{{- $old | b64dec -}}
{{- else -}}
{{- randAlphaNum (default 32 .length) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Probe block: (dict "root" $ "port" "http"). */}}
{{- define "scriptorium.probes" -}}
{{- /* Migrations run before the HTTP port opens: liveness starts only once /healthz has answered. */}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .root.Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  {{- toYaml .root.Values.probes.readiness | nindent 2 }}
{{- end -}}

{{/* The UI's address, as NOTES prints it. */}}
{{- define "scriptorium.publicUrl" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}

{{/* Pull secrets and placement shared by every pod of the release (apps, bundled PostgreSQL and NATS). */}}
{{- define "scriptorium.podScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
