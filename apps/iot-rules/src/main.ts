import { connectServiceBus } from "@umos/bus";
import { runMain } from "@umos/runtime";
import { openMigratedDatabase } from "@umos/store";
import { createApp } from "./app";

await runMain("iot-rules", async (config, deps, parts) =>
  createApp(config, {
    ...deps,
    db: parts.use(await openMigratedDatabase(config.postgres, deps.log), (db) => db.close(), "the database"),
    bus: parts.use(await connectServiceBus(config.bus, "iot-rules", config.instance, deps.log, deps.obs), (bus) => bus.close(), "the bus"),
  }),
);
