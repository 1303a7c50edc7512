export { connectBus, connectServiceBus, type Bus, type BusOptions } from "./bus";
export { declareTopology, declareWsQueue, WORK_QUEUES, WS_BINDING, REPLAYABLE_QUEUES, type QueueType } from "./topology";
export type { BusMessage, PublishOptions, Publisher, MessageHandler, ConsumeOptions, Consumer } from "./message";
export { publishEnvelope } from "./envelope-publisher";
export { readEnvelope } from "./envelope-reader";
export { publishStatus } from "./command-status-publisher";
export { publishForGateway } from "./gateway-frame-publisher";
