/**
 * `bun run simulate`: generic thermostats, DJI docks (each with an aircraft) and Tuya plugs that
 * register through the REST API, connect to the MQTT broker, report, raise events, answer commands
 * and property sets as the real devices do, and now and then drop off and come back. Works against
 * `bun run dev` and `bun run start` alike (MQTT 3.1.1 by default, which both brokers speak).
 *
 *   bun run simulate                                   2 generic, 1 DJI dock, 1 Tuya plug, 1 report/s each
 *   bun run simulate -- --generic 100 --dji 0 --tuya 0 --rate 20 --prefix k6- --seconds 90
 *   bun run simulate -- --offline-every 60 --offline-for 10
 *   bun run simulate -- --history 60                   an hour of past reports first, so charts have something to show
 *
 * Without --token it mints an admin token with the local platform's secret, as `bun run token` does.
 */
import { ConfigError, loadConfig } from "@umos/config";
import { commandLine } from "@umos/runtime";
import { behaviours, fleetClock, RegistrationError, reportHistory, runFleet, startFleet, type SimulatedDevice } from "@umos/simulator";
import { developmentToken, NoDevelopmentSecretError } from "./dev-token";

const USAGE = `bun run simulate -- [options]: simulated devices that register through the REST API and speak MQTT

  --generic <n>, --dji <n>, --tuya <n>   how many of each (default 2, 1, 1; a DJI dock comes with its aircraft)
  --prefix <text>           device ids start with it (default sim-)
  --rate <n>                property reports per second per device (default 1)
  --event-every <s>         mean seconds between two events of a device, 0 for none (default 15)
  --offline-every <s>       mean seconds between two outages of a device, 0 for none (default 0)
  --offline-for <s>         how long an outage lasts (default 5)
  --seconds <s>             stop after this long, 0 to run until Ctrl-C (default 0)
  --history <minutes>       first send reports of the past minutes, one per device every 30 s, stamped with their times (default 0)
  --api <url>               the REST API (default http://127.0.0.1:8080)
  --mqtt <url>              the MQTT broker (default mqtt://127.0.0.1:1883)
  --protocol <4|5>          MQTT 3.1.1 or 5 (default 4)
  --answer-delay <ms>       how long a device takes to answer a command (default 200)
  --token <jwt>             an admin token to register with (default $UMOS_TOKEN, else minted with --data-dir's secret)
  --data-dir <dir>          the data directory of bun run start / bun run dev (default ./data)
  --no-register             connect with the ids only, registering nothing (the devices must exist)`;

const values = commandLine(
  "simulate",
  USAGE,
  {
    generic: { type: "string", default: "2" },
    dji: { type: "string", default: "1" },
    tuya: { type: "string", default: "1" },
    prefix: { type: "string", default: "sim-" },
    rate: { type: "string", default: "1" },
    "event-every": { type: "string", default: "15" },
    "offline-every": { type: "string", default: "0" },
    "offline-for": { type: "string", default: "5" },
    seconds: { type: "string", default: "0" },
    history: { type: "string", default: "0" },
    api: { type: "string", default: "http://127.0.0.1:8080" },
    mqtt: { type: "string", default: "mqtt://127.0.0.1:1883" },
    protocol: { type: "string", default: "4" },
    "answer-delay": { type: "string", default: "200" },
    token: { type: "string", default: process.env.UMOS_TOKEN },
    "data-dir": { type: "string", default: "data" },
    "no-register": { type: "boolean", default: false },
  },
  { asked: "bun run simulate -- --help" },
);

const count = (flag: string, min = 0) => {
  const n = Number(values[flag as keyof typeof values]);
  if (!Number.isFinite(n) || n < min) fail(`--${flag} must be a number of at least ${min}, not '${values[flag as keyof typeof values]}'`);
  return n;
};
const protocolVersion = count("protocol");
if (protocolVersion !== 4 && protocolVersion !== 5) fail(`--protocol must be 4 (MQTT 3.1.1) or 5, not ${protocolVersion}`);

/** Spacing of the reports --history sends. */
const HISTORY_EVERY_MS = 30_000;

const clock = fleetClock();
const fleet = behaviours({ generic: count("generic"), dji: count("dji"), tuya: count("tuya") }, values.prefix, clock.now);
if (fleet.length === 0) fail("no devices: pass --generic, --dji or --tuya");
const register = values["no-register"] ? undefined : { apiUrl: values.api.replace(/\/$/, ""), token: values.token ?? (await devToken()) };

const devices = await startFleet(fleet, {
  brokerUrl: values.mqtt,
  protocolVersion,
  reconnectMs: 1000,
  answerDelayMs: count("answer-delay"),
  register,
  onError: (id, err) => console.error(`${id}: ${err.message}`),
}).catch((err: unknown) => fail(err instanceof RegistrationError ? err.message : `cannot connect the devices to ${values.mqtt}: ${String(err)}`));

console.log(`${devices.length} devices online: ${devices.map((d) => d.behaviour.id).join(", ")}`);
if (count("history") > 0) {
  const sent = await reportHistory(devices, clock, count("history"), HISTORY_EVERY_MS);
  console.log(`sent ${sent} reports of the past ${count("history")} minutes`);
}
console.log(`reporting ${values.rate}/s each to ${values.mqtt}; send them commands (a service named 'fail' is refused). Ctrl-C stops.`);
const run = runFleet(devices, {
  rate: count("rate"),
  eventEverySec: count("event-every"),
  offlineEverySec: count("offline-every"),
  offlineForSec: count("offline-for"),
  onOutage: (device, phase) =>
    console.log(`${device.behaviour.id} ${phase === "down" ? "dropped off (its last will, where it has one, says offline)" : "is back"}`),
});
const status = setInterval(() => console.log(summary(devices)), 10_000);

const stop = async () => {
  run.stop();
  clearInterval(status);
  console.log(summary(devices));
  // A device switched off on purpose says so; the last will is for when it cannot.
  for (const device of devices) if (device.behaviour.will && device.connected) device.publish(device.behaviour.will.topic, device.behaviour.will.payload);
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
if (count("seconds") > 0) setTimeout(() => void stop(), count("seconds") * 1000);

function summary(all: readonly SimulatedDevice[]): string {
  const total = (key: "sent" | "received" | "answered") => all.reduce((sum, d) => sum + d.counters[key], 0);
  return `${all.filter((d) => d.connected).length}/${all.length} connected, ${total("sent")} frames sent, ${total("received")} received, ${total("answered")} answers`;
}

async function devToken(): Promise<string> {
  try {
    const config = await loadConfig([], process.env);
    return await developmentToken(config.auth, "admin", { subject: "simulator", dataDir: values["data-dir"] });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof NoDevelopmentSecretError) fail(`${err.message} (or pass --token)`);
    throw err;
  }
}

function fail(message: string): never {
  console.error(`simulate: ${message}`);
  process.exit(2);
}
