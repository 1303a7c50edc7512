export {
  freePort,
  rabbitmqctl,
  createVhost,
  createDatabase,
  startMosquitto,
  waitForPort,
  eventually,
  RABBITMQ_HOST,
  POSTGRES_URL,
  type TestVhost,
  type TestDatabase,
  type TestMosquitto,
} from "./services";
export { testEnv, testConfig, type TestEndpoints } from "./config";
export { startPlatform, SERVICES, type RunningPlatform, type ServiceName } from "./platform";
