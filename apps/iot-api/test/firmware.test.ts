import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Json, testToken } from "@umos/testkit";
import { type AlarmApi, startAlarmApi } from "./alarm-api";

/** Firmware packages through iot-api in process: streamed uploads into a directory, signed and resumable downloads. */
const MAX_BYTES = 1_048_576;
let api: AlarmApi;
let dir: string;
let admin: string;

/** 300 KiB of bytes that are not all alike, so a wrong range or a torn file shows in the checksum. */
const PACKAGE = Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "umos-firmware-"));
  api = await startAlarmApi({ UMOS_FIRMWARE__DIR: dir, UMOS_FIRMWARE__MAX_BYTES: String(MAX_BYTES) });
  admin = await testToken("admin");
}, 30_000);

afterAll(async () => {
  await api?.dispose();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** The bytes as a stream of 64 KiB chunks with no declared length, as a large upload arrives. */
const chunked = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 65_536) controller.enqueue(bytes.slice(i, i + 65_536));
      controller.close();
    },
  });

async function upload(bytes: Uint8Array, query: string, token = admin) {
  const res = await api.api.handle(
    new Request(`http://localhost:8080/api/v1/firmware?${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: chunked(bytes),
    }),
  );
  return { status: res.status, body: (await res.json()) as Json };
}

const get = (url: string, headers: Record<string, string> = {}) => api.api.handle(new Request(url, { headers }));

describe("firmware packages", () => {
  let id: string;

  test("an upload is streamed into storage with its sha256 and md5, and a second of the same version is refused", async () => {
    expect((await upload(PACKAGE, "vendor=generic&version=2.0.0&fileName=fw.bin", await testToken("operator"))).status).toBe(403);
    const created = await upload(PACKAGE, "vendor=generic&model=thermostat&version=2.0.0&fileName=fw-2.0.0.bin&notes=fixes");
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      vendor: "generic",
      model: "thermostat",
      version: "2.0.0",
      size: PACKAGE.length,
      sha256: sha256(PACKAGE),
      md5: new Bun.CryptoHasher("md5").update(PACKAGE).digest("hex"),
    });
    id = created.body.id;
    expect(readdirSync(dir)).toEqual([id]);
    expect((await upload(PACKAGE, "vendor=generic&model=thermostat&version=2.0.0&fileName=again.bin")).status).toBe(409);
    expect(readdirSync(dir)).toEqual([id]);
    expect((await api.call("viewer", "GET", "/api/v1/firmware?vendor=generic")).body.items.map((p: { id: string }) => p.id)).toEqual([id]);
  });

  test("an upload past firmware.maxBytes is refused with 413 and leaves nothing behind", async () => {
    const big = await upload(new Uint8Array(MAX_BYTES + 1), "vendor=generic&version=9.9.9&fileName=big.bin");
    expect(big).toMatchObject({ status: 413, body: { error: { code: "body_too_large" } } });
    expect(readdirSync(dir)).toEqual([id]);
  });

  test("a signed link downloads the package without a token, and a download cut short resumes with a range", async () => {
    expect((await api.call("viewer", "POST", `/api/v1/firmware/${id}/links`, {})).status).toBe(403);
    const link = await api.call("operator", "POST", `/api/v1/firmware/${id}/links`, { ttlSec: 600 });
    expect(link.status).toBe(200);
    expect(link.body.url).toStartWith(`http://localhost:8080/api/v1/firmware/${id}/download?expires=`);
    const whole = await get(link.body.url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(sha256(PACKAGE));
    // The first 100,000 bytes arrived before the connection dropped; the rest is asked for by range.
    const first = new Uint8Array(await (await get(link.body.url, { range: "bytes=0-99999" })).arrayBuffer());
    const rest = await get(link.body.url, { range: "bytes=100000-" });
    expect(rest.status).toBe(206);
    expect(rest.headers.get("content-range")).toBe(`bytes 100000-${PACKAGE.length - 1}/${PACKAGE.length}`);
    const resumed = new Uint8Array([...first, ...new Uint8Array(await rest.arrayBuffer())]);
    expect(sha256(resumed)).toBe(sha256(PACKAGE));
    expect((await get(link.body.url, { range: "bytes=-10" })).headers.get("content-range")).toBe(
      `bytes ${PACKAGE.length - 10}-${PACKAGE.length - 1}/${PACKAGE.length}`,
    );
    expect((await get(link.body.url, { range: `bytes=${PACKAGE.length}-` })).status).toBe(416);
  });

  test("a link with a changed signature, expiry or package is refused", async () => {
    const { url } = (await api.call("operator", "POST", `/api/v1/firmware/${id}/links`, {})).body as { url: string };
    const u = new URL(url);
    const expires = u.searchParams.get("expires")!;
    const signature = u.searchParams.get("signature")!;
    const tampered = [
      url.replace(`signature=${signature}`, `signature=${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}`),
      url.replace(`expires=${expires}`, `expires=${Number(expires) + 60}`),
      url.replace(`expires=${expires}`, "expires=1000"),
      url.replace(id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
      `http://localhost:8080/api/v1/firmware/${id}/download`,
    ];
    for (const bad of tampered) expect((await get(bad)).status).toBe(403);
  });

  test("deleting a package removes its file, and its links stop working", async () => {
    const { url } = (await api.call("operator", "POST", `/api/v1/firmware/${id}/links`, {})).body as { url: string };
    expect((await api.call("admin", "DELETE", `/api/v1/firmware/${id}`)).status).toBe(204);
    expect(readdirSync(dir)).toEqual([]);
    expect((await get(url)).status).toBe(404);
  });
});
