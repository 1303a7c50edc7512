import { Elysia, t } from "elysia";
import { needs } from "../access";
import { hashSecret, newDeviceSecret } from "@umos/auth";
import { KINDS } from "@umos/contracts";
import { checkImport, importDevices, importRefused, type CredentialRepository, type DeviceRepository, type GroupRepository, type Sql } from "@umos/store";
import { credentialsCsv, parseImport } from "../device-import";
import type { TimeSeries } from "@umos/timeseries";
import type { createCommandIntake } from "../command-intake";
import { API_PREFIX, Accepted, accepted, Device, DeviceId, ErrorBody, IdempotencyHeaders, Limit, Metadata, ModelRef, Tags, Vendor } from "../schemas";
import { DeviceQuery } from "./groups";

const Reported = t.Record(t.String(), t.Object({ value: t.Unknown(), reportedAt: t.Date() }));
const Desired = t.Record(t.String(), t.Object({ value: t.Unknown(), setAt: t.Date(), commandId: t.Nullable(t.String()) }));

const Credentials = t.Object({
  username: t.String({ description: "the device id; also its MQTT client id" }),
  password: t.String({ description: "shown once: only its hash is kept" }),
});

/** Live MQTT sessions iot-api can close: the embedded broker's in standalone mode. */
export interface DeviceSessions {
  disconnect(clientId: string): void;
}

