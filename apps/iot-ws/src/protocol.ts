import { Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

/** Client -> server messages (docs/design.md §10). An omitted list means "any". */
const Names = T.Array(T.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000 });
const Filter = { devices: T.Optional(Names), vendors: T.Optional(Names), kinds: T.Optional(Names) };

export const ClientMessage = T.Union([T.Object({ type: T.Literal("subscribe"), ...Filter }), T.Object({ type: T.Literal("unsubscribe"), ...Filter })]);
export type ClientMessage = Static<typeof ClientMessage>;

const checker = TypeCompiler.Compile(ClientMessage);

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; code: string; message: string };

export function parseClientMessage(raw: string | Buffer): Parsed {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return { ok: false, code: "malformed_json", message: "messages must be JSON" };
  }
  if (!checker.Check(body)) {
    const first = checker.Errors(body).First();
    return { ok: false, code: "invalid_message", message: `${first?.path || "/"}: ${first?.message ?? "invalid"}` };
  }
  return { ok: true, message: body };
}

export const errorFrame = (code: string, message: string) => JSON.stringify({ type: "error", code, message });

/** The envelope body is already JSON from the uplink; it is spliced in, not parsed and re-serialized. */
export const messageFrame = (routingKey: string, body: string) => `{"type":"message","routingKey":${JSON.stringify(routingKey)},"message":${body}}`;
