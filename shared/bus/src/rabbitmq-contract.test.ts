import { createVhost } from "@umos/testkit";
import { busContract } from "./bus.contract";
import { connectBus } from "./connect";

// A vhost per case: queues, dead letters and bindings start empty every time.
busContract("RabbitMQ", createVhost, connectBus);
