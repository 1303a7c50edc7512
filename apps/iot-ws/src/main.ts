import { connectServiceBus } from "@umos/bus";
import { runMain } from "@umos/runtime";
import { createApp } from "./app";

await runMain("iot-ws", async (config, deps, parts) =>
  createApp(config, {
    ...deps,
    bus: parts.use(await connectServiceBus(config.bus, "iot-ws", config.instance, deps.log, deps.obs), (bus) => bus.close(), "the bus"),
  }),
);
