import { connectServiceBus } from "@umos/bus";
import { runMain } from "@umos/runtime";
import { createApp } from "./app";

await runMain("iot-gateway", async (config, deps, parts) => {
  // With a spool the gateway starts and takes device frames while RabbitMQ is still out of reach.
  const bus = { ...config.bus, startOffline: config.gateway.spool.enabled };
  return createApp(config, {
    ...deps,
    bus: parts.use(await connectServiceBus(bus, "iot-gateway", config.instance, deps.log, deps.obs), (b) => b.close(), "the bus"),
  });
});