export function deviceRoutes(
  sql: Sql,
  devices: DeviceRepository,
  groups: GroupRepository,
  credentials: CredentialRepository,
  submit: ReturnType<typeof createCommandIntake>,
  sessions?: DeviceSessions,
  timeseries?: TimeSeries | null,
) {
  /** A fresh MQTT password: stored as a hash, returned this once; a session logged in with the old one is closed. */
  const issueCredentials = async (deviceId: string) => {
    const password = newDeviceSecret();
    await credentials.setSecretHash(deviceId, await hashSecret(password));
    sessions?.disconnect(deviceId);
    return { username: deviceId, password };
  };

  return new Elysia({ prefix: "/devices", tags: ["devices"] })
    .post(
      "/",
      async ({ body, set }) => {
        const device = await devices.create(body);
        set.status = 201;
        set.headers.location = `${API_PREFIX}/devices/${encodeURIComponent(device.id)}`;
        return { ...device, credentials: await issueCredentials(device.id) };
      },
      {
        body: t.Object(
          {
            id: DeviceId,
            vendor: Vendor,
            name: t.Optional(t.String({ maxLength: 256 })),
            metadata: t.Optional(Metadata),
            tags: t.Optional(Tags),
            model: t.Optional(ModelRef),
          },
          { additionalProperties: false },
        ),
        response: { 201: t.Composite([Device, t.Object({ credentials: Credentials })]), 400: ErrorBody, 409: ErrorBody },
        detail: needs("admin", { summary: "Register a device, optionally on a thing model; answers with its MQTT credentials, shown this once" }),
      },
    )
    .post(
      "/import",
      async ({ body, query, request, set, status }) => {
        const parsed = parseImport(request.headers.get("content-type") ?? "", body);
        const problems = [...parsed.problems, ...(await checkImport(sql, parsed.rows))].sort((a, b) => a.line - b.line);
        const rows = parsed.rows.length + new Set(parsed.problems.map((p) => p.line)).size;
        if (query.dryRun) return status(200, { rows, valid: problems.length === 0, errors: problems });
        if (problems.length > 0) throw importRefused(problems, rows);
        const issued = parsed.rows.map((row) => ({ username: row.id, password: newDeviceSecret() }));
        await importDevices(sql, parsed.rows, await Promise.all(issued.map((c) => hashSecret(c.password))));
        set.headers["cache-control"] = "no-store";
        if (!(request.headers.get("accept") ?? "").includes("text/csv")) return status(201, { imported: issued.length, credentials: issued });
        set.headers["content-type"] = "text/csv; charset=utf-8";
        set.headers["content-disposition"] = `attachment; filename="umos-credentials-${new Date().toISOString().slice(0, 19).replaceAll(":", "")}.csv"`;
        return status(201, credentialsCsv(issued));
      },
      {
        parse: "text",
        body: t.String({
          description: "text/csv with a header line (id,vendor,name,model,tags,groups,metadata,metadata.<key>), or application/json: an array of devices",
        }),
        query: t.Object({ dryRun: t.Optional(t.Boolean({ description: "true: check every row and report, import nothing" })) }),
        response: {
          200: t.Object({
            rows: t.Integer(),
            valid: t.Boolean(),
            errors: t.Array(t.Object({ line: t.Integer(), id: t.Nullable(t.String()), reason: t.String() })),
          }),
          201: t.Union([
            t.Object({ imported: t.Integer(), credentials: t.Array(Credentials) }),
            t.String({ description: "with Accept: text/csv, the credentials as a CSV download: username,password" }),
          ]),
          400: ErrorBody,
          409: ErrorBody,
        },
        detail: needs("admin", {
          summary:
            "Register up to 10,000 devices from CSV or JSON in one transaction, all or nothing; dryRun reports every bad row; answers with the one-time MQTT credentials (Accept: text/csv for a download)",
        }),
      },
    )
    .post(
      "/:id/credentials",
      async ({ params }) => {
        await devices.get(params.id);
        return issueCredentials(params.id);
      },
      {
        params: t.Object({ id: t.String() }),
        response: { 200: Credentials, 404: ErrorBody },
        detail: needs("admin", {
          summary: "Rotate a device's MQTT password: the old one stops working at once; a live session is closed where UMOS runs the broker (standalone)",
        }),
      },
    )
    .get(
      "/",
      async ({ query }) => {
        const filters = { vendor: query.vendor, online: query.online, query: query.q };
        const [page, total] = await Promise.all([
          devices.list({ ...filters, limit: query.limit ?? 50, after: query.after }),
          query.count ? devices.count(filters) : undefined,
        ]);
        return total === undefined ? page : { ...page, total };
      },
      {
        query: t.Object({
          limit: t.Optional(Limit),
          after: t.Optional(t.String({ maxLength: 128 })),
          vendor: t.Optional(Vendor),
          online: t.Optional(t.Boolean()),
          q: t.Optional(DeviceQuery),
          count: t.Optional(t.Boolean({ description: "true: also count every device the filters match" })),
        }),
        response: {
          200: t.Object({ items: t.Array(Device), nextCursor: t.Nullable(t.String()), total: t.Optional(t.Integer()) }),
          400: ErrorBody,
        },
        detail: needs("viewer", { summary: "List or search devices (q: the device query language), paged by id (pass nextCursor as after)" }),
      },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const [device, state, desired, memberOf] = await Promise.all([
          devices.get(params.id),
          devices.state(params.id),
          devices.desired(params.id),
          groups.groupsOf(params.id),
        ]);
        return { ...device, state, desired, delta: delta(state, desired), groups: memberOf };
      },
      {
        params: t.Object({ id: t.String() }),
        response: {
          200: t.Composite([
            Device,
            t.Object({
              state: Reported,
              desired: Desired,
              delta: t.Record(t.String(), t.Object({ desired: t.Unknown(), reported: t.Unknown() }), {
                description: "properties whose desired value the device has not reported yet",
              }),
              groups: t.Array(t.String(), { description: "the static groups that list it (dynamic groups are queries: ask them)" }),
            }),
          ]),
          404: ErrorBody,
        },
        detail: needs("viewer", { summary: "A device with its presence, reported state, desired state and the difference" }),
      },
    )
    .patch(
      "/:id",
      async ({ params, body }) => {
        const before = body.parentId === undefined ? undefined : (await devices.get(params.id)).parentId;
        const updated = await devices.update(params.id, body);
        // The old gateway's session may hold answers that let it speak for this device: it logs in afresh.
        if (before && before !== updated.parentId) sessions?.disconnect(before);
        return updated;
      },
      {
        params: t.Object({ id: t.String() }),
        body: t.Object(
          {
            name: t.Optional(t.String({ maxLength: 256 })),
            metadata: t.Optional(Metadata),
            tags: t.Optional(Tags),
            model: t.Optional(t.Nullable(ModelRef)),
            parentId: t.Optional(
              t.Nullable(
                t.String({
                  pattern: DeviceId.pattern,
                  description: "the gateway (same vendor) this device speaks through; null: on its own. Gateways' own frames never move a device.",
                }),
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Device, 400: ErrorBody, 404: ErrorBody },
        detail: needs("admin", {
          summary: "Rename a device, replace its metadata or tags, move it to another thing model version (null detaches it) or under a gateway",
        }),
      },
    )
    .patch(
      "/:id/properties",
      async ({ params, body, headers, set }) => {
        const result = await submit(params.id, { kind: KINDS.propertySet, service: null, params: body, idempotencyKey: headers["idempotency-key"] });
        return accepted(set, result);
      },
      {
        params: t.Object({ id: t.String() }),
        headers: IdempotencyHeaders,
        body: t.Record(t.String(), t.Unknown(), { minProperties: 1, description: "writable (rw) properties and their new values" }),
        response: { 202: Accepted, 400: ErrorBody, 404: ErrorBody },
        detail: needs("operator", { summary: "Set writable properties: checked against the thing model, sent as a property set and tracked like a command" }),
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await devices.get(params.id);
        // Its points first: with the time series down the answer is 503 and the device is still there to delete again.
        await timeseries?.deleteDevice(params.id);
        await devices.remove(params.id);
        sessions?.disconnect(params.id);
        set.status = 204;
      },
      { params: t.Object({ id: t.String() }), detail: needs("admin", { summary: "Remove a device with its state, messages, commands and telemetry points" }) },
    );
}

/** Desired values the device has not reported back (compared as JSON). */
function delta(reported: Record<string, { value: unknown }>, desired: Record<string, { value: unknown }>) {
  const out: Record<string, { desired: unknown; reported: unknown }> = {};
  for (const [property, want] of Object.entries(desired)) {
    const have = reported[property]?.value;
    if (JSON.stringify(have) !== JSON.stringify(want.value)) out[property] = { desired: want.value, reported: have ?? null };
  }
  return out;
}
