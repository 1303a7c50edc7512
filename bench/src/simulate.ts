/**
 * A device fleet for a platform running elsewhere, so the k6 scripts (bench/k6) have devices to
 * command and traffic to watch: registers `--devices` generic devices through the API, brings them
 * online, answers every service call, and reports at `--rate` msg/s in all until `--seconds` pass.
 *
 *   bun bench/src/simulate.ts --mqtt mqtt://host:1883 --api http://host:8080 --token <admin JWT> \
 *     --devices 100 --prefix k6- --rate 2000 --seconds 60
 */
import { parseArgs } from "node:util";
import { connectFleet } from "./clients/devices";
import { pace } from "./load/pace";
import { reportPayload } from "./payload";

const { values } = parseArgs({
  options: {
    mqtt: { type: "string", default: "mqtt://127.0.0.1:1883" },
    api: { type: "string", default: "http://127.0.0.1:8080" },
    token: { type: "string", default: "" },
    devices: { type: "string", default: "10" },
    prefix: { type: "string", default: "k6-" },
    rate: { type: "string", default: "0" },
    seconds: { type: "string", default: "60" },
  },
});

const ids = Array.from({ length: Number(values.devices) }, (_, i) => `${values.prefix}${i}`);
const headers = { "content-type": "application/json", authorization: `Bearer ${values.token}` };
for (const id of ids) {
  const res = await fetch(`${values.api}/api/v1/devices`, { method: "POST", headers, body: JSON.stringify({ id, vendor: "generic" }) });
  // 409: registered by an earlier run, which is as good.
  if (res.status !== 201 && res.status !== 409) throw new Error(`registering ${id}: ${res.status} ${await res.text()}`);
}
const fleet = await connectFleet(values.mqtt, ids);
await fleet.answerCalls();
await fleet.announceOnline();
console.log(`${ids.length} devices online (${ids[0]} ... ${ids.at(-1)}), reporting ${values.rate} msg/s for ${values.seconds} s`);

const seconds = Number(values.seconds);
const rate = Number(values.rate);
// The bench's own pacing, with nothing to wait for: the k6 scripts watch the arrivals.
const report = { send: (seq: number, stamp: number) => fleet.report(seq, reportPayload(stamp)), arrived: () => {} };
if (rate > 0) await pace(report, { rate, warmupSeconds: 0, seconds, processes: [], tracked: () => false });
else await Bun.sleep(seconds * 1000);
await fleet.close();
