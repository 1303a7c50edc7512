import { describe, expect, test } from "bun:test";
import mqttPacket, { type IPubackPacket, type Packet } from "mqtt-packet";
import { createFramer, type FramedPacket } from "./packet-framing";
import { decodePublish, encodePubacks } from "./publish-codec";

const v4 = { protocolVersion: 4 } as const;

function frames(chunks: Buffer[]): FramedPacket[] {
  const out: FramedPacket[] = [];
  const framer = createFramer((p) => out.push({ ...p, bytes: Buffer.from(p.bytes) }));
  for (const chunk of chunks) framer.push(chunk);
  return out;
}

describe("MQTT 3.1.1 framing and PUBLISH decoding, checked against mqtt-packet", () => {
  const qos1 = mqttPacket.generate(
    { cmd: "publish", topic: "generic/dé-1/property/report", payload: Buffer.from('{"data":{"t":1}}'), qos: 1, messageId: 513, dup: true, retain: false },
    v4,
  );
  const qos0 = mqttPacket.generate({ cmd: "publish", topic: "a/b", payload: Buffer.from("x"), qos: 0, dup: false, retain: false }, v4);
  const empty = mqttPacket.generate({ cmd: "publish", topic: "a/b", payload: Buffer.alloc(0), qos: 1, messageId: 1, dup: false, retain: false }, v4);
  const large = mqttPacket.generate(
    { cmd: "publish", topic: "big", payload: Buffer.alloc(20_000, 7), qos: 1, messageId: 65535, dup: false, retain: false },
    v4,
  );
  const ping = mqttPacket.generate({ cmd: "pingresp" }, v4);

  test("a QoS 1 PUBLISH yields topic, packet id and payload, which follows the packet id directly (§3.3.2: no Properties)", () => {
    expect(decodePublish(frames([qos1])[0]!, 4)).toEqual({
      topic: "generic/dé-1/property/report",
      qos: 1,
      messageId: 513,
      payload: Buffer.from('{"data":{"t":1}}'),
    });
  });

  test("a payload whose first byte would read as a Properties length is kept whole", () => {
    // 0x05 would be taken for five bytes of MQTT 5 Properties; in 3.1.1 it is payload.
    const tricky = mqttPacket.generate(
      { cmd: "publish", topic: "t", payload: Buffer.from([5, 1, 2, 3, 4, 5, 6]), qos: 1, messageId: 9, dup: false, retain: false },
      v4,
    );
    expect(decodePublish(frames([tricky])[0]!, 4).payload).toEqual(Buffer.from([5, 1, 2, 3, 4, 5, 6]));
  });

  test("QoS 0 has no packet id; an empty QoS 1 payload is empty", () => {
    expect(decodePublish(frames([qos0])[0]!, 4)).toEqual({ topic: "a/b", qos: 0, messageId: undefined, payload: Buffer.from("x") });
    expect(decodePublish(frames([empty])[0]!, 4)).toEqual({ topic: "a/b", qos: 1, messageId: 1, payload: Buffer.alloc(0) });
  });

  test("the payload is a view into the received bytes, not a copy", () => {
    let payload: Buffer | undefined;
    createFramer((p) => (payload = decodePublish(p, 4).payload)).push(qos1);
    expect(payload!.buffer).toBe(qos1.buffer);
  });

  test("packets split byte by byte come out whole and in order", () => {
    const stream = Buffer.concat([qos1, ping, large, qos0]);
    const byByte = frames(Array.from(stream, (b) => Buffer.from([b])));
    expect(byByte.map((p) => p.type)).toEqual([3, 13, 3, 3]);
    expect(decodePublish(byByte[2]!, 4).payload.length).toBe(20_000);
  });

  test("the PUBACKs are valid MQTT 3.1.1 PUBACKs (§3.4: fixed header and packet id)", () => {
    const parsed: IPubackPacket[] = [];
    const parser = mqttPacket.parser(v4);
    parser.on("packet", (p: Packet) => parsed.push(p as IPubackPacket));
    parser.parse(encodePubacks([1, 258, 65535]));
    expect(parsed.map((p) => [p.cmd, p.messageId])).toEqual([
      ["puback", 1],
      ["puback", 258],
      ["puback", 65535],
    ]);
  });
});
