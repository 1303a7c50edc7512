export { connectBus, connectServiceBus, shareBus } from "./connect";
export type { Bus, BusOptions, BusMessage, PublishOptions, Publisher, MessageHandler, ConsumeOptions, Consumer, QueueType } from "./types";
export { WORK_QUEUES, WS_BINDING, REPLAYABLE_QUEUES } from "./topology";
export { declareTopology, declareWsQueue } from "./rabbitmq/declare";
export { publishEnvelope } from "./envelope-publisher";
export { readEnvelope } from "./envelope-reader";
export { publishStatus } from "./command-status-publisher";
export { publishForGateway } from "./gateway-frame-publisher";
export { copyEmbeddedBus } from "./embedded/shared-broker";
