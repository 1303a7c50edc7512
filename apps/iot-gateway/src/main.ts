import { runMain } from "@umos/runtime";
import { createApp } from "./app";

await runMain("iot-gateway", createApp);
