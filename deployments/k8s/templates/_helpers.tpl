{{/* A service's resource name: <release>-<service>, e.g. umos-iot-api. Takes (dict "root" $ "name" $name). */}}
{{- define "umos.name" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "umos.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "umos.labels" -}}
{{ include "umos.selectorLabels" . }}
app.kubernetes.io/part-of: umos
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/*
A service's settings: `defaults`, each key replaced as a whole by the service's own entry. Not a deep
merge: Sprig's merges cannot let a `false` override a `true`. Takes (dict "root" $ "overrides" $entry).
*/}}
{{- define "umos.service" -}}
{{- $svc := deepCopy .root.Values.defaults }}
{{- range $key, $value := .overrides }}
{{- $_ := set $svc $key $value }}
{{- end }}
{{- toYaml $svc }}
{{- end }}

{{- define "umos.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-umos" .Release.Name) -}}
{{- end }}

{{- define "umos.configMapName" -}}
{{- printf "%s-umos-config" .Release.Name -}}
{{- end }}

{{/* HTTPS for a listener with its own TLS (probes, scrapes); takes (dict "root" $ "svc" $svc). */}}
{{- define "umos.scheme" -}}
{{- if and .svc.tlsListener .root.Values.tls.secretName }}HTTPS{{ else }}HTTP{{ end -}}
{{- end }}
