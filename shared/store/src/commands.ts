import { type CommandCall, type CommandStatus, KINDS } from "@umos/contracts";
import { ConflictError, NotFoundError } from "@umos/core";
import { json, type Sql } from "./database";

export interface Command extends CommandCall {
  status: CommandStatus;
  output: unknown;
  reason: string | null;
  timeoutMs: number;
  expiresAt: Date | null;
  sentAt: Date | null;
  deadlineAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The creating request's W3C traceparent, when it was traced. */
  traceparent: string | null;
}

/** What sending a command needs of its device. */
export interface CommandTarget {
  parentId: string | null;
  modelId: string | null;
  modelVersion: number | null;
}

export interface Transition {
  status: CommandStatus;
  reason: string | null;
  at: Date;
}

export type NewCommand = Pick<Command, "id" | "deviceId" | "vendor" | "kind" | "service" | "params" | "timeoutMs"> & {
  ttlMs: number;
  traceparent?: string;
  idempotencyKey?: string;
  /** The job this command is one device's attempt of (docs/fleet.md). */
  jobId?: string;
};

const columns = (sql: Sql, table = sql`commands`) => sql`
  ${table}.id, ${table}.device_id as "deviceId", ${table}.vendor, ${table}.kind, ${table}.service, ${table}.params,
  ${table}.status, ${table}.output, ${table}.reason, ${table}.timeout_ms as "timeoutMs", ${table}.expires_at as "expiresAt",
  ${table}.sent_at as "sentAt", ${table}.deadline_at as "deadlineAt", ${table}.created_at as "createdAt", ${table}.updated_at as "updatedAt",
  ${table}.traceparent`;

/** Commands and their transitions: the state iot-downlink owns (docs/design.md §4). */
export interface CommandRepository {
  /**
   * Stores a queued command (a property set's values as the device's desired state); with an
   * idempotency key already used for this device, returns that command instead.
   */
  create(command: NewCommand): Promise<{ command: Command; replayed: boolean }>;
  /**
   * Stores queued commands in one statement, so one round trip and no transaction around it: each
   * command, its first transition and a property set's values as desired state are stored together
   * or not at all. One whose idempotency key its device already used is left out of the answer.
   */
  createMany(commands: NewCommand[]): Promise<Command[]>;
  get(id: string): Promise<Command>;
  /** The command and every transition it made, read together: the history always ends at the status. */
  withHistory(id: string): Promise<Command & { history: Transition[] }>;
  /** Newest first; `before` is the last id of the previous page. */
  listForDevice(
    deviceId: string,
    options: { limit: number; status?: CommandStatus; before?: string },
  ): Promise<{ items: Command[]; nextCursor: string | null }>;
  /** Moves a command to `status` only from one of `from`, recording the transition. */
  transition(id: string, from: CommandStatus[], status: CommandStatus, detail?: { output?: unknown; reason?: string }): Promise<Command | undefined>;
  /** A device's answer: counts only from the command's device or the gateway it speaks through. */
  answer(
    id: string,
    answeredBy: string,
    from: CommandStatus[],
    status: CommandStatus,
    detail: { output?: unknown; reason?: string },
  ): Promise<Command | undefined>;
  /** Runs `send` for a queued command of an online device while holding its row, then marks it sent. */
  sendQueued(id: string, send: (command: Command, device: CommandTarget) => Promise<void>): Promise<Command | undefined>;
  /** Sent commands whose device did not answer in time, moved to timeout. */
  timeoutDue(): Promise<Command[]>;
  /** Queued commands whose TTL passed before they could be sent, moved to expired. */
  expireDue(): Promise<Command[]>;
  queuedForOnlineDevices(limit: number, graceMs?: number): Promise<string[]>;
}

