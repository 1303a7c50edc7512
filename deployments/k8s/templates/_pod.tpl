{{/* The pod of one service; takes (dict "root" $ "name" $name "svc" $svc). */}}
{{- define "umos.podTemplate" -}}
{{- $root := .root }}
{{- $svc := .svc }}
{{- $scheme := include "umos.scheme" . }}
metadata:
  labels:
    {{- include "umos.labels" . | nindent 4 }}
  annotations:
    # A changed configuration or credential rolls the pods.
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- with $svc.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    # The image's user `bun`.
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    seccompProfile:
      type: RuntimeDefault
  # Longer than shutdownTimeoutMs (10 s): on SIGTERM a service drains what it has in flight.
  terminationGracePeriodSeconds: 30
  containers:
    - name: {{ .name }}
      image: "{{ $root.Values.image.repository }}/{{ .name }}:{{ $root.Values.image.tag | default $root.Chart.AppVersion }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: ["--config", "/etc/umos/config.yaml"]
      ports:
        - name: http
          containerPort: {{ $svc.port }}
      env:
        # The pod's name is the replica's `instance`: an iot-ws replica's own queue iot-ws-queue.<pod>,
        # a gateway's MQTT client ids (docs/design.md §2).
        - name: UMOS_INSTANCE
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: UMOS_MQTT__URL
          value: {{ $root.Values.mqtt.url | quote }}
        - name: UMOS_MQTT__USERNAME
          value: {{ $root.Values.mqtt.username | quote }}
        {{- with $root.Values.influx.url }}
        - name: UMOS_INFLUX__URL
          value: {{ . | quote }}
        {{- end }}
        {{- range $key, $value := merge (deepCopy $svc.env) $root.Values.env }}
        - name: {{ $key }}
          value: {{ $value | quote }}
        {{- end }}
      envFrom:
        - secretRef:
            name: {{ include "umos.secretName" $root }}
      # A first start applies the database migrations before /health answers.
      startupProbe:
        httpGet: { path: /health, port: http, scheme: {{ $scheme }} }
        periodSeconds: 2
        failureThreshold: 60
      livenessProbe:
        httpGet: { path: /health, port: http, scheme: {{ $scheme }} }
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      # 503 while a broker or the database is unreachable: out of the Service, not restarted.
      readinessProbe:
        httpGet: { path: /ready, port: http, scheme: {{ $scheme }} }
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 2
      resources:
        {{- toYaml $svc.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: [ALL]
      volumeMounts:
        - name: config
          mountPath: /etc/umos/config.yaml
          subPath: config.yaml
          readOnly: true
        {{- if eq $scheme "HTTPS" }}
        - name: tls
          mountPath: /etc/umos/tls
          readOnly: true
        {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- if eq .name "iot-api" }}
        - name: firmware
          mountPath: /var/lib/umos/firmware
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "umos.configMapName" $root }}
    {{- if eq $scheme "HTTPS" }}
    - name: tls
      secret:
        secretName: {{ $root.Values.tls.secretName }}
    {{- end }}
    - name: tmp
      emptyDir: {}
    {{- if eq .name "iot-api" }}
    # Firmware packages: a claim that every iot-api replica mounts (ReadWriteMany with more than one),
    # or a pod's own directory that is lost with the pod.
    - name: firmware
      {{- if $root.Values.firmware.existingClaim }}
      persistentVolumeClaim:
        claimName: {{ $root.Values.firmware.existingClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
  {{- with $svc.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $svc.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $svc.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
