import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { CachedModel, Problem } from "@umos/thing-model";

/**
 * Checks a decoded report against the device's thing model. Under validation "strict" a report
 * that breaks the model is refused (dead-lettered with the property and the rule); under "flag" it
 * is accepted and its problems travel with it.
 */
export function checkAgainstModel(cached: CachedModel | null, envelope: Envelope): Problem[] {
  if (cached === null) return [];
  const { model, validation } = cached;
  let problems: Problem[] = [];
  if (envelope.kind === KINDS.propertyReport) {
    problems = model.checkPropertyReport(envelope.data as Record<string, unknown>);
  } else if (envelope.kind === KINDS.eventReport) {
    const { event, data } = envelope.data as { event: string; data: Record<string, unknown> };
    problems = model.checkEvent(event, data);
  }
  if (problems.length > 0 && validation === "strict") {
    const first = problems[0]!;
    throw new InvalidInputError("model_violation", `thing model ${model.ref}: '${first.path}' ${first.message}`, problems);
  }
  return problems;
}
