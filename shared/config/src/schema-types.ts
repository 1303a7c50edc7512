import { Type as T } from "@sinclair/typebox";

/** A duration in ms, at least 1. */
export const Millis = (def: number) => T.Integer({ minimum: 1, default: def });
/** Days data is kept; 0: for ever. */
export const Days = (def: number) => T.Integer({ minimum: 0, maximum: 36_500, default: def });

/**
 * Where a listener binds. Loopback unless configured otherwise: a laptop running `bun run start` or
 * `bun run dev` is not reachable from its network. Containers set 0.0.0.0 (config.prod.yaml, Compose, Helm).
 */
export const ListenHost = T.String({ minLength: 1, default: "127.0.0.1" });
