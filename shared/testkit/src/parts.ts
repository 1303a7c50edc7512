import { connectServiceBus, type Bus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { resourceStack, type App, type AppDeps } from "@umos/runtime";
import { openMigratedDatabase, type Database } from "@umos/store";
import { testDeps, type TestDepsOptions } from "./config";

export interface InProcessOptions extends TestDepsOptions {
  /** Open no database: for the services that use none (iot-gateway, iot-ws). */
  db?: false;
}

/**
 * A service created in the test's own process the way its main.ts puts it together: start() opens
 * the bus and (unless `db: false`) the database from the configuration and hands them to createApp;
 * stop() stops the service, then closes them.
 */
export function inProcess<P extends AppDeps & { bus: Bus; db?: Database }>(
  createApp: (config: UmosConfig, parts: P) => App,
  config: UmosConfig,
  service: string,
  options: InProcessOptions = {},
): App {
  const deps = testDeps(service, options);
  const parts = resourceStack(deps.log);
  let app: App | undefined;
  return {
    get port() {
      return app?.port ?? 0;
    },
    async start() {
      try {
        const bus = parts.use(await connectServiceBus(config.bus, service, config.instance, deps.log, deps.obs), (b) => b.close());
        const db = options.db === false ? undefined : parts.use(await openMigratedDatabase(config.postgres, deps.log), (d) => d.close());
        app = createApp(config, { ...deps, bus, db } as P);
        await app.start();
      } catch (err) {
        await parts.closeAll();
        throw err;
      }
    },
    async stop() {
      await app?.stop();
      await parts.closeAll();
    },
  };
}
