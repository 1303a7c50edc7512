import { envelopeChecker, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { BusMessage } from "./types";

/** A normalized message off the bus; a body that is not an envelope is a permanent error (dead letter). */
export function readEnvelope(message: BusMessage): Envelope {
  let body: unknown;
  try {
    body = JSON.parse(message.body.toString("utf8"));
  } catch {
    throw new InvalidInputError("malformed_json", `${message.routingKey}: the body is not JSON`);
  }
  if (!envelopeChecker.Check(body)) {
    const first = envelopeChecker.Errors(body).First();
    throw new InvalidInputError("invalid_envelope", `${message.routingKey}: ${first?.path || "/"}: ${first?.message ?? "invalid"}`);
  }
  return body;
}
