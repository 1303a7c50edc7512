import { Database } from "bun:sqlite";
import MemoryPersistence from "aedes-persistence/asyncPersistence.js";

/** The fields of an aedes packet that make a message again after a restart. */
interface StoredPacket {
  cmd?: string;
  topic: string;
  payload: Buffer | string;
  qos: number;
  retain?: boolean;
  brokerId: string;
  brokerCounter?: number;
  clientId?: string;
  properties?: Record<string, unknown>;
}

interface PacketRow {
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: number;
  broker_id: string;
  broker_counter: number;
  properties: string | null;
}

type Subscription = { topic: string; qos: number; rh?: number; rap?: number; nl?: number };
/** The base class's parameter types: aedes's Client and packet types. */
type Arg<K extends keyof MemoryPersistence, N extends number> = Parameters<MemoryPersistence[K]>[N];

const SCHEMA = `
create table if not exists subscriptions (client_id text not null, topic text not null, qos integer not null,
  rh integer, rap integer, nl integer, primary key (client_id, topic)) without rowid;
create table if not exists outgoing (seq integer primary key autoincrement, client_id text not null,
  broker_id text not null, broker_counter integer not null, topic text not null, payload blob not null,
  qos integer not null, retain integer not null, properties text, unique (client_id, broker_id, broker_counter));
create table if not exists retained (topic text primary key, broker_id text not null, broker_counter integer not null,
  payload blob not null, qos integer not null, retain integer not null, properties text) without rowid;
create table if not exists inbound (seq integer primary key autoincrement, broker_id text not null, broker_counter integer not null,
  topic text not null, payload blob not null, qos integer not null, retain integer not null, properties text);
create table if not exists wills (client_id text primary key, broker_id text not null, broker_counter integer not null,
  topic text not null, payload blob not null, qos integer not null, retain integer not null, properties text) without rowid;
`;

/**
 * aedes's in-memory persistence with every change also written to SQLite (WAL), and read back at
 * start-up: persistent sessions' subscriptions, the QoS 1/2 messages queued for them (what a
 * Clean Session 0 client such as the gateway has not yet acknowledged), retained messages and last
 * wills. With `synchronous = NORMAL` a committed write survives the process being killed (not a
 * power cut). Not kept: QoS 2 messages half-way through their handshake (UMOS uses QoS 1), and
 * which message id an unacknowledged message had (aedes numbers them again when it resends them).
 *
 * aedes 1.2 sends a QoS 1 PUBACK before it queues the message for subscribers
 * (lib/handlers/publish.js), so a crash in between would lose a message the device saw
 * acknowledged (measured: ~16 of 330 in a kill -9 test). `writeAhead` closes that gap: the broker
 * calls it before aedes answers, the row leaves in the same transaction that queues the message,
 * and a row still there at start-up is published again.
 */
export class SqlitePersistence extends MemoryPersistence {
  readonly #db: Database;
  readonly #stmt;
  /** Write-ahead rows by the payload buffer aedes carries from the PUBLISH into its own packet copy. */
  readonly #ahead = new WeakMap<object, number[]>();

