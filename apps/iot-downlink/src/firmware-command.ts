import { KINDS, type Vendor } from "@umos/contracts";
import type { FirmwarePackage, PreparedCommand } from "@umos/store";
import { TUYA_OTA_ISSUE } from "@umos/vendors";

/**
 * The update command each vendor's devices take for a package (docs/fleet.md, Firmware updates),
 * with the signed link they download it by. The job counts the update done only when the device
 * reports `expectVersion` as its `firmware_version`.
 */
export function firmwareCommand(device: { id: string; vendor: Vendor }, pkg: FirmwarePackage, url: string): PreparedCommand | { refused: string } {
  switch (device.vendor) {
    case "generic":
      // Ours (docs/interfaces.md, Generic): progress comes back as `ota.progress` events with the call's correlationId.
      return {
        kind: KINDS.serviceCall,
        service: "ota",
        params: { url, version: pkg.version, sha256: pkg.sha256, size: pkg.size },
        expectVersion: pkg.version,
      };
    case "dji":
      // DJI Cloud API `ota_create` on the gateway's services topic; progress comes as `ota_progress` events with its bid.
      return {
        kind: KINDS.serviceCall,
        service: "ota_create",
        params: {
          devices: [
            {
              sn: device.id,
              product_version: pkg.version,
              file_url: url,
              md5: pkg.md5,
              file_size: pkg.size,
              file_name: pkg.fileName,
              firmware_upgrade_type: 1,
            },
          ],
        },
        expectVersion: pkg.version,
      };
    case "tuya":
      // TuyaLink `ota/issue` (the shape Tuya's cloud sends; size as text); progress comes on `ota/progress/report`,
      // the new version on `ota/firmware/report`. No hmac: it is keyed by a secret of Tuya's cloud.
      return {
        kind: KINDS.serviceCall,
        service: TUYA_OTA_ISSUE,
        params: {
          channel: 0,
          url,
          ...(url.startsWith("https:") ? { httpsUrl: url } : {}),
          size: String(pkg.size),
          md5: pkg.md5,
          version: pkg.version,
          upgradeType: 0,
          execTime: 0,
        },
        expectVersion: pkg.version,
      };
  }
}
