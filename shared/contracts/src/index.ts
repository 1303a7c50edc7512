export {
  VENDORS,
  isVendor,
  EXCHANGE,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE,
  REPLAY_EXCHANGE,
  GATEWAY_EDGE,
  QUEUES,
  HEADERS,
  wsQueueName,
  MAX_SUB_DEVICES,
  GATEWAY_CLIENT_PREFIX,
  gatewayClientId,
  routingKey,
  parseRoutingKey,
  type Vendor,
  type Stage,
  type ParsedRoutingKey,
} from "./routing";
export { EnvelopeSchema, VendorSchema, envelopeChecker, KINDS, type Envelope } from "./envelope";
export { commandStatusEvent, type CommandState } from "./command-status";
export { storageProblem, MAX_JSON_DEPTH, MAX_KEY_LENGTH, LATEST_TIMESTAMP_MS } from "./storable";
