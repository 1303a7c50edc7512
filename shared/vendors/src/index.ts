export { adapterFor, activeAdapters, routeTopic } from "./registry";
export type { VendorAdapter, TopicRoute, RawFrame, Decoded, DecodedMessage, EncodedFrame, TargetContext } from "./interface";
export { TUYA_OTA_ISSUE } from "./tuya/transform";
