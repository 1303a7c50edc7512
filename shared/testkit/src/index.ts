export {
  freePort,
  rabbitmqctl,
  createVhost,
  createBusFile,
  createDatabase,
  createMigratedDatabase,
  startMosquitto,
  waitForPort,
  eventually,
  uid,
  RABBITMQ_HOST,
  POSTGRES_URL,
  type TestVhost,
  type TestBusFile,
  type TestDatabase,
  type TestMosquitto,
} from "./services";
export { testEnv, testConfig, testToken, testDeps, TEST_JWT_SECRET, type TestEndpoints, type TestDepsOptions } from "./config";
export { inProcess, type InProcessOptions } from "./parts";
export { manualClock, type ManualClock } from "./clock";
export { startPlatform, startStack, SERVICES, type RunningPlatform, type ServiceName, type TestStack } from "./platform";
export { jsonClient, wsDashboard, type Json, type JsonResponse } from "./clients";
export {
  startVictoriaMetrics,
  createInfluxDatabase,
  INFLUXDB_URL,
  type TestVictoriaMetrics,
  type TestInfluxDatabase,
  type ExportedSeries,
} from "./time-series";
export { createTestCA, startTlsProxy, type TestCA, type TlsProxy } from "./tls";
export { startTcpProxy, type TcpProxy } from "./tcp-proxy";
export { startRabbitMQ, type PrivateRabbitMQ } from "./rabbitmq-node";
export { startSmtpServer, type TestSmtpServer, type ReceivedMail } from "./smtp";
export { startWebhookReceiver, type TestWebhookReceiver, type ReceivedCall } from "./webhook-receiver";
