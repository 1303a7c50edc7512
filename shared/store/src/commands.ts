import type { Vendor } from "@umos/contracts";
import { NotFoundError } from "@umos/runtime";
import type { Sql } from "./database";

export type CommandStatus = "queued" | "sent" | "acked" | "failed" | "timeout" | "cancelled" | "expired";

export interface Command {
  id: string;
  deviceId: string;
  vendor: Vendor;
  kind: string;
  service: string | null;
  params: unknown;
  status: CommandStatus;
  output: unknown;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const columns = (sql: Sql) =>
  sql`id, device_id as "deviceId", vendor, kind, service, params, status, output, reason, created_at as "createdAt", updated_at as "updatedAt"`;

export function commandRepository(sql: Sql) {
  return {
    async create(command: { id: string; deviceId: string; vendor: Vendor; kind: string; service: string | null; params: unknown }): Promise<Command> {
      const [row] = await sql<Command[]>`
        insert into commands (id, device_id, vendor, kind, service, params, status)
        values (${command.id}, ${command.deviceId}, ${command.vendor}, ${command.kind}, ${command.service}, ${sql.json(command.params as never)}, 'queued')
        returning ${columns(sql)}`;
      return row!;
    },

    async get(id: string): Promise<Command> {
      const [row] = await sql<Command[]>`select ${columns(sql)} from commands where id = ${id}`;
      if (!row) throw new NotFoundError(`command '${id}' does not exist`);
      return row;
    },

    /** Moves a command to `status` only from one of `from`; returns the command, or undefined if it was elsewhere. */
    async transition(
      id: string,
      from: CommandStatus[],
      status: CommandStatus,
      detail: { output?: unknown; reason?: string } = {},
    ): Promise<Command | undefined> {
      const [row] = await sql<Command[]>`
        update commands set status = ${status}, updated_at = now(),
          output = coalesce(${detail.output === undefined ? null : sql.json(detail.output as never)}, output),
          reason = coalesce(${detail.reason ?? null}, reason)
        where id = ${id} and status = any(${from})
        returning ${columns(sql)}`;
      return row;
    },
  };
}

export type CommandRepository = ReturnType<typeof commandRepository>;
