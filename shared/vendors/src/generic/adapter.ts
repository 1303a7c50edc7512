import type { VendorAdapter } from "../interface";
import { decode, encode, routeTopic, uplinkFilters } from "./transform";

export const genericAdapter: VendorAdapter = { vendor: "generic", uplinkFilters, routeTopic, decode, encode };
