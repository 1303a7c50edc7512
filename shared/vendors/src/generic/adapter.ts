import { validateDefinition } from "@umos/thing-model";
import type { VendorAdapter } from "../interface";
import { ownerUnder } from "../topic-owner";
import { decode, encode, routeTopic, uplinkFilters } from "./transform";

/** The canonical protocol of docs/design.md §10; its thing models are UMOS definitions as they are. */
export const genericAdapter: VendorAdapter = {
  vendor: "generic",
  uplinkFilters,
  routeTopic,
  deviceOfTopic: (topic) => ownerUnder(topic, ["generic/"]),
  decode,
  encode,
  toReal: (properties) => properties,
  importModel: validateDefinition,
};
