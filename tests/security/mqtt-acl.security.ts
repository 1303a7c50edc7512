import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { KINDS, MAX_SUB_DEVICES, type Vendor } from "@umos/contracts";
import type { App } from "@umos/runtime";
import {
  createDatabase,
  createVhost,
  eventually,
  jsonClient,
  testConfig,
  testToken,
  type Json,
  type TestDatabase,
  type TestVhost,
  inProcess,
} from "@umos/testkit";
import { createApp as createApi } from "../../apps/iot-api/src/app";
import { freeStandalonePorts, startStandalone, type StandaloneProcess, type StandalonePorts } from "../standalone/standalone-process";
import { tally, type Tally } from "./tally";

/**
 * The MQTT ACL family of the security suite: who may log in to the broker, publish and subscribe to
 * what, what a gateway may say about other devices, and whose reply counts. The same rules
 * (shared/mqtt-access) answer twice: in standalone mode the embedded broker (aedes, MQTT
 * 3.1.1) asks them in process, driven here by real mqtt.js devices; in cluster mode VerneMQ asks
 * them through iot-api's webhooks, driven here as VerneMQ would call them.
 */

type Outcome = "accepted" | "refused";

/** The devices both modes register: two generic ones, three DJI ones (two docks), a Tuya gateway with one sub-device and a Tuya device of its own. */
interface FleetDevice {
  id: string;
  vendor: Vendor;
  /** Put under this gateway by an admin (PATCH parentId) right after registration. */
  gateway?: string;
}

const FLEET: readonly FleetDevice[] = [
  { id: "acl-a", vendor: "generic" },
  { id: "acl-b", vendor: "generic" },
  { id: "dock-1", vendor: "dji" },
  { id: "dock-2", vendor: "dji" },
  { id: "drone-own", vendor: "dji" },
  { id: "tgw-1", vendor: "tuya" },
  { id: "tsub-1", vendor: "tuya", gateway: "tgw-1" },
  { id: "tsub-foreign", vendor: "tuya" },
];
const VENDOR_LIST: readonly Vendor[] = ["generic", "dji", "tuya"];

interface Frame {
  topic: string;
  payload: string;
}

/** A vendor's topics (shared/vendors/src/<vendor>/transform.ts), each device->cloud one with a frame the uplink takes. */
interface VendorTopics {
  /** Where device ids start: wildcard filters are built on it. */
  root: string;
  /** Every device->cloud topic of device `id`: the only ones it may publish. */
  uplink(id: string): Frame[];
  /** Cloud->device topics of device `id`, which it subscribes to; the first is where commands go. */
  downlink(id: string): string[];
}

const json = (body: unknown) => JSON.stringify(body);
const djiFrame = (fields: Record<string, unknown>) => json({ tid: "acl-probe", bid: "acl-probe", timestamp: Date.now(), ...fields });
const tuyaFrame = (fields: Record<string, unknown>) => json({ msgId: "acl-probe", time: Date.now(), ...fields });

const VENDORS: Record<Vendor, VendorTopics> = {
  generic: {
    root: "generic/",
    uplink: (id) => [
      { topic: `generic/${id}/property/report`, payload: json({ data: { probe: 1 } }) },
      { topic: `generic/${id}/event/report`, payload: json({ event: "probe" }) },
      // Not a command id: the reply matches no command.
      { topic: `generic/${id}/service/reply`, payload: json({ correlationId: "probe", code: 0 }) },
      { topic: `generic/${id}/status`, payload: json({ state: "online" }) },
    ],
    downlink: (id) => [`generic/${id}/service/call`, `generic/${id}/property/set`],
  },
  dji: {
    root: "thing/product/",
    uplink: (id) => [
      { topic: `thing/product/${id}/osd`, payload: djiFrame({ data: {} }) },
      { topic: `thing/product/${id}/state`, payload: djiFrame({ data: {} }) },
      { topic: `thing/product/${id}/events`, payload: djiFrame({ method: "probe", data: {} }) },
      { topic: `thing/product/${id}/requests`, payload: djiFrame({ method: "probe", data: {} }) },
      { topic: `thing/product/${id}/services_reply`, payload: djiFrame({ method: "probe", data: { result: 0 } }) },
      { topic: `thing/product/${id}/property/set_reply`, payload: djiFrame({ data: {} }) },
      { topic: `sys/product/${id}/status`, payload: djiFrame({ method: "update_topo", data: { sub_devices: [] } }) },
    ],
    downlink: (id) => [`thing/product/${id}/services`, `thing/product/${id}/property/set`, `sys/product/${id}/status_reply`],
  },
  tuya: {
    root: "tylink/",
    uplink: (id) => [
      { topic: `tylink/${id}/thing/property/report`, payload: tuyaFrame({ data: { probe: { value: 1 } } }) },
      { topic: `tylink/${id}/thing/event/trigger`, payload: tuyaFrame({ data: { eventCode: "probe" } }) },
      { topic: `tylink/${id}/thing/data/batch_report`, payload: tuyaFrame({ data: { properties: { probe: { value: 1 } } } }) },
      { topic: `tylink/${id}/thing/property/set_response`, payload: tuyaFrame({ code: 0 }) },
      { topic: `tylink/${id}/thing/action/execute_response`, payload: tuyaFrame({ code: 0 }) },
    ],
    downlink: (id) => [`tylink/${id}/thing/action/execute`, `tylink/${id}/thing/property/set`],
  },
};

const subDevicesOf = (device: FleetDevice) => FLEET.filter((d) => d.gateway === device.id);

