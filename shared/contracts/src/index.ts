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
  isStage,
  type Vendor,
  type Stage,
  type ParsedRoutingKey,
} from "./routing";
export { EnvelopeSchema, VendorSchema, envelopeChecker, KINDS, type Envelope } from "./envelope";
export {
  commandStatusEvent,
  commandEnvelope,
  CommandStatusSchema,
  OPEN_STATUSES,
  type CommandState,
  type CommandStatus,
  type CommandCall,
} from "./command-status";
export { storageProblem, MAX_JSON_DEPTH, MAX_KEY_LENGTH, LATEST_TIMESTAMP_MS } from "./storable";
export { WS_CLOSE } from "./ws-close";
