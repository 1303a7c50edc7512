import { afterAll, describe, expect, test } from "bun:test";
import { KINDS } from "@umos/contracts";
import { answerOf, type DeviceBehaviour, type Frame } from "./behaviour";
import { aircraftOf, djiDock, OTA_CREATE } from "./dji";
import { genericDevice, OTA_SERVICE } from "./generic";
import { tuyaPlug } from "./tuya";
import type { FirmwareOptions } from "./ota";
import { COMMAND_ID, command, decode } from "./test/platform";

/**
 * Firmware updates over real HTTP (docs/protocols.md: Firmware updates): the device answers the
 * command at once, downloads the file, checks it, and says how it went in progress frames; the new
 * version counts only once the device reports it.
 */
const FILE = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) % 251);
const SHA256 = new Bun.CryptoHasher("sha256").update(FILE).digest("hex");
const MD5 = new Bun.CryptoHasher("md5").update(FILE).digest("hex");
const server = Bun.serve({
  port: 0,
  fetch: (req) => (new URL(req.url).pathname === "/fw.bin" ? new Response(FILE) : new Response("no such file", { status: 404 })),
});
afterAll(() => server.stop(true));
const FILE_URL = `${server.url}fw.bin`;

interface Package {
  url: string;
  size: number;
  sha256: string;
  md5: string;
}
const good: Package = { url: FILE_URL, size: FILE.length, sha256: SHA256, md5: MD5 };
const fast: FirmwareOptions = { installMs: 5 };

/** What the tests need of each vendor: its device, its update command, and how to read its frames. */
interface Vendor {
  make(options: FirmwareOptions): DeviceBehaviour;
  call(file: Package, version: string): Frame;
  /** A progress frame's status in the vendor's words, or undefined for any other frame. */
  status(frame: Frame): string | undefined;
  /** The version the device's next regular report carries. */
  version(device: DeviceBehaviour): unknown;
  /** Its status for an update that went through. */
  done: string;
}

const body = (frame: Frame) => JSON.parse(frame.payload);

const generic: Vendor = {
  make: (options) => genericDevice("thermo-1", Date.now, options),
  call: (file, version) =>
    command("generic", "thermo-1", KINDS.serviceCall, { service: OTA_SERVICE, params: { url: file.url, version, sha256: file.sha256, size: file.size } }),
  status: (frame) => (frame.topic.endsWith("/event/report") ? body(frame).data.state : undefined),
  version: (device) => (decode(device.report()[0]!).messages[0]!.envelope.data as { firmware_version: unknown }).firmware_version,
  done: "done",
};

const dji: Vendor = {
  make: (options) => djiDock("dock-1", Date.now, options),
  call: (file, version) => command("dji", "dock-1", KINDS.serviceCall, { service: OTA_CREATE, params: { devices: [entry("dock-1", file, version)] } }),
  status: (frame) => (frame.topic.endsWith("/events") ? body(frame).data.output.status : undefined),
  version: (device) => body(device.report()[0]!).data.firmware_version,
  done: "ok",
};

function entry(sn: string, file: Package, version: string) {
  return { sn, product_version: version, file_url: file.url, md5: file.md5, file_size: file.size, file_name: "fw.bin", firmware_upgrade_type: 1 };
}

/** The immediate answer and every frame the update sends after it, once it has ended. */
async function update(device: DeviceBehaviour, call: Frame) {
  expect(device.subscriptions).toContain(call.topic);
  const { frames, later } = answerOf(device.receive(call.topic, call.payload));
  const after: Frame[] = [];
  if (later) for await (const out of later) after.push(out);
  return { answer: frames, after };
}

/** Each run of equal values once: the order of the steps, however many events each one raised. */
const runs = <T>(values: T[]) => values.filter((v, i) => i === 0 || v !== values[i - 1]);
const steps = (vendor: Vendor, frames: Frame[]) => runs(frames.map(vendor.status).filter((s) => s !== undefined));

