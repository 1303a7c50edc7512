import { POSTGRES_URL, startTcpProxy, rabbitmqctl } from "@umos/testkit";
import { startRig } from "./rig";
import { runFaultStream } from "./stream";
const proxy = await startTcpProxy(Number(new URL(POSTGRES_URL).port || 5432));
const rig = await startRig({ postgresPort: proxy.port, env: { UMOS_LOG__LEVEL: "warn" } });
const vhost = decodeURIComponent(new URL(rig.ends.rabbitmqUrl).pathname.slice(1));
let t0 = 0;
const mon = setInterval(async () => {
  if (!t0) return;
  const [r] = await rig.ends.sql`select count(*)::int n from message_log where device_id like 'dbg%'`;
  const q = await rabbitmqctl("list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged", "consumers").catch(() => "");
  const line = q.split("\n").find((l) => l.startsWith("iot-uplink-queue")) ?? "";
  console.log("MON", ((Date.now() - t0) / 1000).toFixed(1), "log", r!.n, "conns", proxy.connections, line.replace(/\s+/g, " "));
}, 1000);
try {
  await runFaultStream(rig.ends, "pg", async () => { t0 = Date.now(); console.log("FAULT START"); proxy.cut(); await Bun.sleep(20000); proxy.restore(); console.log("RESTORED", (Date.now() - t0) / 1000); }, { tag: "dbg", devices: 1, commandRate: 1, seconds: 25 });
} catch (e) { console.log(String(e)); }
clearInterval(mon);
await rig.dispose(); await proxy.stop();
