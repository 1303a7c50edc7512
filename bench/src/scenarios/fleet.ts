import { VENDORS } from "@umos/contracts";
import { MAX_IMPORT_ROWS, openDatabase, type Sql } from "@umos/store";
import type { TestStack } from "@umos/testkit";
import { created } from "../clients/rest";
import type { PhaseResult } from "../results";
import { type LatencyRecorder, latencyRecorder } from "../stats/latency";
import { startUsage, type WatchedProcess } from "../stats/process-usage";
import type { PlatformScenario } from "./platform";

/** The fleet device search is meant for: a query over 100,000 devices answers in well under a second. */
const DEVICES = 100_000;
const PAGE = 50;
/** Requests per measurement, each query taken in turn in every round; the p95 of 30 is the second slowest. */
const ROUNDS = 30;
const WARMUP_ROUNDS = 3;
/** Registered one POST at a time, beside the import: enough for a per-device time. */
const SINGLES = 500;
/** Common tags first: each device draws 1-3, weighted towards the start, so "critical" is on ~10%. */
const TAGS = ["outdoor", "mains", "eu", "indoor", "battery", "us", "solar", "pilot-line", "retrofit", "critical"];
const FIRMWARE = ["9.2.0", "9.8.1", "10.0.3", "10.1.2", "10.1.8", "10.2.0"];
const SITES = 50;
/** Device `i` is of kind `i % 6`: a third each DJI (docks and drones), Tuya plugs and generic sensors. */
const KINDS = ["dock", "plug", "sensor", "drone", "plug", "sensor"];
const STATIC_GROUP = "fleet-pilot";
const DYNAMIC_GROUP = "fleet-low-battery";
const MODEL = "fleet-tracker";
const IMPORT_GROUP = "fleet-batch";

/**
 * The example the API documents, its version condition alone over the whole fleet, then one query per
 * kind of condition and the index it leans on (migrations/010_fleet.sql).
 */
const QUERIES = [
  'vendor = dji and online and state.firmware_version < "10.1.8"',
  'state.firmware_version < "10.1.8"',
  'tag = "critical"',
  'metadata.site = "site-07"',
  `group = "${STATIC_GROUP}"`,
  `group = "${DYNAMIC_GROUP}"`,
  '"dock-0123"',
  "last_seen < 1h ago and not online",
];

/**
 * Device search and bulk provisioning (docs/fleet.md) on a fleet of 100,000 devices written straight
 * into the store (what is measured is the search, not how they got there):
 *
 * - searches: a plain first page (the reference), then each query's first page, and the page with
 *   `count=true`, ROUNDS requests each, one at a time, all queries in turn within a round;
 * - provisioning: SINGLES devices registered one POST at a time, then MAX_IMPORT_ROWS in one CSV import,
 *   with the CPU of every process over each.
 */
