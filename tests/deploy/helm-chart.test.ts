import { describe, expect, test } from "bun:test";
import { readdir, readlink, realpath } from "node:fs/promises";
import { resolve } from "node:path";
import { configKeyOfEnv, defaultPort, read, readYaml, root, SERVICES } from "./repo";

// No Helm binary runs here: the chart is checked by what its templates ask of values.yaml, and what
// they give the services.
const chart = "deployments/k8s";
type Values = Record<string, unknown> & { defaults: Record<string, unknown>; services: Record<string, Record<string, unknown>> };
const values = await readYaml<Values>(`${chart}/values.yaml`);
const templates = await Promise.all(
  (await readdir(resolve(root, chart, "templates"))).map(async (f) => ({ file: f, text: await read(`${chart}/templates/${f}`) })),
);

const has = (tree: unknown, path: string[]): boolean =>
  path.length === 0 || (typeof tree === "object" && tree !== null && path[0]! in tree && has((tree as Record<string, unknown>)[path[0]!], path.slice(1)));
/** Every `<prefix>a.b.c` a template names, as paths. */
const references = (pattern: RegExp) => templates.flatMap(({ file, text }) => [...text.matchAll(pattern)].map((m) => ({ file, path: m[1]!.split(".") })));
/** A service's settings as the chart's "umos.service" makes them: each key of `defaults`, replaced whole by the service's own. */
const settings = (service: string) => ({ ...values.defaults, ...values.services[service] });

describe("Helm chart (deployments/k8s)", () => {
  test("Chart.yaml is a v2 chart whose appVersion, the default image tag, is the services' version", async () => {
    const meta = await readYaml<{ apiVersion: string; name: string; appVersion: string }>(`${chart}/Chart.yaml`);
    expect(meta.apiVersion).toBe("v2");
    for (const service of SERVICES) {
      const { version } = JSON.parse(await read(`apps/${service}/package.json`)) as { version: string };
      expect(meta.appVersion).toBe(version);
    }
  });

  test("every .Values path a template uses exists in values.yaml", () => {
    const used = references(/\.Values\.([A-Za-z0-9_.]+)/g);
    expect(used.length).toBeGreaterThan(20);
    for (const { file, path } of used) expect(`${file}: .Values.${path.join(".")} ${has(values, path) ? "exists" : "is missing"}`).toEndWith("exists");
  });

  test("every per-service setting a template uses exists for each of the six services", () => {
    expect(Object.keys(values.services).sort()).toEqual([...SERVICES].sort());
    const used = references(/[$.]svc\.([A-Za-z0-9_.]+)/g);
    expect(used.length).toBeGreaterThan(10);
    for (const service of SERVICES) {
      for (const { file, path } of used)
        expect(`${file}: ${service} ${path.join(".")} ${has(settings(service), path) ? "exists" : "is missing"}`).toEndWith("exists");
    }
  });

  test("each service listens, and is probed, on its configured port; only the gateway is a StatefulSet", () => {
    for (const service of SERVICES) {
      expect(settings(service).port).toBe(defaultPort(service));
      expect(settings(service).workload).toBe(service === "iot-gateway" ? "StatefulSet" : "Deployment");
    }
    const pod = templates.find((t) => t.file === "_pod.tpl")!.text;
    expect(pod).toContain("path: /health");
    expect(pod).toContain("path: /ready");
  });

  test("the services get only UMOS_* variables that name real config keys, the instance from the pod's name", () => {
    const names = templates.flatMap(({ text }) => [...text.matchAll(/\b(UMOS_[A-Z0-9_]+)\b/g)].map((m) => m[1]!));
    expect(names).toEqual(expect.arrayContaining(["UMOS_INSTANCE", "UMOS_AUTH__SECRET", "UMOS_BUS__URL", "UMOS_POSTGRES__URL", "UMOS_MQTT__PASSWORD"]));
    for (const name of names) expect(`${name} -> ${configKeyOfEnv(name)}`).not.toEndWith("undefined");
    expect(templates.find((t) => t.file === "_pod.tpl")!.text).toMatch(/name: UMOS_INSTANCE\s+valueFrom:\s+fieldRef:\s+fieldPath: metadata\.name/);
  });

  test("the ConfigMap is made from configs/config.prod.yaml itself, not a copy", async () => {
    const file = resolve(root, chart, "files/config.prod.yaml");
    expect(await readlink(file)).toBe("../../../configs/config.prod.yaml");
    expect(await realpath(file)).toBe(resolve(root, "configs/config.prod.yaml"));
    expect(templates.find((t) => t.file === "configmap.yaml")!.text).toContain('.Files.Get "files/config.prod.yaml"');
  });

  test("every template block is closed", () => {
    for (const { file, text } of templates) {
      const opened = text.match(/\{\{-?\s*(if|range|with|define)\b/g)?.length ?? 0;
      const closed = text.match(/\{\{-?\s*end\s*-?\}\}/g)?.length ?? 0;
      expect(`${file}: ${opened} opened, ${closed} closed`).toBe(`${file}: ${opened} opened, ${opened} closed`);
    }
  });
});
