/**
 * QoS 1 PUBACKs in the order the PUBLISH packets arrived ([MQTT-4.6.0-2]), released as soon as
 * every earlier message is confirmed, so confirms are pipelined instead of one round trip each.
 * It also keeps the count the connection's read-ahead depends on: the bytes of every message, QoS 0
 * included, that is not yet safe.
 */
export interface AckOrder {
  /**
   * Records an arrived QoS 1 PUBLISH of `bytes` bytes; call the returned function once it is safe
   * to acknowledge.
   */
  receive(packetId: number, bytes?: number): () => void;
  /**
   * Records an arrived QoS 0 PUBLISH of `bytes` bytes: nothing to acknowledge, but its bytes count
   * as held until the returned function runs.
   */
  hold(bytes: number): () => void;
  /** Messages received and not yet acknowledged. */
  readonly pending: number;
  /** Bytes of the messages received and not yet safe: what the gateway holds for this connection. */
  readonly unsafeBytes: number;
  /** Forgets everything: the connection is gone and the broker will redeliver. */
  reset(): void;
}

interface Slot {
  packetId: number;
  done: boolean;
}

/** `released` runs after every message that became safe (PUBACKs sent first): the reader may go on. */
export function createAckOrder(sendAcks: (packetIds: number[]) => void, released: () => void = () => {}): AckOrder {
  let slots: Slot[] = [];
  let head = 0;
  let unsafeBytes = 0;
  // Bumped by reset(): completions of a dead connection's messages must not ack on the new one.
  let generation = 0;

  const flush = () => {
    const start = head;
    while (head < slots.length && slots[head]!.done) head++;
    if (head === start) return;
    sendAcks(slots.slice(start, head).map((s) => s.packetId));
    if (head === slots.length) {
      slots = [];
      head = 0;
    } else if (head > 4096) {
      slots = slots.slice(head);
      head = 0;
    }
  };

  return {
    receive(packetId, bytes = 0) {
      const slot = { packetId, done: false };
      const mine = generation;
      slots.push(slot);
      unsafeBytes += bytes;
      return () => {
        if (mine !== generation || slot.done) return;
        slot.done = true;
        unsafeBytes -= bytes;
        flush();
        released();
      };
    },
    hold(bytes) {
      const mine = generation;
      let done = false;
      unsafeBytes += bytes;
      return () => {
        if (mine !== generation || done) return;
        done = true;
        unsafeBytes -= bytes;
        released();
      };
    },
    get pending() {
      return slots.length - head;
    },
    get unsafeBytes() {
      return unsafeBytes;
    },
    reset() {
      slots = [];
      head = 0;
      unsafeBytes = 0;
      generation++;
    },
  };
}