/** A device of `vendor` that `actor` has no say over: neither itself nor one of its sub-devices. */
function strangerTo(actor: FleetDevice, vendor: Vendor): FleetDevice {
  const own = new Set([actor.id, ...subDevicesOf(actor).map((d) => d.id)]);
  return FLEET.find((d) => d.vendor === vendor && !own.has(d.id))!;
}

interface PublishCase {
  actor: FleetDevice;
  frame: Frame;
  expected: Outcome;
  why: string;
}

/** What each device publishes and what the rules say of it, in both modes. */
function publishCases(actor: FleetDevice): PublishCase[] {
  const mine = VENDORS[actor.vendor];
  const cases: PublishCase[] = mine.uplink(actor.id).map((frame) => ({ actor, frame, expected: "accepted", why: "its own device->cloud topic" }));
  for (const sub of subDevicesOf(actor)) {
    for (const frame of mine.uplink(sub.id)) cases.push({ actor, frame, expected: "accepted", why: `its sub-device ${sub.id}'s topic` });
  }
  for (const vendor of VENDOR_LIST) {
    const stranger = strangerTo(actor, vendor);
    // Every topic of a stranger of its own vendor (the one a device could plausibly forge), one of the others'.
    const frames = vendor === actor.vendor ? VENDORS[vendor].uplink(stranger.id) : VENDORS[vendor].uplink(stranger.id).slice(0, 1);
    for (const frame of frames) cases.push({ actor, frame, expected: "refused", why: `${stranger.id}'s topic (${vendor})` });
    if (vendor !== actor.vendor)
      cases.push({ actor, frame: VENDORS[vendor].uplink(actor.id)[0]!, expected: "refused", why: `its own id under ${vendor}'s topics` });
  }
  const ownFrame = mine.uplink(actor.id)[0]!;
  cases.push(
    { actor, frame: { topic: mine.downlink(actor.id)[0]!, payload: "{}" }, expected: "refused", why: "its own cloud->device topic" },
    { actor, frame: { ...ownFrame, topic: `${ownFrame.topic}/extra` }, expected: "refused", why: "a level past its own topic" },
    { actor, frame: { ...ownFrame, topic: mine.uplink("+")[0]!.topic }, expected: "refused", why: "+ in the topic" },
    { actor, frame: { ...ownFrame, topic: `${mine.root}#` }, expected: "refused", why: "# in the topic" },
    { actor, frame: { topic: "$SYS/broker/clients/connected", payload: "1" }, expected: "refused", why: "$SYS/ is reserved" },
  );
  return cases;
}

interface SubscribeCase {
  actor: FleetDevice;
  filter: string;
  expected: Outcome;
  why: string;
}

/** What each device subscribes to and what the rules say of it, in both modes. */
function subscribeCases(actor: FleetDevice): SubscribeCase[] {
  const mine = VENDORS[actor.vendor];
  const cases: SubscribeCase[] = [
    ...mine.downlink(actor.id).map((filter) => ({ actor, filter, expected: "accepted" as const, why: "its own topic" })),
    { actor, filter: `${mine.root}${actor.id}/#`, expected: "accepted", why: "everything under its own id" },
  ];
  for (const sub of subDevicesOf(actor))
    cases.push({ actor, filter: mine.downlink(sub.id)[0]!, expected: "accepted", why: `its sub-device ${sub.id}'s topic` });
  for (const vendor of VENDOR_LIST) {
    const stranger = strangerTo(actor, vendor);
    cases.push({ actor, filter: VENDORS[vendor].downlink(stranger.id)[0]!, expected: "refused", why: `${stranger.id}'s topic (${vendor})` });
    if (vendor !== actor.vendor)
      cases.push({ actor, filter: VENDORS[vendor].downlink(actor.id)[0]!, expected: "refused", why: `its own id under ${vendor}'s topics` });
  }
  // Wildcards reach other devices' topics, a shared subscription must not smuggle one in, $SYS/ is the broker's.
  const sharedVictim = actor.id === "acl-a" ? "acl-b" : "acl-a";
  for (const [filter, why] of [
    ["#", "everything"],
    ["+/+/+", "any three levels"],
    ["generic/+/service/call", "every generic device's commands"],
    [`${mine.root}+/#`, "every device of its vendor"],
    [`$share/g/generic/${sharedVictim}/service/call`, `${sharedVictim}'s commands through a shared subscription`],
    ["$SYS/#", "$SYS/ is reserved"],
  ] as const) {
    cases.push({ actor, filter, expected: "refused", why });
  }
  return cases;
}

/** A login attempt and whether the rules let it in. */
interface LoginCase {
  name: string;
  clientId: string;
  username?: string;
  password?: string;
  expected: Outcome;
}

function loginCases(passwords: ReadonlyMap<string, string>): LoginCase[] {
  const a = passwords.get("acl-a")!;
  return [
    ...FLEET.map((d) => ({ name: `${d.id} logs in as itself`, clientId: d.id, username: d.id, password: passwords.get(d.id)!, expected: "accepted" as const })),
    { name: "a wrong password", clientId: "acl-a", username: "acl-a", password: `${a}x`, expected: "refused" },
    { name: "another device's password", clientId: "acl-a", username: "acl-a", password: passwords.get("acl-b")!, expected: "refused" },
    { name: "a borrowed client id (username acl-a, client id acl-b)", clientId: "acl-b", username: "acl-a", password: a, expected: "refused" },
    { name: "an empty client id (username acl-a)", clientId: "", username: "acl-a", password: a, expected: "refused" },
    { name: "an empty password", clientId: "acl-a", username: "acl-a", password: "", expected: "refused" },
    { name: "no password", clientId: "acl-a", username: "acl-a", expected: "refused" },
    { name: "no username and no password", clientId: "acl-a", expected: "refused" },
    { name: "username with + (acl+)", clientId: "acl+", username: "acl+", password: a, expected: "refused" },
    { name: "username with # (acl#)", clientId: "acl#", username: "acl#", password: a, expected: "refused" },
    { name: "username + alone", clientId: "+", username: "+", password: a, expected: "refused" },
    { name: "an unknown device", clientId: "acl-nobody", username: "acl-nobody", password: a, expected: "refused" },
    { name: "the gateway's account with a guessed password", clientId: "iot-gateway-probe", username: "iot-gateway", password: a, expected: "refused" },
  ];
}

