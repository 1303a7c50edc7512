import { Elysia, t } from "elysia";
import { needs } from "../access";
import { RETENTION_KINDS, type RetentionPolicy, type RetentionRepository, type Sql } from "@umos/store";
import { listPartitions, POINTS_TABLE } from "@umos/timeseries";
import { ErrorBody } from "../schemas";

/** Removals GET /retention lists, newest first. */
const RECENT_REMOVALS = 100;

const Days = t.Nullable(t.Integer({ minimum: 1, maximum: 36_500, description: "days kept; null: for ever" }));

const Settings = t.Object({
  settings: t.Array(
    t.Object({
      kind: t.String(),
      days: t.Nullable(t.Integer()),
      source: t.String({ description: "config: the installation's default; api: changed through PUT /retention" }),
      updatedAt: t.Nullable(t.Date()),
      updatedBy: t.Nullable(t.String()),
    }),
  ),
  removals: t.Array(
    t.Object({
      id: t.Integer(),
      at: t.Date(),
      kind: t.String(),
      reason: t.String({ description: "expired, or disk_guard: the database passed retention.maxDatabaseBytes" }),
      removed: t.String({ description: "a partition's name, or the instant rows were removed before" }),
      rows: t.Nullable(t.Integer()),
      bytes: t.Nullable(t.Integer()),
    }),
  ),
  database: t.Object({
    bytes: t.Integer(),
    maxBytes: t.Integer({ description: "the disk guard's limit; 0: off" }),
    telemetryPartitions: t.Integer({ description: "days of raw telemetry held in PostgreSQL" }),
    oldestTelemetry: t.Nullable(t.Date()),
  }),
});

export interface RetentionRouteParts {
  repo: RetentionRepository;
  sql: Sql;
  defaults: RetentionPolicy;
  maxDatabaseBytes: number;
  /** Who made the request, as its token names them. */
  callerOf(request: Request): string;
}

export function retentionRoutes({ repo, sql, defaults, maxDatabaseBytes, callerOf }: RetentionRouteParts) {
  const describe = async () => {
    const [settings, removals, [size], partitions] = await Promise.all([
      repo.settings(defaults),
      repo.removals(RECENT_REMOVALS),
      sql<{ bytes: bigint }[]>`select pg_database_size(current_database()) as bytes`,
      listPartitions(sql, POINTS_TABLE),
    ]);
    return {
      settings,
      removals,
      database: {
        bytes: Number(size!.bytes),
        maxBytes: maxDatabaseBytes,
        telemetryPartitions: partitions.length,
        oldestTelemetry: partitions[0] ? new Date(partitions[0].fromMs) : null,
      },
    };
  };
  return new Elysia({ prefix: "/retention", tags: ["retention"] })
    .get("/", describe, {
      response: { 200: Settings },
      detail: needs("admin", { summary: "How long each kind of data is kept, what retention and the disk guard removed lately, and the database's size" }),
    })
    .put(
      "/",
      async ({ body, request }) => {
        await repo.set(body as Partial<RetentionPolicy>, callerOf(request));
        return describe();
      },
      {
        body: t.Partial(t.Object(Object.fromEntries(RETENTION_KINDS.map((kind) => [kind, Days])) as Record<(typeof RETENTION_KINDS)[number], typeof Days>), {
          additionalProperties: false,
          minProperties: 1,
        }),
        response: { 200: Settings, 400: ErrorBody },
        detail: needs("admin", {
          summary: "Changes how long kinds of data are kept (days, or null for ever); the next retention run applies it (retention.intervalMs)",
        }),
      },
    );
}