export function commandRepository(sql: Sql): CommandRepository {
  /**
   * Moves commands to `status` only from one of `from`, recording the transition; one statement, so
   * two services racing for one command (a reply and a timeout, say) cannot both win.
   */
  function transitionQuery(
    where: ReturnType<Sql>,
    from: CommandStatus[],
    status: CommandStatus,
    detail: { output?: unknown; reason?: string; sentNow?: boolean } = {},
  ) {
    return sql`
      with moved as (
        update commands set status = ${status}, updated_at = now(),
          output = coalesce(${detail.output === undefined ? null : json(sql, detail.output)}::jsonb, output),
          reason = coalesce(${detail.reason ?? null}, reason),
          sent_at = case when ${detail.sentNow ?? false} then now() else sent_at end,
          deadline_at = case when ${detail.sentNow ?? false} then now() + make_interval(secs => timeout_ms / 1000.0) else deadline_at end
        where ${where} and status = any(${from})
        returning *
      ), history as (
        insert into command_transitions (command_id, status, reason) select id, status, ${detail.reason ?? null} from moved
      )
      select ${columns(sql, sql`moved`)} from moved`;
  }

  const repository: CommandRepository = {
    /** Stores a queued command; with an idempotency key already used for this device, returns that command instead. */
    async create(command: NewCommand): Promise<{ command: Command; replayed: boolean }> {
      const [created] = await repository.createMany([command]);
      if (created) return { command: created, replayed: false };
      const [existing] = await sql<Command[]>`
        select ${columns(sql)} from commands where device_id = ${command.deviceId} and idempotency_key = ${command.idempotencyKey!}`;
      if (!existing) throw new ConflictError(`the command of Idempotency-Key '${command.idempotencyKey}' was deleted meanwhile; retry`);
      if (existing.kind !== command.kind || existing.service !== command.service) {
        throw new ConflictError(`Idempotency-Key '${command.idempotencyKey}' was used for another command (${existing.id})`);
      }
      return { command: existing, replayed: true };
    },

    async createMany(commands: NewCommand[]): Promise<Command[]> {
      if (commands.length === 0) return [];
      const column = <T>(pick: (c: NewCommand) => T) => commands.map(pick);
      return sql<Command[]>`
        with created as (
          insert into commands (id, device_id, vendor, kind, service, params, status, timeout_ms, expires_at, idempotency_key, traceparent, job_id)
          select r.id, r.device_id, r.vendor, r.kind, r.service, r.params::jsonb, 'queued', r.timeout_ms,
            now() + make_interval(secs => r.ttl_ms / 1000.0), r.idempotency_key, r.traceparent, r.job_id
          from unnest(
            ${column((c) => c.id)}::uuid[], ${column((c) => c.deviceId)}::text[], ${column((c) => c.vendor)}::text[], ${column((c) => c.kind)}::text[],
            ${column((c) => c.service)}::text[], ${column((c) => JSON.stringify(c.params))}::text[], ${column((c) => c.timeoutMs)}::int[],
            ${column((c) => c.ttlMs)}::bigint[], ${column((c) => c.idempotencyKey ?? null)}::text[], ${column((c) => c.traceparent ?? null)}::text[],
            ${column((c) => c.jobId ?? null)}::uuid[]
          ) as r(id, device_id, vendor, kind, service, params, timeout_ms, ttl_ms, idempotency_key, traceparent, job_id)
          on conflict (device_id, idempotency_key) do nothing
          returning *
        ), history as (
          insert into command_transitions (command_id, status, reason) select id, 'queued', null from created
        ), wanted as (
          insert into device_desired (device_id, property, value, command_id)
          select created.device_id, p.key, p.value, created.id from created, jsonb_each(created.params) as p
          where created.kind = ${KINDS.propertySet}
          on conflict (device_id, property) do update set value = excluded.value, command_id = excluded.command_id, set_at = now()
        )
        select ${columns(sql, sql`created`)} from created`;
    },

    async get(id: string): Promise<Command> {
      const [row] = await sql<Command[]>`select ${columns(sql)} from commands where id = ${id}`;
      if (!row) throw new NotFoundError(`command '${id}' does not exist`);
      return row;
    },

    async withHistory(id: string): Promise<Command & { history: Transition[] }> {
      // One statement, one snapshot: read apart, a transition committed between the two reads showed
      // a status its history did not have yet.
      const [row] = await sql<(Command & { history: { status: CommandStatus; reason: string | null; at: number }[] })[]>`
        select ${columns(sql)}, (
          select coalesce(json_agg(json_build_object('status', t.status, 'reason', t.reason, 'at', extract(epoch from t.at) * 1000) order by t.seq), '[]')
          from command_transitions t where t.command_id = commands.id
        ) as history
        from commands where id = ${id}`;
      if (!row) throw new NotFoundError(`command '${id}' does not exist`);
      return { ...row, history: row.history.map((t) => ({ ...t, at: new Date(t.at) })) };
    },

    /** Newest first; `before` is the last id of the previous page (ids are UUIDv7, so time-ordered). */
    async listForDevice(
      deviceId: string,
      options: { limit: number; status?: CommandStatus; before?: string },
    ): Promise<{ items: Command[]; nextCursor: string | null }> {
      const rows = await sql<Command[]>`
        select ${columns(sql)} from commands
        where device_id = ${deviceId}
          ${options.status ? sql`and status = ${options.status}` : sql``}
          ${options.before ? sql`and id < ${options.before}` : sql``}
        order by id desc limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    async transition(
      id: string,
      from: CommandStatus[],
      status: CommandStatus,
      detail: { output?: unknown; reason?: string } = {},
    ): Promise<Command | undefined> {
      const [row] = await sql<Command[]>`${transitionQuery(sql`id = ${id}`, from, status, detail)}`;
      return row;
    },

    /**
     * A device's answer to a command: moves it like `transition`, but only when `answeredBy` is the
     * device the command was sent to or the gateway that device speaks through (a DJI dock answers
     * for its aircraft). Another device that learned the command id changes nothing (docs/design.md §8).
     */
    async answer(
      id: string,
      answeredBy: string,
      from: CommandStatus[],
      status: CommandStatus,
      detail: { output?: unknown; reason?: string },
    ): Promise<Command | undefined> {
      const fromDevice = sql`(device_id = ${answeredBy} or device_id in (select d.id from devices d where d.parent_id = ${answeredBy}))`;
      const [row] = await sql<Command[]>`${transitionQuery(sql`id = ${id} and ${fromDevice}`, from, status, detail)}`;
      return row;
    },

    /**
     * Runs `send` for a queued, unexpired command of an online device while holding its row, then
     * marks it sent; a command another replica holds is skipped. Returns the sent command, or
     * undefined if there was nothing to send now (the device is offline: the command waits).
     */
    async sendQueued(id: string, send: (command: Command, device: CommandTarget) => Promise<void>): Promise<Command | undefined> {
      return sql.begin(async (tx) => {
        const [row] = await tx<(Command & CommandTarget)[]>`
          select ${columns(sql)}, d.parent_id as "parentId", d.model_id as "modelId", d.model_version as "modelVersion"
          from commands join devices d on d.id = commands.device_id
          where commands.id = ${id} and commands.status = 'queued' and d.online and (commands.expires_at is null or commands.expires_at > now())
          for update of commands skip locked`;
        if (!row) return undefined;
        const { parentId, modelId, modelVersion, ...command } = row;
        await send(command, { parentId, modelId, modelVersion });
        const [sent] = await tx<Command[]>`${transitionQuery(sql`id = ${id}`, ["queued"], "sent", { sentNow: true })}`;
        return sent;
      });
    },

    /** Sent commands whose device did not answer in time. */
    timeoutDue: () =>
      sql<Command[]>`${transitionQuery(sql`deadline_at < now()`, ["sent"], "timeout", { reason: "the device did not answer within the command's timeout" })}`,

    /** Queued commands whose TTL passed before they could be sent; they are never delivered. */
    expireDue: () =>
      sql<
        Command[]
      >`${transitionQuery(sql`expires_at < now()`, ["queued"], "expired", { reason: "the device was not reachable before the command's TTL ran out" })}`,

    /**
     * Queued commands of devices that are online now, oldest first. A command younger than
     * `graceMs` is left to iot-downlink's consumer, which is sending it right now: the sweep is for
     * commands that waited for their device, or whose message to iot-downlink was lost.
     */
    async queuedForOnlineDevices(limit: number, graceMs = 1000): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select c.id from commands c join devices d on d.id = c.device_id
        where c.status = 'queued' and d.online and (c.expires_at is null or c.expires_at > now())
          and c.created_at < now() - make_interval(secs => ${graceMs} / 1000.0)
        order by c.id limit ${limit}`;
      return rows.map((r) => r.id);
    },
  };
  return repository;
}
