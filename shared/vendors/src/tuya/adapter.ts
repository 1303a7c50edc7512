import type { VendorAdapter } from "../interface";
import { ownerUnder } from "../topic-owner";
import { importTuyaModel } from "./model-import";
import { toReal } from "./scale";
import { decode, encode, routeTopic, uplinkFilters } from "./transform";

/** TuyaLink devices; downlink goes to `tylink/{id}/thing/property/set` and `.../thing/action/execute`. */
export const tuyaAdapter: VendorAdapter = {
  vendor: "tuya",
  uplinkFilters,
  routeTopic,
  deviceOfTopic: (topic) => ownerUnder(topic, ["tylink/"]),
  decode,
  encode,
  toReal,
  importModel: importTuyaModel,
};
