{{/* Names and labels. */}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.fullname" -}}
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

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret holding the DSN and the S3 keys. */}}
{{- define "berth.secretName" -}}
{{- default (include "berth.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* "true" when the state lives outside the pods (S3 and PostgreSQL). */}}
{{- define "berth.shared" -}}
{{- if and (eq .Values.storage.driver "s3") (eq .Values.metadata.driver "postgres") }}true{{ end }}
{{- end }}

{{/* "true" when a store keeps files in /var/lib/berth (filesystem or SQLite). */}}
{{- define "berth.local" -}}
{{- if or (eq .Values.storage.driver "filesystem") (eq .Values.metadata.driver "sqlite") }}true{{ end }}
{{- end }}

{{/* The PersistentVolumeClaim for /var/lib/berth, if any. */}}
{{- define "berth.claimName" -}}
{{- if and (include "berth.local" .) .Values.persistence.enabled }}
{{- default (printf "%s-data" (include "berth.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}
{{- end }}

{{/* Refuse values that cannot work, with a message that says what to do. */}}
{{- define "berth.validate" -}}
{{- $s := .Values.storage.driver }}
{{- $m := .Values.metadata.driver }}
{{- if not (has $s (list "filesystem" "s3")) }}
{{- fail (printf "berth: storage.driver is %q; use filesystem or s3" $s) }}
{{- end }}
{{- if not (has $m (list "sqlite" "postgres")) }}
{{- fail (printf "berth: metadata.driver is %q; use sqlite or postgres" $m) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "berth.shared" .)) }}
{{- fail (printf "berth: replicaCount is %d, but storage.driver=%s and metadata.driver=%s keep their files on one pod's volume, which other pods cannot share. Set storage.driver=s3 and metadata.driver=postgres to run more than one replica (move existing data with berth relocate; see deploy/README.md), or set replicaCount=1." (int .Values.replicaCount) $s $m) }}
{{- end }}
{{- if and (eq $s "s3") (not .Values.storage.s3.bucket) }}
{{- fail "berth: storage.driver is s3 but storage.s3.bucket is empty; name an existing bucket" }}
{{- end }}
{{- if and (eq $m "postgres") (not .Values.metadata.postgres.dsn) (not .Values.existingSecret) }}
{{- fail "berth: metadata.driver is postgres but neither metadata.postgres.dsn nor existingSecret (with key postgres-dsn) is set" }}
{{- end }}
{{- end }}

{{/* berth's config.yaml: the stores from .Values.storage and .Values.metadata,
     then .Values.config merged over it. Secrets come from the environment. */}}
{{- define "berth.config" -}}
{{- $storage := dict "driver" .Values.storage.driver "path" "/var/lib/berth" }}
{{- if eq .Values.storage.driver "s3" }}
{{- $s3 := .Values.storage.s3 }}
{{- $c := dict "region" $s3.region "bucket" $s3.bucket "path_style" $s3.pathStyle "insecure" $s3.insecure "redirect" $s3.redirect }}
{{- with $s3.endpoint }}{{ $_ := set $c "endpoint" . }}{{ end }}
{{- with $s3.prefix }}{{ $_ := set $c "prefix" . }}{{ end }}
{{- $_ := set $storage "s3" $c }}
{{- end }}
{{- $metadata := dict "driver" .Values.metadata.driver }}
{{- if eq .Values.metadata.driver "postgres" }}
{{- $_ := set $metadata "postgres" (dict "max_conns" (int .Values.metadata.postgres.maxConns)) }}
{{- end }}
{{- $cfg := dict "version" 1 "http" (dict "addr" "0.0.0.0:5000") "storage" $storage "metadata" $metadata }}
{{- $cfg = mergeOverwrite $cfg (deepCopy (default (dict) .Values.config)) }}
{{- toYaml $cfg }}
{{- end }}