export const fleet: PlatformScenario = {
  id: "fleet",
  async run({ stack, processes }) {
    const db = openDatabase({ url: stack.database.url, maxConnections: 2 });
    try {
      const started = performance.now();
      await seed(stack, db.sql);
      console.error(`bench: fleet: ${DEVICES.toLocaleString("en-US")} devices seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const phases = { ...(await searches(stack, db.sql)), ...(await provisioning(stack, db.sql, processes)) };
      return { id: "fleet", title: `Fleet: search over ${DEVICES.toLocaleString("en-US")} devices (ms per request), bulk provisioning`, phases };
    } finally {
      await db.close();
    }
  },
};

/**
 * The groups through the REST API (a dynamic group's query is checked there); the devices, their
 * state and every 20th device into the static group straight into the store, in one statement, the
 * same every run (setseed). Then VACUUM ANALYZE, as autovacuum would leave them, so it does not start
 * in the middle of a measurement; it also moves the GIN indexes' pending entries into the index, which
 * a search would otherwise read one by one (44 ms instead of 0.1 ms for a rare tag, 100,000 pending).
 */
async function seed(stack: TestStack, sql: Sql): Promise<void> {
  await created(stack.api, "/api/v1/groups", { id: STATIC_GROUP, name: "Pilot line" });
  await created(stack.api, "/api/v1/groups", { id: DYNAMIC_GROUP, name: "Low battery", query: "state.drone_charge_state.capacity_percent < 20" });
  await sql.begin(async (tx) => {
    await tx`select setseed(0.5)`;
    // 30% online, seen within the last minute: the uplink's sweep takes a device offline after
    // 5 minutes of silence (presence.silenceMs), which the searches finish well within. The rest
    // were last seen any time in the last day. Ids are `<kind>-<n>`, so "dock-0123" matches 17.
    await tx`
      with made as (
        insert into devices (id, vendor, name, metadata, tags, online, last_seen_at)
        select g.kind || '-' || lpad(g.i::text, 6, '0'),
          case g.kind when 'plug' then 'tuya' when 'sensor' then 'generic' else 'dji' end,
          initcap(g.kind) || ' ' || g.i,
          jsonb_build_object('site', 'site-' || lpad(g.site::text, 2, '0'), 'floor', g.floor),
          array(select distinct t from unnest(g.picks[1:g.tags]) as t),
          g.online,
          now() - make_interval(secs => random() * case when g.online then 60 else 86400 end)
        from (
          select i, (${KINDS}::text[])[1 + i % ${KINDS.length}] as kind,
            1 + floor(random() * ${SITES})::int as site, floor(random() * 10)::int as floor,
            array[v[1 + floor(random() ^ 2 * 10)::int], v[1 + floor(random() ^ 2 * 10)::int], v[1 + floor(random() ^ 2 * 10)::int]] as picks,
            1 + floor(random() * 3)::int as tags, random() < 0.3 as online
          from generate_series(0, ${DEVICES - 1}) as i, (select ${TAGS}::text[] as v) as vocabulary
        ) as g
        returning id, vendor, last_seen_at
      ),
      members as (insert into device_group_members (group_id, device_id) select ${STATIC_GROUP}, id from made where right(id, 6)::int % 20 = 7)
      insert into device_state (device_id, property, value, reported_at)
      select made.id, p.property, p.value, made.last_seen_at
      from made cross join lateral (values
        ('firmware_version', to_jsonb((${FIRMWARE}::text[])[1 + floor(random() * ${FIRMWARE.length})::int])),
        ('temperature', to_jsonb(round((15 + random() * 30)::numeric, 1))),
        ('rssi', to_jsonb(-90 + floor(random() * 50)::int)),
        ('drone_charge_state', case when made.vendor = 'dji' then jsonb_build_object('capacity_percent', floor(random() * 101)::int, 'state', floor(random() * 2)::int) end)
      ) as p(property, value)
      where p.value is not null`;
  });
  await sql`vacuum analyze devices, device_state, device_group_members`;
}

/** One request of a search, timed ROUNDS times; `answer` is what the last answer counted. */
interface Probe {
  phase: string;
  path: string;
  counted: boolean;
  latency: LatencyRecorder;
  answer: number;
}

async function searches(stack: TestStack, sql: Sql): Promise<Record<string, PhaseResult>> {
  // The seeded devices online, before and after: the same unless the uplink's silence sweep ran.
  const online = async () =>
    (await sql<{ n: number }[]>`select count(*)::int as n from devices where online and split_part(id, '-', 1) = any(${KINDS}::text[])`)[0]!.n;
  const onlineBefore = await online();
  const probe = (phase: string, query?: string, counted = false): Probe => ({
    phase,
    path: `/api/v1/devices?limit=${PAGE}${query ? `&q=${encodeURIComponent(query)}` : ""}${counted ? "&count=true" : ""}`,
    counted,
    latency: latencyRecorder(),
    answer: 0,
  });
  const plain = probe("page, no query");
  const probes = [plain, ...QUERIES.flatMap((q) => [probe(`page, q=${q}`, q), probe(`page + count, q=${q}`, q, true)])];
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    for (const p of probes) {
      const started = performance.now();
      const res = await stack.api.get(p.path);
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`GET ${p.path}: ${res.status} ${JSON.stringify(res.body)}`);
      if (round >= 0) p.latency.record(ms);
      p.answer = p.counted ? res.body.total : res.body.items.length;
    }
  }
  const onlineAfter = await online();
  if (onlineAfter !== onlineBefore) throw new Error(`${onlineBefore - onlineAfter} devices went offline during the searches: the silence sweep ran`);
  const reference = plain.latency.summary();
  const phases: Record<string, PhaseResult> = {};
  for (const p of probes) {
    const latency = p.latency.summary();
    phases[p.phase] = {
      messages: ROUNDS,
      latency,
      // Queries are taken in turn, request by request: /proc's CPU ticks (10 ms) cannot be split between them.
      usage: {},
      counts: p.counted ? { matched: p.answer } : { "on the page": p.answer },
      figures: p === plain ? undefined : { "p50 / plain page p50": latency.p50 / reference.p50, "p95 / plain page p95": latency.p95 / reference.p95 },
    };
  }
  return phases;
}

/** Device `i` of a provisioning batch: the same fields whether imported or registered alone. */
function provisioned(prefix: string, i: number) {
  return {
    id: `${prefix}-${String(i).padStart(5, "0")}`,
    vendor: VENDORS[i % VENDORS.length]!,
    name: `Tracker ${i}`,
    tags: [TAGS[i % TAGS.length]!, TAGS[(i + 3) % TAGS.length]!],
    metadata: { site: `site-${String(1 + (i % SITES)).padStart(2, "0")}`, floor: String(i % 10) },
  };
}

async function provisioning(stack: TestStack, sql: Sql, processes: () => WatchedProcess[]): Promise<Record<string, PhaseResult>> {
  const definition = { properties: [{ identifier: "firmware_version", accessMode: "r", dataType: { type: "text", specs: { length: 32 } } }] };
  await created(stack.api, "/api/v1/thing-models", { id: MODEL, definition });
  await created(stack.api, "/api/v1/groups", { id: IMPORT_GROUP, name: "Imported batch" });

  const singles = await measured(processes, SINGLES, async () => {
    for (let i = 0; i < SINGLES; i++) await created(stack.api, "/api/v1/devices", { ...provisioned("single", i), model: { id: MODEL } });
  });
  const rows = Array.from({ length: MAX_IMPORT_ROWS }, (_, i) => provisioned("import", i));
  const csv = [
    "id,vendor,name,model,tags,groups,metadata.site,metadata.floor",
    ...rows.map((d) => [d.id, d.vendor, d.name, MODEL, d.tags.join(";"), IMPORT_GROUP, d.metadata.site, d.metadata.floor].join(",")),
  ].join("\n");
  let answer: { imported?: number; credentials?: { username: string; password: string }[] } = {};
  const imported = await measured(processes, MAX_IMPORT_ROWS, async () => {
    const res = await fetch(`${stack.platform.apiUrl}/api/v1/devices/import`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.token}`, "content-type": "text/csv" },
      body: csv,
    });
    answer = (await res.json()) as typeof answer;
    if (res.status !== 201) throw new Error(`POST /api/v1/devices/import: ${res.status} ${JSON.stringify(answer).slice(0, 500)}`);
  });

  const given = new Set(answer.credentials?.filter((c) => c.password.length > 0).map((c) => c.username));
  const [registered] = await sql<{ devices: number; credentials: number; members: number }[]>`
    select count(*)::int as devices, count(c.device_id)::int as credentials, count(m.device_id)::int as members
    from devices d
      left join device_credentials c on c.device_id = d.id
      left join device_group_members m on m.device_id = d.id and m.group_id = ${IMPORT_GROUP}
    where d.id like 'import-%'`;
  const counts = { "devices registered": registered!.devices, "with credentials": registered!.credentials, "group members": registered!.members };
  const complete = [...Object.values(counts), answer.imported, given.size].every((n) => n === MAX_IMPORT_ROWS) && rows.every((d) => given.has(d.id));
  if (!complete)
    throw new Error(
      `import: ${JSON.stringify(counts)}, ${answer.imported} imported and ${given.size} credentials answered; ${MAX_IMPORT_ROWS} of each expected`,
    );

  const perDevice = (p: PhaseResult) => 1000 / p.throughput!;
  const apiCpuMs = (p: PhaseResult) => p.usage.api!.cpuSecondsPer1000;
  imported.counts = { ...counts, "credentials answered": given.size };
  imported.figures = {
    "ms per device": perDevice(imported),
    "ms per device, import / one POST each": perDevice(imported) / perDevice(singles),
    "iot-api CPU ms per device": apiCpuMs(imported),
    "iot-api CPU per device, import / one POST each": apiCpuMs(imported) / apiCpuMs(singles),
  };
  singles.figures = { "ms per device": perDevice(singles), "iot-api CPU ms per device": apiCpuMs(singles) };
  return { [`${SINGLES} x POST /devices`]: singles, [`POST /devices/import, ${MAX_IMPORT_ROWS.toLocaleString("en-US")} CSV rows`]: imported };
}

/** Runs `work` once, timed, with every process's CPU over it; `throughput` is devices a second. */
async function measured(processes: () => WatchedProcess[], devices: number, work: () => Promise<void>): Promise<PhaseResult> {
  const usage = startUsage(processes());
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return { throughput: devices / seconds, messages: devices, usage: usage.stop(devices) };
}