/** `eventually`, as a value or undefined for a tally instead of a thrown error. */
function within<T>(timeoutMs: number, what: string, check: () => T | Promise<T>): Promise<Exclude<T, undefined | false> | undefined> {
  return eventually(check, timeoutMs, what).catch(() => undefined);
}

type Api = ReturnType<typeof jsonClient>;

/** Registers FLEET (and any extra devices) through the REST API; returns each device's password. */
async function registerFleet(api: Api, extra: FleetDevice[] = []): Promise<Map<string, string>> {
  const passwords = new Map<string, string>();
  for (const device of [...FLEET, ...extra]) {
    const created = await api.post("/api/v1/devices", { id: device.id, vendor: device.vendor });
    expect(created.status).toBe(201);
    passwords.set(device.id, created.body.credentials.password);
  }
  for (const device of [...FLEET, ...extra]) {
    if (device.gateway) expect((await api.patch(`/api/v1/devices/${device.id}`, { parentId: device.gateway })).status).toBe(200);
  }
  return passwords;
}

/** Ids the REST API must refuse: anything outside ^[A-Za-z0-9._:-]{1,128}$, MQTT's wildcards and level separator first. */
const BAD_IDS = ["a+b", "a#b", "a/b", "+", "#", "", "a b", "x".repeat(129)];

// --------------------------------------------------------------------------------------------
// Standalone mode: the embedded broker, with real devices.

