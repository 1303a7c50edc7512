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
export { startPlatform, startStack, SERVICES, type RunningPlatform, type ServiceName, type TestStack } from "./platform";
export { jsonClient, wsDashboard, type Json, type JsonResponse } from "./clients";
