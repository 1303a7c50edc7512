import postgres from "postgres";
import {
  createDatabase,
  createVhost,
  jsonClient,
  POSTGRES_URL,
  startMosquitto,
  startPlatform,
  startTcpProxy,
  testToken,
  type RunningPlatform,
  type TestDatabase,
  type TestMosquitto,
  type TcpProxy,
} from "@umos/testkit";
import type { StreamEnds } from "./stream";

export interface RigOptions {
  /** RabbitMQ for the services, and for the test's own clients; default: a new vhost on the shared node for both. */
  rabbitmq?: { serviceUrl: string; testUrl: string };
  /** The services reach PostgreSQL through a proxy the case controls (cut, slow down); the shared server keeps running. */
  postgresProxy?: boolean;
  env?: Record<string, string>;
}

/** The six services as processes on a database, a Mosquitto and RabbitMQ of their own, wired the way a case needs. */
export interface Rig {
  platform: RunningPlatform;
  broker: TestMosquitto;
  database: TestDatabase;
  /** With `postgresProxy`: what stands between the services and PostgreSQL. */
  postgresProxy: TcpProxy | null;
  ends: StreamEnds;
  dispose(): Promise<void>;
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const [vhost, database, broker, postgresProxy] = await Promise.all([
    options.rabbitmq ? null : createVhost(),
    createDatabase(),
    startMosquitto(),
    options.postgresProxy ? startTcpProxy(Number(new URL(POSTGRES_URL).port || 5432)) : null,
  ]);
  const rabbitmq = options.rabbitmq ?? { serviceUrl: vhost!.url, testUrl: vhost!.url };
  const servicePostgres = new URL(database.url);
  if (postgresProxy) servicePostgres.port = String(postgresProxy.port);
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  let platform: RunningPlatform | undefined;
  const dispose = async () => {
    await platform?.stop();
    await sql.end();
    await Promise.all([vhost?.dispose(), database.dispose(), broker.stop(), postgresProxy?.stop()]);
  };
  try {
    platform = await startPlatform(
      { busUrl: rabbitmq.serviceUrl, mqttUrl: broker.url, postgresUrl: servicePostgres.toString() },
      // The services' own logs are quiet unless FAULT_LOG_LEVEL asks (warn, info) while looking into a failure.
      { UMOS_LOG__LEVEL: process.env.FAULT_LOG_LEVEL ?? "error", UMOS_DOWNLINK__SWEEP_INTERVAL_MS: "100", ...options.env },
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  const token = await testToken("admin");
  const ends: StreamEnds = { api: jsonClient(platform.apiUrl, token), sql, mqttUrl: broker.url, wsUrl: platform.wsUrl, token, rabbitmqUrl: rabbitmq.testUrl };
  return { platform, broker, database, postgresProxy, ends, dispose };
}
