import postgres from "postgres";
import {
  createDatabase,
  createVhost,
  jsonClient,
  startMosquitto,
  startPlatform,
  testToken,
  type RunningPlatform,
  type TestDatabase,
  type TestMosquitto,
} from "@umos/testkit";
import type { StreamEnds } from "./stream";

export interface RigOptions {
  /** RabbitMQ for the services, and for the test's own clients; default: a new vhost on the shared node for both. */
  rabbitmq?: { serviceUrl: string; testUrl: string };
  /** The services reach PostgreSQL on this local port (a proxy the case controls) instead of 5432. */
  postgresPort?: number;
  env?: Record<string, string>;
}

/** The five services as processes on a database, a Mosquitto and RabbitMQ of their own, wired the way a case needs. */
export interface Rig {
  platform: RunningPlatform;
  broker: TestMosquitto;
  database: TestDatabase;
  ends: StreamEnds;
  dispose(): Promise<void>;
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const [vhost, database, broker] = await Promise.all([options.rabbitmq ? null : createVhost(), createDatabase(), startMosquitto()]);
  const rabbitmq = options.rabbitmq ?? { serviceUrl: vhost!.url, testUrl: vhost!.url };
  const servicePostgres = new URL(database.url);
  if (options.postgresPort) servicePostgres.port = String(options.postgresPort);
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  let platform: RunningPlatform | undefined;
  const dispose = async () => {
    await platform?.stop();
    await sql.end();
    await Promise.all([vhost?.dispose(), database.dispose(), broker.stop()]);
  };
  try {
    platform = await startPlatform(
      { rabbitmqUrl: rabbitmq.serviceUrl, mqttUrl: broker.url, postgresUrl: servicePostgres.toString() },
      // The services' own logs are quiet unless FAULT_LOG_LEVEL asks (warn, info) while looking into a failure.
      { UMOS_LOG__LEVEL: process.env.FAULT_LOG_LEVEL ?? "error", UMOS_DOWNLINK__SWEEP_INTERVAL_MS: "100", ...options.env },
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  const token = await testToken("admin");
  const ends: StreamEnds = { api: jsonClient(platform.apiUrl, token), sql, mqttUrl: broker.url, wsUrl: platform.wsUrl, token, rabbitmqUrl: rabbitmq.testUrl };
  return { platform, broker, database, ends, dispose };
}
