export { adapterFor, activeAdapters, routeTopic } from "./registry";
export type { VendorAdapter, TopicRoute, RawFrame, DecodedMessage, EncodedFrame } from "./interface";
