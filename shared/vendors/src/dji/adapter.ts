import { validateDefinition } from "@umos/thing-model";
import type { VendorAdapter } from "../interface";
import { ownerUnder } from "../topic-owner";
import { decode, encode, routeTopic, uplinkFilters } from "./transform";

/**
 * DJI Cloud API docks, remote controllers and aircraft. DJI's own property, event and service
 * specs use the TSL shape (docs/protocols.md §3), so its models import as UMOS definitions unchanged.
 */
export const djiAdapter: VendorAdapter = {
  vendor: "dji",
  uplinkFilters,
  routeTopic,
  deviceOfTopic: (topic) => ownerUnder(topic, ["thing/product/", "sys/product/"]),
  decode,
  encode,
  toReal: (data) => data,
  importModel: validateDefinition,
};
