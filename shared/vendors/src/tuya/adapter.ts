import type { VendorAdapter } from "../interface";
import { importTuyaModel } from "./model-import";
import { toReal } from "./scale";
import { decode, encode, routeTopic, uplinkFilters } from "./transform";

/** TuyaLink devices; downlink goes to `tylink/{id}/thing/property/set` and `.../thing/action/execute`. */
export const tuyaAdapter: VendorAdapter = { vendor: "tuya", uplinkFilters, routeTopic, decode, encode, toReal, importModel: importTuyaModel };
