export { adapterFor, activeAdapters, routeTopic } from "./registry";
export type { VendorAdapter, TopicRoute, RawFrame, Decoded, DecodedMessage, EncodedFrame, TargetContext } from "./interface";