describe("standalone mode: the embedded broker", () => {
  let dataDir: string;
  let ports: StandalonePorts;
  let standalone: StandaloneProcess | undefined;
  let admin: Api;
  let passwords: Map<string, string>;
  const clients = new Set<mqtt.MqttClient>();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "umos-mqtt-acl-"));
    ports = await freeStandalonePorts();
    standalone = await startStandalone(dataDir, ports);
    admin = jsonClient(`http://127.0.0.1:${ports.api}`, await testToken("admin"));
    passwords = await registerFleet(admin);
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await standalone?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Connects over MQTT 3.1.1; resolves with the client, or with why it is not connected. */
  async function connect(
    identity: { clientId: string; username?: string; password?: string },
    will?: mqtt.IClientOptions["will"],
  ): Promise<mqtt.MqttClient | string> {
    const client = mqtt.connect(`mqtt://127.0.0.1:${ports.mqtt}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...identity,
      ...(will ? { will } : {}),
    });
    clients.add(client);
    const refused = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => settle("no CONNACK within 6 s"), 6000);
      const onConnect = () => settle(undefined);
      const onError = (err: Error) => settle((err as { code?: unknown }).code === 5 ? "CONNACK 5 (not authorized)" : `login failed: ${err.message}`);
      const onClose = () => settle("closed before its CONNACK");
      function settle(why: string | undefined) {
        clearTimeout(timer);
        client.off("connect", onConnect).off("error", onError).off("close", onClose);
        resolve(why);
      }
      client.once("connect", onConnect).once("error", onError).once("close", onClose);
    });
    if (refused) {
      client.end(true);
      return refused;
    }
    client.on("error", () => {}); // a refused PUBLISH closes the connection; the close is what the cases look at
    return client;
  }

  /** A device's own login, which the cases below need to work. */
  async function connectAs(id: string, will?: mqtt.IClientOptions["will"]): Promise<mqtt.MqttClient> {
    const client = await connect({ clientId: id, username: id, password: passwords.get(id)! }, will);
    if (typeof client === "string") throw new Error(`${id} cannot log in: ${client}`);
    return client;
  }

  const sessions = new Map<string, mqtt.MqttClient>();
  /** The device's open session, or a new one if it has none or the broker closed it. */
  async function live(id: string): Promise<mqtt.MqttClient> {
    const open = sessions.get(id);
    if (open?.connected && !open.disconnecting) return open;
    const client = await connectAs(id);
    sessions.set(id, client);
    return client;
  }

  /** A QoS 1 PUBLISH: accepted (PUBACK), refused (the broker closed the connection, as for MQTT 3.1.1) or neither. */
  function publish(client: mqtt.MqttClient, frame: Frame): Promise<Outcome | string> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish("no PUBACK and no close within 5 s"), 5000);
      const onClose = () => finish("refused");
      function finish(outcome: Outcome | string) {
        clearTimeout(timer);
        client.off("close", onClose);
        resolve(outcome);
      }
      client.once("close", onClose);
      client.publish(frame.topic, frame.payload, { qos: 1 }, (err) => finish(!err ? "accepted" : client.connected ? `error: ${err.message}` : "refused"));
    });
  }

  /** One SUBSCRIBE; the SUBACK's code per filter (1: granted at QoS 1, 128: refused), or why there was none. */
  async function subscribe(client: mqtt.MqttClient, filters: string[]): Promise<number[] | string> {
    if (!client.connected) return "the connection was closed";
    return client.subscribeAsync(filters, { qos: 1 }).then(
      (granted) => granted.map((g) => g.qos),
      (err: { packet?: { granted?: number[] }; message?: string }) => err.packet?.granted ?? `error: ${err.message}`,
    );
  }

  /** A device's stored messages, newest first (one page is plenty here). */
  async function messages(id: string): Promise<Json[]> {
    const page = await admin.get(`/api/v1/devices/${id}/messages?limit=500`);
    return page.status === 200 ? page.body.items : [];
  }

  async function deadLetter(deviceId: string, marker: string): Promise<Json | undefined> {
    const page = await admin.get(`/api/v1/dead-letters?deviceId=${encodeURIComponent(deviceId)}&limit=200`);
    return (page.body.items as Json[]).find((d) => String(d.payload.data).includes(marker));
  }

  const device = async (id: string): Promise<Json> => (await admin.get(`/api/v1/devices/${id}`)).body;

  test("a device logs in only as itself and publishes and subscribes only its own topics", async () => {
    const t = tally("mqtt acl: embedded broker");

    for (const id of BAD_IDS) {
      const res = await admin.post("/api/v1/devices", { id, vendor: "generic" });
      const shown = id.length > 20 ? `of ${id.length} characters` : JSON.stringify(id);
      t.check(`registering id ${shown} is refused`, res.status === 400, { refusal: true, detail: `HTTP ${res.status}` });
    }
    const badParent = await admin.patch("/api/v1/devices/acl-b", { parentId: "acl-a/#" });
    t.check("a parentId with / and # is refused", badParent.status === 400, { refusal: true, detail: `HTTP ${badParent.status}` });

    const tryLogin = async (c: LoginCase) => {
      const result = await connect(c);
      const outcome = typeof result === "string" ? "refused" : "accepted";
      if (typeof result !== "string") result.end(true);
      t.check(`login: ${c.name}`, outcome === c.expected, { refusal: c.expected === "refused", detail: typeof result === "string" ? result : "logged in" });
    };
    const logins = loginCases(passwords);
    for (const c of logins.filter((l) => l.expected === "accepted")) await tryLogin(c);
    // A refused login must not take over the live session of the device whose client id it used.
    const bystanders = [await connectAs("acl-a"), await connectAs("acl-b")];
    for (const c of logins.filter((l) => l.expected === "refused")) await tryLogin(c);
    t.check(
      "refused logins with acl-a's and acl-b's client ids leave their live sessions open",
      bystanders.every((b) => b.connected),
      { refusal: true, detail: "a live session was closed" },
    );
    for (const bystander of bystanders) bystander.end(true);

    // Devices run side by side; each one's cases run in turn, since a second connection with its
    // client id would take over the first. A refused PUBLISH closes the connection: the next case opens another.
    await Promise.all(
      FLEET.map(async (actor) => {
        let client: mqtt.MqttClient | undefined;
        for (const c of publishCases(actor)) {
          if (!client?.connected) client = await connectAs(actor.id);
          const outcome = await publish(client, c.frame);
          t.check(`${actor.id} publishes ${c.frame.topic} (${c.why}): ${c.expected}`, outcome === c.expected, {
            refusal: c.expected === "refused",
            detail: outcome,
          });
        }
        client?.end(true);
      }),
    );

    await Promise.all(
      FLEET.map(async (actor) => {
        const client = await connectAs(actor.id);
        for (const c of subscribeCases(actor)) {
          const granted = await subscribe(client, [c.filter]);
          const want = c.expected === "accepted" ? [1] : [128];
          t.check(`${actor.id} subscribes ${c.filter} (${c.why}): ${c.expected}`, Bun.deepEquals(granted, want), {
            refusal: c.expected === "refused",
            detail: JSON.stringify(granted),
          });
        }
        // One SUBSCRIBE with an own filter and another device's: the refused one gets 0x80, the other stands.
        const own = VENDORS[actor.vendor].downlink(actor.id)[0]!;
        const foreign = VENDORS[actor.vendor].downlink(strangerTo(actor, actor.vendor).id)[0]!;
        const mixed = await subscribe(client, [own, foreign]);
        t.check(`${actor.id} subscribes [own, ${foreign}] at once: [1, 128]`, Bun.deepEquals(mixed, [1, 128]), {
          refusal: true,
          detail: JSON.stringify(mixed),
        });
        client.end(true);
      }),
    );

    // A will is a publish too, sent when its client dies: one on another device's topic must not go out.
    const watcher = await connectAs("acl-a");
    const seenByA: string[] = [];
    watcher.on("message", (_topic, payload) => seenByA.push(payload.toString()));
    await watcher.subscribeAsync("generic/acl-a/status", { qos: 1 });
    const forger = await connectAs("acl-b", {
      topic: "generic/acl-a/status",
      payload: Buffer.from(json({ state: "offline", id: "forged-will" })),
      qos: 1,
      retain: false,
    });
    forger.stream.destroy();
    // Control: acl-b's will on its own topic does go out, so the one above had every chance to.
    const control = await connectAs("acl-b", { topic: "generic/acl-b/status", payload: Buffer.from(json({ state: "offline" })), qos: 1, retain: false });
    control.stream.destroy();
    const controlled = await within(10_000, "acl-b's own will stored", async () => (await messages("acl-b")).some((m) => m.kind === KINDS.statusOffline));
    t.check("a will on the device's own topic is published (control)", controlled === true, { detail: "acl-b's will never reached its message log" });
    await Bun.sleep(500);
    const forgedStored = (await messages("acl-a")).some((m) => m.kind === KINDS.statusOffline);
    t.check("a will on another device's topic is not published", seenByA.length === 0 && !forgedStored, {
      refusal: true,
      detail: `acl-a's subscription got ${JSON.stringify(seenByA)}; stored as acl-a's: ${forgedStored}`,
    });
    watcher.end(true);

    expect(t.report()).toEqual([]);
  }, 90_000);

  test("gateways speak only for their own sub-devices, and a command's reply counts only from its device or gateway", async () => {
    const t = tally("gateways and replies");
    const operator = jsonClient(`http://127.0.0.1:${ports.api}`, await testToken("operator"));
    const topo = (tid: string, sns: string[]) =>
      json({ tid, bid: tid, timestamp: Date.now(), method: "update_topo", data: { sub_devices: sns.map((sn) => ({ sn })) } });
    // dock-1's first session stays open throughout: the move at the end looks at it again.
    const dock1 = await live("dock-1");

    // DJI update_topo: a new device is adopted.
    t.check(
      "dock-1 publishes update_topo listing new drone-1",
      (await publish(dock1, { topic: "sys/product/dock-1/status", payload: topo("topo-adopt", ["drone-1"]) })) === "accepted",
    );
    const adopted = await within(10_000, "drone-1 registered", async () => {
      const d = await device("drone-1");
      return d.parentId === "dock-1" ? d : undefined;
    });
    t.check("a new sub-device is adopted: drone-1 registered as dji under dock-1", adopted?.vendor === "dji", {
      detail: JSON.stringify(adopted ?? (await device("drone-1"))),
    });
    const drone = await connect({ clientId: "drone-1", username: "drone-1", password: passwords.get("dock-1")! });
    t.check("an adopted sub-device has no password of its own: drone-1 cannot log in", typeof drone === "string", { refusal: true, detail: "logged in" });

    // Another gateway's device, or one registered on its own, is never taken: the whole frame is dead-lettered.
    for (const [gateway, sn, tid] of [
      ["dock-2", "drone-1", "topo-foreign-gateway"],
      ["dock-1", "drone-own", "topo-registered-own"],
    ] as const) {
      await publish(await live(gateway), { topic: `sys/product/${gateway}/status`, payload: topo(tid, [sn]) });
      const letter = await within(15_000, `dead letter ${tid}`, () => deadLetter(gateway, tid));
      t.check(`${gateway} listing ${sn} is dead-lettered foreign_sub_device`, letter?.code === "foreign_sub_device", {
        refusal: true,
        detail: letter ? `code ${letter.code}` : "no dead letter",
      });
    }
    t.check("drone-1 stays under dock-1", (await device("drone-1")).parentId === "dock-1", {
      refusal: true,
      detail: `parentId ${(await device("drone-1")).parentId}`,
    });
    t.check("drone-own stays on its own", (await device("drone-own")).parentId === null, {
      refusal: true,
      detail: `parentId ${(await device("drone-own")).parentId}`,
    });

    const swarm = Array.from({ length: MAX_SUB_DEVICES + 1 }, (_, i) => `swarm-${i + 1}`);
    await publish(dock1, { topic: "sys/product/dock-1/status", payload: topo("topo-too-many", swarm) });
    const tooMany = await within(15_000, "dead letter topo-too-many", () => deadLetter("dock-1", "topo-too-many"));
    const swarmStatus = (await admin.get("/api/v1/devices/swarm-1")).status;
    t.check(`update_topo listing ${swarm.length} sub-devices is refused and registers none`, tooMany !== undefined && swarmStatus === 404, {
      refusal: true,
      detail: `dead letter: ${tooMany?.code ?? "none"}; swarm-1: HTTP ${swarmStatus}`,
    });

    // Publishing as a sub-device: only its gateway may.
    const osd = { topic: "thing/product/drone-1/osd", payload: djiFrame({ tid: "osd-by-dock-1", data: { height: 42 } }) };
    t.check("dock-2 publishing drone-1's osd is refused", (await publish(await live("dock-2"), osd)) === "refused", { refusal: true });
    t.check("dock-1 publishing drone-1's osd is accepted", (await publish(dock1, osd)) === "accepted");
    const stored = await within(10_000, "drone-1's osd stored", async () =>
      (await messages("drone-1")).some((m) => m.kind === KINDS.propertyReport && m.data.height === 42),
    );
    t.check("drone-1's osd through dock-1 is stored as drone-1's", stored === true);

    // Tuya batch_report: for its own sub-device stored, for another device dead-lettered.
    const tgw = await live("tgw-1");
    const batch = (msgId: string, deviceId: string) =>
      json({ msgId, time: Date.now(), data: { properties: {}, subDevices: [{ deviceId, properties: { level: { value: 7, time: Date.now() } } }] } });
    t.check(
      "tgw-1's batch_report for tsub-1 is accepted by the broker",
      (await publish(tgw, { topic: "tylink/tgw-1/thing/data/batch_report", payload: batch("batch-own", "tsub-1") })) === "accepted",
    );
    const ownBatch = await within(10_000, "tsub-1's batch stored", async () =>
      (await messages("tsub-1")).some((m) => m.kind === KINDS.propertyReport && "level" in m.data),
    );
    t.check("tgw-1's batch_report for its sub-device tsub-1 is stored as tsub-1's", ownBatch === true);
    await publish(tgw, { topic: "tylink/tgw-1/thing/data/batch_report", payload: batch("batch-foreign", "tsub-foreign") });
    const foreignBatch = await within(15_000, "dead letter batch-foreign", () => deadLetter("tgw-1", "batch-foreign"));
    t.check("tgw-1's batch_report for tsub-foreign is dead-lettered foreign_sub_device", foreignBatch?.code === "foreign_sub_device", {
      refusal: true,
      detail: foreignBatch ? `code ${foreignBatch.code}` : "no dead letter",
    });
    // tsub-foreign's own reports (above) are stored; none may carry the batch's "level".
    const foreignStored = (await messages("tsub-foreign")).filter((m) => m.kind === KINDS.propertyReport && "level" in m.data);
    t.check("nothing of tsub-foreign is stored from tgw-1's frame", foreignStored.length === 0, { refusal: true, detail: JSON.stringify(foreignStored) });

    const metrics = await (await fetch(`http://127.0.0.1:${ports.uplink}/metrics`)).text();
    const counted = [...metrics.matchAll(/^iot_uplink_messages_invalid_total\{[^}]*code="foreign_sub_device"[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    t.check("the uplink counts the 3 foreign_sub_device frames", counted >= 3, {
      detail: `iot_uplink_messages_invalid_total{code="foreign_sub_device"} = ${counted}`,
    });

    // Replies: acl-a is online and takes commands; acl-b learns a command id and answers in its name.
    const a = await live("acl-a");
    const calls: string[] = [];
    a.on("message", (_topic, payload) => calls.push(JSON.parse(payload.toString()).correlationId));
    await a.subscribeAsync("generic/acl-a/service/call", { qos: 1 });
    await publish(a, { topic: "generic/acl-a/status", payload: json({ state: "online" }) });
    await within(10_000, "acl-a online", async () => (await device("acl-a")).online === true);
    const b = await live("acl-b");
    const commandStatus = async (id: string) => (await operator.get(`/api/v1/commands/${id}`)).body.status as string;
    /** The command's final state: waits for it to leave queued and sent (the timeout is 3 s). */
    const settled = (id: string) =>
      within(15_000, `command ${id} settled`, async () => {
        const status = await commandStatus(id);
        return status === "queued" || status === "sent" ? undefined : status;
      });

    const first = (await operator.post("/api/v1/devices/acl-a/commands", { service: "blink", timeoutMs: 3000 })).body.id as string;
    t.check("the command reaches acl-a", (await within(10_000, "call delivered", () => calls.includes(first))) === true);
    await publish(b, { topic: "generic/acl-b/service/reply", payload: json({ correlationId: first, code: 0 }) });
    await within(10_000, "acl-b's reply stored", async () => (await messages("acl-b")).some((m) => m.correlationId === first));
    const strangerOutcome = await settled(first);
    t.check("acl-b's reply to acl-a's command does not ack it: it times out", strangerOutcome === "timeout", {
      refusal: true,
      detail: `status ${strangerOutcome ?? (await commandStatus(first))}`,
    });

    const second = (await operator.post("/api/v1/devices/acl-a/commands", { service: "blink", timeoutMs: 3000 })).body.id as string;
    await within(10_000, "second call delivered", () => calls.includes(second));
    await publish(a, { topic: "generic/acl-a/service/reply", payload: json({ correlationId: second, code: 0 }) });
    t.check("acl-a's own reply acks its command", (await settled(second)) === "acked", { detail: `status ${await commandStatus(second)}` });

    // The same through a gateway: drone-1's command goes to dock-1; dock-2 cannot answer it, dock-1 can.
    const djiReply = (tid: string) => djiFrame({ tid, bid: tid, method: "probe", data: { result: 0 } });
    const third = (await operator.post("/api/v1/devices/drone-1/commands", { service: "probe", timeoutMs: 3000 })).body.id as string;
    await within(10_000, "drone-1's command sent", async () => (await commandStatus(third)) === "sent");
    await publish(await live("dock-2"), { topic: "thing/product/dock-2/services_reply", payload: djiReply(third) });
    await within(10_000, "dock-2's reply stored", async () => (await messages("dock-2")).some((m) => m.correlationId === third));
    const otherGateway = await settled(third);
    t.check("dock-2's reply to drone-1's command does not ack it: it times out", otherGateway === "timeout", {
      refusal: true,
      detail: `status ${otherGateway ?? (await commandStatus(third))}`,
    });
    const fourth = (await operator.post("/api/v1/devices/drone-1/commands", { service: "probe", timeoutMs: 3000 })).body.id as string;
    await within(10_000, "drone-1's second command sent", async () => (await commandStatus(fourth)) === "sent");
    await publish(dock1, { topic: "thing/product/dock-1/services_reply", payload: djiReply(fourth) });
    t.check("dock-1's reply acks its sub-device drone-1's command", (await settled(fourth)) === "acked", { detail: `status ${await commandStatus(fourth)}` });

    // An admin moves drone-1 under dock-2: from then on dock-2 speaks for it and dock-1 does not, also
    // on the session dock-1 has had open since before the move (where it already published drone-1's osd).
    const moved = await admin.patch("/api/v1/devices/drone-1", { parentId: "dock-2" });
    t.check("an admin moves drone-1 under dock-2", moved.status === 200 && moved.body.parentId === "dock-2", { detail: `HTTP ${moved.status}` });
    t.check("after the move dock-2 may publish drone-1's osd", (await publish(await live("dock-2"), osd)) === "accepted");
    // Closing the old gateway's session at the move is a refusal too: what it had been allowed is forgotten.
    const closedAtMove = await eventually(() => !dock1.connected || undefined, 2000, "dock-1's session closed at the move").then(
      () => true,
      () => false,
    );
    const stale = closedAtMove ? "refused" : await publish(dock1, osd);
    t.check("after the move dock-1 may not, on the session it had open before", stale === "refused", {
      refusal: true,
      detail: `${stale}: the broker kept its earlier yes for this topic`,
    });
    dock1.end(true);
    const fresh = await publish(await live("dock-1"), osd);
    t.check("after the move dock-1 may not, on a new connection", fresh === "refused", { refusal: true, detail: fresh });

    for (const session of sessions.values()) session.end(true);
    expect(t.report()).toEqual([]);
  }, 120_000);

  test("rotating a device's password closes its live session and only the new password logs in", async () => {
    const t = tally("mqtt acl: rotation");
    const old = passwords.get("acl-b")!;
    const session = await connectAs("acl-b");
    let closedAt = 0;
    session.once("close", () => (closedAt = Date.now()));

    const denied = await jsonClient(`http://127.0.0.1:${ports.api}`, await testToken("operator")).post("/api/v1/devices/acl-b/credentials", {});
    t.check("an operator cannot rotate a password", denied.status === 403, { refusal: true, detail: `HTTP ${denied.status}` });
    const rotatedAt = Date.now();
    const rotated = await admin.post("/api/v1/devices/acl-b/credentials", {});
    t.check("an admin rotates acl-b's password", rotated.status === 200, { detail: `HTTP ${rotated.status}` });
    const closed = await within(2500, "acl-b's session closed", () => closedAt > 0);
    t.check("acl-b's live session is closed within 2 s", closed === true && closedAt - rotatedAt <= 2000, {
      refusal: true,
      detail: closedAt ? `after ${closedAt - rotatedAt} ms` : "still open",
    });

    const withOld = await connect({ clientId: "acl-b", username: "acl-b", password: old });
    t.check("the old password is refused", typeof withOld === "string", { refusal: true, detail: "logged in" });
    const withNew = await connect({ clientId: "acl-b", username: "acl-b", password: rotated.body.password });
    t.check("the new password logs in", typeof withNew !== "string", { detail: String(withNew) });
    if (typeof withNew !== "string") withNew.end(true);

    expect(t.report()).toEqual([]);
  }, 30_000);

  // Last of the family: tsub-foreign stays locked out for a minute (apps/standalone/src/mqtt/login-limiter.ts).
  test("a username that failed ten logins is refused unchecked, even with its password, while other devices log in", async () => {
    const t = tally("mqtt acl: login limit");
    const id = "tsub-foreign";
    for (let i = 0; i < 10; i++) {
      const guess = await connect({ clientId: id, username: id, password: `guess-${i}` });
      t.check(`wrong password ${i + 1} is refused`, typeof guess === "string", { refusal: true, detail: "logged in" });
    }
    const right = await connect({ clientId: id, username: id, password: passwords.get(id)! });
    t.check("the right password is refused now, unchecked", typeof right === "string", { refusal: true, detail: "logged in" });
    if (typeof right !== "string") right.end(true);
    const other = await connect({ clientId: "acl-a", username: "acl-a", password: passwords.get("acl-a")! });
    t.check("another device still logs in", typeof other !== "string", { detail: String(other) });
    if (typeof other !== "string") other.end(true);
    expect(t.report()).toEqual([]);
  }, 30_000);
});

// --------------------------------------------------------------------------------------------
// Cluster mode: the same rules behind VerneMQ's webhooks, called as VerneMQ calls them.

describe("cluster mode: VerneMQ's webhooks", () => {
  const WEBHOOK_TOKEN = "mqtt-acl-webhook-token-0123456789";
  const GATEWAY_PASSWORD = "mqtt-acl-gateway-password";
  let vhost: TestVhost | undefined;
  let database: TestDatabase | undefined;
  let api: App | undefined;
  let base: string;
  let admin: Api;
  let passwords: Map<string, string>;

  beforeAll(async () => {
    [vhost, database] = await Promise.all([createVhost(), createDatabase()]);
    const config = testConfig(
      { busUrl: vhost.url, postgresUrl: database.url },
      { UMOS_MQTT__USERNAME: "iot-gateway", UMOS_MQTT__PASSWORD: GATEWAY_PASSWORD, UMOS_AUTH__WEBHOOK_TOKEN: WEBHOOK_TOKEN },
    );
    api = inProcess(createApi, config, "iot-api");
    await api.start();
    base = `http://127.0.0.1:${api.port}`;
    // Without an uplink no frame adopts drone-1 here: an admin puts it under dock-1.
    admin = jsonClient(base, await testToken("admin"));
    passwords = await registerFleet(admin, [{ id: "drone-1", vendor: "dji", gateway: "dock-1" }]);
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await Promise.all([vhost?.dispose(), database?.dispose()]);
  });

  async function hook(name: string, body: unknown, query = `?token=${WEBHOOK_TOKEN}`, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}/api/v1/webhooks/vernemq${query}`, {
      method: "POST",
      headers: { "content-type": "application/json", "vernemq-hook": name, ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  }

  const OK = { result: "ok" };
  const NOT_ALLOWED = { result: { error: "not_allowed" } };
  const verdict = (expected: Outcome) => (expected === "accepted" ? OK : NOT_ALLOWED);

  function check(t: Tally, name: string, answer: { status: number; body: Json }, expected: unknown, refusal: boolean) {
    t.check(name, answer.status === 200 && Bun.deepEquals(answer.body, expected), { refusal, detail: `HTTP ${answer.status} ${JSON.stringify(answer.body)}` });
  }

  test("auth_on_register, auth_on_publish and auth_on_subscribe (v3 and m5) answer the same matrix; the webhook needs its token", async () => {
    const t = tally("mqtt acl: VerneMQ webhook");
    const login = { username: "acl-a", password: passwords.get("acl-a")!, client_id: "acl-a", mountpoint: "" };

    const none = await hook("auth_on_register", login, "");
    t.check("no token: 401", none.status === 401, { refusal: true, detail: `HTTP ${none.status}` });
    const wrong = await hook("auth_on_register", login, `?token=${WEBHOOK_TOKEN.slice(0, -1)}x`);
    t.check("a wrong token: 401", wrong.status === 401, { refusal: true, detail: `HTTP ${wrong.status}` });
    const jwt = await hook("auth_on_register", login, "", { authorization: `Bearer ${await testToken("admin")}` });
    t.check("an admin's JWT instead of the token: 401", jwt.status === 401, { refusal: true, detail: `HTTP ${jwt.status}` });

    for (const [v, suffix] of [
      ["v3", ""],
      ["m5", "_m5"],
    ] as const) {
      for (const c of loginCases(passwords)) {
        const answer = await hook(`auth_on_register${suffix}`, {
          peer_addr: "127.0.0.1",
          peer_port: 50_000,
          username: c.username ?? null,
          password: c.password ?? null,
          mountpoint: "",
          client_id: c.clientId,
          clean_session: true,
        });
        check(t, `${v} login: ${c.name}`, answer, verdict(c.expected), c.expected === "refused");
      }
      // mqtt.js cannot send this one (MQTT 3.1.1 §3.1.2.9: no password flag without the username flag); VerneMQ may still ask.
      check(
        t,
        `${v} login: a password without a username`,
        await hook(`auth_on_register${suffix}`, { username: null, password: passwords.get("acl-a")!, client_id: "acl-a", mountpoint: "" }),
        NOT_ALLOWED,
        true,
      );
      check(
        t,
        `${v} login: the gateway's account`,
        await hook(`auth_on_register${suffix}`, { username: "iot-gateway", password: GATEWAY_PASSWORD, client_id: "iot-gateway-a-0", mountpoint: "" }),
        OK,
        false,
      );

      const publishAs = (username: string | null, clientId: string, topic: string) =>
        hook(`auth_on_publish${suffix}`, {
          username,
          client_id: clientId,
          mountpoint: "",
          qos: 1,
          topic,
          payload: Buffer.from("{}").toString("base64"),
          retain: false,
        });
      for (const actor of FLEET) {
        for (const c of publishCases(actor)) {
          check(
            t,
            `${v} ${actor.id} publishes ${c.frame.topic} (${c.why}): ${c.expected}`,
            await publishAs(actor.id, actor.id, c.frame.topic),
            verdict(c.expected),
            c.expected === "refused",
          );
        }
      }
      check(t, `${v} dock-1 publishes its sub-device drone-1's osd`, await publishAs("dock-1", "dock-1", "thing/product/drone-1/osd"), OK, false);
      check(t, `${v} dock-2 publishes dock-1's drone-1's osd: refused`, await publishAs("dock-2", "dock-2", "thing/product/drone-1/osd"), NOT_ALLOWED, true);
      check(
        t,
        `${v} a session with another client id than its username publishes: refused`,
        await publishAs("acl-a", "acl-b", "generic/acl-b/property/report"),
        NOT_ALLOWED,
        true,
      );
      check(t, `${v} a session without a username publishes: refused`, await publishAs(null, "acl-a", "generic/acl-a/property/report"), NOT_ALLOWED, true);
      check(t, `${v} the gateway's account publishes a command`, await publishAs("iot-gateway", "iot-gateway-a-0", "generic/acl-a/service/call"), OK, false);

      const subscribeAs = (actor: string, filters: string[]) =>
        hook(`auth_on_subscribe${suffix}`, { username: actor, client_id: actor, mountpoint: "", topics: filters.map((topic) => ({ topic, qos: 1 })) });
      for (const actor of FLEET) {
        for (const c of subscribeCases(actor)) {
          check(
            t,
            `${v} ${actor.id} subscribes ${c.filter} (${c.why}): ${c.expected}`,
            await subscribeAs(actor.id, [c.filter]),
            verdict(c.expected),
            c.expected === "refused",
          );
        }
        const mixed = [VENDORS[actor.vendor].downlink(actor.id)[0]!, VENDORS[actor.vendor].downlink(strangerTo(actor, actor.vendor).id)[0]!];
        // The refused filter is rewritten to 128 (v3, at the top level) or 135 (m5, under modifiers); the other stands.
        const topics = [
          { topic: mixed[0], qos: 1 },
          { topic: mixed[1], qos: v === "v3" ? 128 : 135 },
        ];
        check(
          t,
          `${v} ${actor.id} subscribes [own, ${mixed[1]}] at once`,
          await subscribeAs(actor.id, mixed),
          v === "v3" ? { ...OK, topics } : { ...OK, modifiers: { topics } },
          true,
        );
      }
    }

    // The webhook answers from the database as it is now; VerneMQ keeps a yes for its max-age (auth.webhookCacheSec).
    expect((await admin.patch("/api/v1/devices/drone-1", { parentId: "dock-2" })).status).toBe(200);
    const publishOsd = (gateway: string) =>
      hook("auth_on_publish", {
        username: gateway,
        client_id: gateway,
        mountpoint: "",
        qos: 1,
        topic: "thing/product/drone-1/osd",
        payload: "",
        retain: false,
      });
    check(t, "after an admin moves drone-1 under dock-2, dock-2 publishes its osd", await publishOsd("dock-2"), OK, false);
    check(t, "after an admin moves drone-1 under dock-2, dock-1 may not", await publishOsd("dock-1"), NOT_ALLOWED, true);

    const rotated = await admin.post("/api/v1/devices/acl-b/credentials", {});
    const register = (password: string) => hook("auth_on_register", { username: "acl-b", password, client_id: "acl-b", mountpoint: "" });
    check(t, "after a rotation the old password is refused", await register(passwords.get("acl-b")!), NOT_ALLOWED, true);
    check(t, "after a rotation the new password logs in", await register(rotated.body.password), OK, false);

    expect(t.report()).toEqual([]);
  }, 60_000);
});
