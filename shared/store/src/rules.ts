import { ConflictError, NotFoundError } from "@umos/core";
import { queueAlarmEvent } from "./alarm-outbox";
import { type Alarm, alarmColumns } from "./alarm-row";
import { json, type Sql } from "./database";

export interface Rule {
  id: string;
  version: number;
  name: string;
  enabled: boolean;
  modelId: string | null;
  deviceIds: string[];
  definition: unknown;
  createdAt: Date;
  createdBy: string | null;
}

export interface RuleInput {
  name: string;
  enabled?: boolean;
  modelId?: string | null;
  deviceIds?: string[];
  definition: unknown;
  createdBy: string | null;
}

export interface RuleStatus {
  /** Devices the rule holds state for, when it last evaluated one, and the last error of any. */
  devices: number;
  evaluatedAt: Date | null;
  lastError: string | null;
  activeAlarms: number;
}

const ruleColumns = (sql: Sql) => sql`
  id, version, name, enabled, model_id as "modelId", device_ids as "deviceIds", definition, created_at as "createdAt", created_by as "createdBy"`;

export interface RuleRepository {
  create(id: string, input: RuleInput): Promise<Rule>;
  newVersion(id: string, input: RuleInput): Promise<Rule>;
  get(id: string, version?: number): Promise<Rule>;
  versions(id: string): Promise<Rule[]>;
  /** The latest version of every rule, with how it last went. */
  listLatest(): Promise<(Rule & { status: RuleStatus })[]>;
  /**
   * Every version and its state; its active alarms are cleared, their events queued in the same
   * transaction for the caller to flush (the alarms stay, as the record). `by`: who removed it.
   */
  remove(id: string, by: string | null): Promise<void>;
  /** The latest enabled version of every rule that applies to a device of this model (or to this device by name). */
  forDevice(deviceId: string, modelId: string | null): Promise<Rule[]>;
}

/** Rules as data, versioned like thing models: a change is a new version (docs/alarms.md). */
export function ruleRepository(sql: Sql): RuleRepository {
  const insert = async (id: string, version: number, input: RuleInput) => {
    const [row] = await sql<Rule[]>`
      insert into alarm_rules (id, version, name, enabled, model_id, device_ids, definition, created_by)
      values (${id}, ${version}, ${input.name}, ${input.enabled ?? true}, ${input.modelId ?? null}, ${input.deviceIds ?? []},
        ${json(sql, input.definition)}, ${input.createdBy})
      on conflict do nothing
      returning ${ruleColumns(sql)}`;
    return row;
  };
  return {
    async create(id, input) {
      const row = await insert(id, 1, input);
      if (!row) throw new ConflictError(`rule '${id}' already exists; PUT /api/v1/rules/${id} makes a new version`);
      return row;
    },

    async newVersion(id, input) {
      const [latest] = await sql<{ version: number }[]>`select max(version) as version from alarm_rules where id = ${id}`;
      if (!latest?.version) throw new NotFoundError(`rule '${id}' does not exist`);
      const row = await insert(id, latest.version + 1, input);
      if (!row) throw new ConflictError(`rule '${id}' was changed at the same time; try again`);
      return row;
    },

    async get(id, version) {
      const [row] = await sql<Rule[]>`
        select ${ruleColumns(sql)} from alarm_rules where id = ${id}
          ${version === undefined ? sql`` : sql`and version = ${version}`}
        order by version desc limit 1`;
      if (!row) throw new NotFoundError(version === undefined ? `rule '${id}' does not exist` : `rule '${id}' has no version ${version}`);
      return row;
    },

    async versions(id) {
      const rows = await sql<Rule[]>`select ${ruleColumns(sql)} from alarm_rules where id = ${id} order by version desc`;
      if (!rows.length) throw new NotFoundError(`rule '${id}' does not exist`);
      return rows;
    },

    async listLatest() {
      return sql<(Rule & { status: RuleStatus })[]>`
        select ${ruleColumns(sql)}, json_build_object(
          'devices', (select count(*) from alarm_rule_state s where s.rule_id = r.id),
          'evaluatedAt', (select max(evaluated_at) from alarm_rule_state s where s.rule_id = r.id),
          'lastError', (select last_error from alarm_rule_state s where s.rule_id = r.id and last_error is not null
                        order by evaluated_at desc nulls last limit 1),
          'activeAlarms', (select count(*) from alarms a where a.source = 'rule:' || r.id and a.status = 'active')
        ) as status
        from (select distinct on (id) * from alarm_rules order by id, version desc) r
        order by id`;
    },

    async remove(id, by) {
      await sql.begin(async (tx) => {
        const removed = await tx`delete from alarm_rules where id = ${id}`;
        if (removed.count === 0) throw new NotFoundError(`rule '${id}' does not exist`);
        // Locked in iot-rules' order (states by rule and device, then alarms by device and source), so a
        // batch evaluating this rule at the same time waits for the removal instead of deadlocking with it.
        await tx`select 1 from alarm_rule_state where rule_id = ${id} order by rule_id, device_id for update`;
        await tx`select 1 from alarms where source = ${`rule:${id}`} and status = 'active' order by device_id, source for update`;
        await tx`delete from alarm_rule_state where rule_id = ${id}`;
        const cleared = await tx<Alarm[]>`
          update alarms set status = 'cleared', ended_at = now(), cleared_by = ${`rule ${id} deleted`}, updated_at = now()
          where source = ${`rule:${id}`} and status = 'active' returning ${alarmColumns(tx as unknown as Sql)}`;
        for (const alarm of cleared) await queueAlarmEvent(tx as unknown as Sql, alarm, "cleared", by);
      });
    },

    async forDevice(deviceId, modelId) {
      return sql<Rule[]>`
        select * from (select distinct on (id) ${ruleColumns(sql)} from alarm_rules order by id, version desc) latest
        where enabled and ("modelId" = ${modelId} or ${deviceId} = any ("deviceIds"))`;
    },
  };
}
