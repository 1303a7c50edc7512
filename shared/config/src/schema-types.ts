import { Type as T } from "@sinclair/typebox";

/** A duration in ms, at least 1. */
export const Millis = (def: number) => T.Integer({ minimum: 1, default: def });
/** Days data is kept; 0: for ever. */
export const Days = (def: number) => T.Integer({ minimum: 0, maximum: 36_500, default: def });