  constructor(path: string) {
    super();
    this.#db = new Database(path, { create: true, strict: true });
    this.#db.run("pragma journal_mode = wal");
    this.#db.run("pragma synchronous = normal");
    this.#db.run(SCHEMA);
    const db = this.#db;
    this.#stmt = {
      addSubscription: db.query(
        "insert into subscriptions (client_id, topic, qos, rh, rap, nl) values ($client, $topic, $qos, $rh, $rap, $nl) on conflict (client_id, topic) do update set qos = excluded.qos, rh = excluded.rh, rap = excluded.rap, nl = excluded.nl",
      ),
      removeSubscription: db.query("delete from subscriptions where client_id = $client and topic = $topic"),
      cleanSubscriptions: db.query("delete from subscriptions where client_id = $client"),
      enqueue: db.query(
        "insert or ignore into outgoing (client_id, broker_id, broker_counter, topic, payload, qos, retain, properties) values ($client, $brokerId, $brokerCounter, $topic, $payload, $qos, $retain, $properties)",
      ),
      dequeue: db.query("delete from outgoing where client_id = $client and broker_id = $brokerId and broker_counter = $brokerCounter"),
      storeRetained: db.query(
        "insert or replace into retained (topic, broker_id, broker_counter, payload, qos, retain, properties) values ($topic, $brokerId, $brokerCounter, $payload, $qos, $retain, $properties)",
      ),
      dropRetained: db.query("delete from retained where topic = $topic"),
      putWill: db.query(
        "insert or replace into wills (client_id, broker_id, broker_counter, topic, payload, qos, retain, properties) values ($client, $brokerId, $brokerCounter, $topic, $payload, $qos, $retain, $properties)",
      ),
      delWill: db.query("delete from wills where client_id = $client"),
      writeAhead: db.query(
        "insert into inbound (broker_id, broker_counter, topic, payload, qos, retain, properties) values ($brokerId, $brokerCounter, $topic, $payload, $qos, $retain, $properties) returning seq",
      ),
      done: db.query("delete from inbound where seq = $seq"),
    };
  }

  /** Keeps an arriving QoS 1 or 2 PUBLISH until aedes has queued it; call before aedes acknowledges it. */
  writeAhead(packet: { topic: string; payload: Buffer | string; qos: number; retain?: boolean; properties?: Record<string, unknown> }): void {
    if (packet.qos === 0 || typeof packet.payload === "string") return;
    const { seq } = this.#stmt.writeAhead.get(packetFields({ ...packet, brokerId: "", brokerCounter: 0 })) as { seq: number };
    this.#remember(packet.payload, seq);
  }

  #remember(payload: object, seq: number): void {
    const seqs = this.#ahead.get(payload);
    if (seqs) seqs.push(seq);
    else this.#ahead.set(payload, [seq]);
  }

  /** Loads what the last run left into memory before aedes takes connections. */
  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    const db = this.#db;
    const byClient = new Map<string, Subscription[]>();
    for (const row of db.query("select client_id, topic, qos, rh, rap, nl from subscriptions").all() as Array<Subscription & { client_id: string }>) {
      const { client_id, ...sub } = row;
      const subs = byClient.get(client_id) ?? [];
      subs.push(withoutNulls(sub));
      byClient.set(client_id, subs);
    }
    for (const [id, subs] of byClient) await super.addSubscriptions({ id } as never, subs as never);
    for (const row of db.query("select * from retained").all() as PacketRow[]) await super.storeRetained(toPacket(row) as never);
    for (const row of db.query("select * from outgoing order by seq").all() as Array<PacketRow & { client_id: string }>) {
      await super.outgoingEnqueue({ clientId: row.client_id }, toPacket(row) as never);
    }
    for (const row of db.query("select * from wills").all() as Array<PacketRow & { client_id: string }>) {
      const will = { ...toPacket(row), clientId: row.client_id };
      await super.putWill({ id: row.client_id } as never, will as never);
      // putWill stamps this broker's id; the will belongs to the run that died, so aedes sends it.
      will.brokerId = row.broker_id;
    }
    // Acknowledged to their publisher by the run that died, but never queued: published now.
    const publisher = broker as { publish(packet: unknown, client: null, done: (err?: Error) => void): void };
    for (const row of db.query("select * from inbound order by seq").all() as Array<PacketRow & { seq: number }>) {
      const packet = toPacket(row);
      this.#remember(packet.payload as Buffer, row.seq);
      await new Promise<void>((resolve, reject) => publisher.publish(packet, null, (err) => (err ? reject(err) : resolve())));
    }
  }

  override async addSubscriptions(client: Arg<"addSubscriptions", 0>, subs: Arg<"addSubscriptions", 1>): Promise<void> {
    this.#db.transaction(() => {
      for (const s of subs as Subscription[]) {
        this.#stmt.addSubscription.run({ client: client.id, topic: s.topic, qos: s.qos, rh: s.rh ?? null, rap: s.rap ?? null, nl: s.nl ?? null });
      }
    })();
    return super.addSubscriptions(client, subs);
  }

  override async removeSubscriptions(client: Arg<"removeSubscriptions", 0>, topics: string[]): Promise<void> {
    this.#db.transaction(() => {
      for (const topic of topics) this.#stmt.removeSubscription.run({ client: client.id, topic });
    })();
    return super.removeSubscriptions(client, topics);
  }

  override async cleanSubscriptions(client: Arg<"cleanSubscriptions", 0>): Promise<void> {
    this.#stmt.cleanSubscriptions.run({ client: client.id });
    return super.cleanSubscriptions(client);
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: Arg<"outgoingEnqueue", 1>): Promise<void> {
    return this.outgoingEnqueueCombi([sub], packet);
  }

  override async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: Arg<"outgoingEnqueueCombi", 1>): Promise<void> {
    const fields = packetFields(packet as StoredPacket);
    const ahead = this.#ahead.get((packet as StoredPacket).payload as Buffer)?.shift();
    this.#db.transaction(() => {
      for (const sub of subs) this.#stmt.enqueue.run({ client: sub.clientId, ...fields });
      if (ahead !== undefined) this.#stmt.done.run({ seq: ahead });
    })();
    return super.outgoingEnqueueCombi(subs, packet);
  }

  override async outgoingClearMessageId(client: Arg<"outgoingClearMessageId", 0>, packet: Arg<"outgoingClearMessageId", 1>) {
    const cleared = await super.outgoingClearMessageId(client, packet);
    const stored = cleared as StoredPacket | undefined;
    if (stored) this.#stmt.dequeue.run({ client: client.id, brokerId: stored.brokerId, brokerCounter: stored.brokerCounter ?? 0 });
    return cleared;
  }

  override async storeRetained(packet: Arg<"storeRetained", 0>): Promise<void> {
    const stored = packet as StoredPacket;
    if (stored.payload.length === 0) this.#stmt.dropRetained.run({ topic: stored.topic });
    else this.#stmt.storeRetained.run(packetFields(stored));
    return super.storeRetained(packet);
  }

  override async putWill(client: Arg<"putWill", 0>, packet: Arg<"putWill", 1>): Promise<void> {
    await super.putWill(client, packet); // stamps this broker's id on the packet
    this.#stmt.putWill.run({ client: client.id, ...packetFields(packet as StoredPacket) });
  }

  override async delWill(client: Arg<"delWill", 0>) {
    this.#stmt.delWill.run({ client: client.id });
    return super.delWill(client);
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    this.#db.close();
  }
}

function packetFields(packet: StoredPacket) {
  return {
    brokerId: packet.brokerId,
    // A will comes straight from the CONNECT packet: aedes has not numbered it.
    brokerCounter: packet.brokerCounter ?? 0,
    topic: packet.topic,
    payload: typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload,
    qos: packet.qos,
    retain: packet.retain ? 1 : 0,
    properties: packet.properties ? JSON.stringify(packet.properties) : null,
  };
}

function toPacket(row: PacketRow): StoredPacket & { cmd: "publish"; dup: false } {
  return {
    cmd: "publish",
    topic: row.topic,
    payload: Buffer.from(row.payload),
    qos: row.qos,
    retain: row.retain === 1,
    dup: false,
    brokerId: row.broker_id,
    brokerCounter: row.broker_counter,
    ...(row.properties ? { properties: JSON.parse(row.properties) as Record<string, unknown> } : {}),
  };
}

function withoutNulls<T extends Record<string, unknown>>(row: T): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)) as T;
}