describe.each([
  ["generic device", generic],
  ["DJI dock", dji],
] as const)("a %s", (_, vendor) => {
  test("runs 1.0.0 until told otherwise, and says so in its regular reports", () => {
    expect(vendor.version(vendor.make(fast))).toBe("1.0.0");
    expect(vendor.version(vendor.make({ firmwareVersion: "3.1.4" }))).toBe("3.1.4");
  });

  test("downloads, checks and installs an update, then reports the new version", async () => {
    const device = vendor.make(fast);
    const { answer, after } = await update(device, vendor.call(good, "2.0.0"));
    expect(answer).toHaveLength(1);
    expect(decode(answer[0]!).messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
    // Every frame the update sends is one the platform reads, and its progress is matched to the command.
    for (const out of after) expect(decode(out).messages).toHaveLength(1);
    for (const out of after.filter((f) => vendor.status(f))) expect(decode(out).messages[0]!.envelope.correlationId).toBe(COMMAND_ID);
    expect(steps(vendor, after).at(-1)).toBe(vendor.done);
    expect(vendor.status(after.at(-1)!)).toBeUndefined();
    expect(vendor.version(device)).toBe("2.0.0");
  });

  const failures: [string, Package, FirmwareOptions, RegExp][] = [
    ["a wrong checksum", { ...good, sha256: "0".repeat(64), md5: "0".repeat(32) }, fast, /sha256|md5/],
    ["a file smaller than the update says", { ...good, size: FILE.length + 1 }, fast, /has 200000 bytes/],
    ["a file larger than the update says", { ...good, size: FILE.length - 1 }, fast, /larger/],
    ["a download error (404)", { ...good, url: `${server.url}missing.bin` }, fast, /HTTP 404/],
    ["a device told to fail updates", good, { ...fast, failUpdates: true }, /told to fail the update/],
  ];
  test.each(failures)("ends failed on %s, keeping its version", async (_, file, options, reason) => {
    const device = vendor.make(options);
    const { answer, after } = await update(device, vendor.call(file, "2.0.0"));
    expect(decode(answer[0]!).messages[0]!.envelope.data).toMatchObject({ code: 0 });
    expect(steps(vendor, after).at(-1)).toBe("failed");
    // The failure is the last frame: no new version is reported.
    expect(vendor.status(after.at(-1)!)).toBe("failed");
    expect(vendor.version(device)).toBe("1.0.0");
    if (vendor === generic) expect(body(after.at(-1)!).data.message).toMatch(reason);
    else expect(body(after.at(-1)!).data.result).not.toBe(0);
  });

  test("a device told to fail updates still downloads the file first", async () => {
    const { after } = await update(vendor.make({ ...fast, failUpdates: true }), vendor.call(good, "2.0.0"));
    expect(steps(vendor, after)).toEqual(vendor === generic ? ["downloading", "verifying", "installing", "failed"] : ["in_progress", "failed"]);
    expect(body(after.at(-2)!).data).toMatchObject(vendor === generic ? { percent: 100 } : { output: { progress: { percent: 100 } } });
  });

  test("refuses a malformed update at once and starts nothing", async () => {
    const { answer, after } = await update(vendor.make(fast), vendor.call({ ...good, url: "ftp://example.com/fw.bin" }, "2.0.0"));
    expect(decode(answer[0]!).messages[0]!.envelope.data).toMatchObject({ code: 1 });
    expect(after).toEqual([]);
  });
});

describe("generic device updates", () => {
  test("raise ota.progress events with the call's correlationId, in order, then report firmware_version", async () => {
    const { answer, after } = await update(generic.make(fast), generic.call(good, "2.0.0"));
    expect(body(answer[0]!)).toMatchObject({ correlationId: COMMAND_ID, code: 0, data: { accepted: true } });
    const events = after.slice(0, -1).map(body);
    for (const event of events)
      expect(event).toMatchObject({ id: expect.any(String), ts: expect.any(Number), event: "ota.progress", correlationId: COMMAND_ID });
    const downloading = events.filter((e) => e.data.state === "downloading").map((e) => e.data.percent);
    // At most one event per quarter of the file, from 0 up.
    expect(downloading[0]).toBe(0);
    expect(downloading.length).toBeLessThanOrEqual(4);
    expect(downloading).toEqual([...downloading].sort((a, b) => a - b));
    expect(events.slice(downloading.length).map((e) => e.data)).toEqual([
      { percent: 100, state: "verifying" },
      { percent: 100, state: "installing" },
      { percent: 100, state: "done" },
    ]);
    expect(after.at(-1)!.topic).toBe("generic/thermo-1/property/report");
    expect(body(after.at(-1)!).data).toEqual({ firmware_version: "2.0.0" });
  });

  test("a device told to fail refuses the update call like any other", async () => {
    const { answer, after } = await update(genericDevice("thermo-1", Date.now, { failing: true }), generic.call(good, "2.0.0"));
    expect(body(answer[0]!)).toMatchObject({ code: 1 });
    expect(after).toEqual([]);
  });
});

describe("DJI dock updates", () => {
  const progress = (frame: Frame) => body(frame).data.output.progress;

  test("send ota_progress events on the task's bid, then osd with the new firmware_version", async () => {
    const { answer, after } = await update(dji.make(fast), dji.call(good, "2.0.0"));
    expect(body(answer[0]!)).toMatchObject({ tid: COMMAND_ID, bid: COMMAND_ID, method: OTA_CREATE, data: { result: 0 } });
    const [osd] = after.splice(-1);
    const events = after.map(body);
    for (const event of events) expect(event).toMatchObject({ bid: COMMAND_ID, method: "ota_progress", need_reply: 0, gateway: "dock-1", data: { result: 0 } });
    expect(new Set(events.map((e) => e.tid)).size).toBe(events.length);
    expect(runs(events.map((e) => e.data.output.progress.current_step))).toEqual(["download_firmware", "upgrade_firmware"]);
    expect(events[0].data.output).toEqual({ status: "in_progress", progress: { percent: 0, current_step: "download_firmware" } });
    expect(events.at(-1).data.output).toEqual({ status: "ok", progress: { percent: 100, current_step: "upgrade_firmware" } });
    expect(osd!.topic).toBe("thing/product/dock-1/osd");
    expect(body(osd!).data).toMatchObject({ firmware_version: "2.0.0", drone_in_dock: 1 });
  });

  test("updates its aircraft too when the task names it, and ignores other devices' entries", async () => {
    const device = dji.make(fast);
    const aircraft = aircraftOf("dock-1");
    const devices = [entry("someone-else", good, "9.9.9"), entry("dock-1", good, "2.0.0"), entry(aircraft, good, "7.0.0")];
    const { after } = await update(device, command("dji", "dock-1", KINDS.serviceCall, { service: OTA_CREATE, params: { devices } }));
    const percents = after.filter((f) => dji.status(f)).map((f) => progress(f).percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(after.slice(-2).map((f) => [f.topic, body(f).data.firmware_version])).toEqual([
      ["thing/product/dock-1/osd", "2.0.0"],
      [`thing/product/${aircraft}/osd`, "7.0.0"],
    ]);
  });

  test("refuses a task that names none of its devices", async () => {
    const call = command("dji", "dock-1", KINDS.serviceCall, { service: OTA_CREATE, params: { devices: [entry("someone-else", good, "2.0.0")] } });
    const { answer, after } = await update(dji.make(fast), call);
    expect(body(answer[0]!).data.result).not.toBe(0);
    expect(after).toEqual([]);
  });
});

describe("Tuya plug updates (TuyaLink OTA topics)", () => {
  const issue = (file: Package, version: string): Frame => ({
    topic: "tylink/plug-1/ota/issue",
    payload: JSON.stringify({ msgId: "m1", time: 1, version: "1.0", data: { channel: 0, url: file.url, size: String(file.size), md5: file.md5, version } }),
  });
  /** What the platform reads from each frame the update sent: the progress state, or the version reported. */
  const read = (frames: Frame[]) =>
    frames.map((f) => {
      const envelope = decode(f).messages[0]!.envelope as { kind: string; data: { data?: { state: string }; firmware_version?: string } };
      return envelope.kind === "event.report" ? envelope.data.data!.state : `version ${envelope.data.firmware_version}`;
    });

  test("announces its version, reports progress on ota/progress/report and the new version on ota/firmware/report", async () => {
    const device = tuyaPlug("plug-1", Date.now, fast);
    expect(read(device.announce().filter((f) => f.topic.includes("/ota/")))).toEqual(["version 1.0.0"]);
    const { answer, after } = await update(device, issue(good, "2.0.0"));
    expect(answer).toEqual([]);
    expect(runs(read(after))).toEqual(["in_progress", "done", "version 2.0.0"]);
  });

  test("a wrong checksum ends with progress -1, read as failed, and no new version", async () => {
    const { after } = await update(tuyaPlug("plug-1", Date.now, fast), issue({ ...good, md5: "0".repeat(32) }, "2.0.0"));
    expect(read(after).at(-1)).toBe("failed");
    expect(read(after)).not.toContain("version 2.0.0");
  });
});
