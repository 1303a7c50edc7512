import { createBatcher, type BatchOptions } from "@umos/core";
import type { Bus, Consumer } from "@umos/bus";
import { DEAD_LETTER_QUEUE } from "@umos/contracts";
import type { DeadLetterRepository, NewDeadLetter } from "@umos/store";
import { toDeadLetterRecord } from "./record";

/**
 * Consumes iot-dead-letter into PostgreSQL (docs/operations.md, Dead letters). A message is acked only once its
 * row is committed, and a redelivered one finds its row already there (dedupe key), so a crash loses
 * and doubles nothing. Writes are batched like the message log's. Failures are retried without end:
 * the only expected one is the database being away, and a dead letter handed to the dead-letter
 * exchange again would come straight back here.
 */
export function startDeadLetterArchiver(
  bus: Bus,
  deadLetters: Pick<DeadLetterRepository, "archive">,
  batch: BatchOptions,
  onArchived: () => void,
): Promise<Consumer> {
  const store = createBatcher(async (records: NewDeadLetter[]) => {
    if ((await deadLetters.archive(records)) > 0) onArchived();
  }, batch);
  return bus.consume({ queue: DEAD_LETTER_QUEUE, maxAttempts: Number.POSITIVE_INFINITY }, async (message) => {
    await store.add([toDeadLetterRecord(message, new Date())]);
  });
}
