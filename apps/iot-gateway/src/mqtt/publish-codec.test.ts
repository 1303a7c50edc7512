import { describe, expect, test } from "bun:test";
import mqttPacket, { type IPubackPacket, type Packet } from "mqtt-packet";
import { createFramer, type FramedPacket } from "./packet-framing";
import { decodePublish, encodePubacks } from "./publish-codec";

const v5 = { protocolVersion: 5 } as const;

function frames(chunks: Buffer[]): FramedPacket[] {
  const out: FramedPacket[] = [];
  const framer = createFramer((p) => out.push({ ...p, bytes: Buffer.from(p.bytes) }));
  for (const chunk of chunks) framer.push(chunk);
  return out;
}

describe("MQTT 5 framing and PUBLISH decoding, checked against mqtt-packet", () => {
  const qos1 = mqttPacket.generate(
    {
      cmd: "publish",
      topic: "generic/dé-1/property/report",
      payload: Buffer.from('{"data":{"t":1}}'),
      qos: 1,
      messageId: 513,
      dup: false,
      retain: false,
      properties: { userProperties: { a: "b" }, subscriptionIdentifier: 7 },
    },
    v5,
  );
  const qos0 = mqttPacket.generate({ cmd: "publish", topic: "a/b", payload: Buffer.alloc(0), qos: 0, dup: false, retain: false }, v5);
  const large = mqttPacket.generate(
    { cmd: "publish", topic: "big", payload: Buffer.alloc(20_000, 7), qos: 1, messageId: 65535, dup: false, retain: false },
    v5,
  );
  const ping = mqttPacket.generate({ cmd: "pingresp" }, v5);

  test("a QoS 1 PUBLISH yields its topic, packet id and payload, properties skipped (§3.3.2)", () => {
    const [packet] = frames([qos1]);
    expect(packet!.type).toBe(3);
    expect(decodePublish(packet!)).toEqual({ topic: "generic/dé-1/property/report", qos: 1, messageId: 513, payload: Buffer.from('{"data":{"t":1}}') });
  });

  test("QoS 0 has no packet id; an empty payload is empty", () => {
    expect(decodePublish(frames([qos0])[0]!)).toEqual({ topic: "a/b", qos: 0, messageId: undefined, payload: Buffer.alloc(0) });
  });

  test("the payload is a view into the received bytes, not a copy", () => {
    let payload: Buffer | undefined;
    createFramer((p) => (payload = decodePublish(p).payload)).push(qos1);
    expect(payload!.buffer).toBe(qos1.buffer);
  });

  test("packets split anywhere across chunks, even byte by byte, come out whole and in order", () => {
    const stream = Buffer.concat([qos1, ping, large, qos0]);
    const whole = frames([stream]);
    const byByte = frames(Array.from(stream, (b) => Buffer.from([b])));
    expect(whole.map((p) => p.type)).toEqual([3, 13, 3, 3]);
    expect(byByte.map((p) => p.bytes)).toEqual(whole.map((p) => p.bytes));
    expect(decodePublish(byByte[2]!).payload.length).toBe(20_000); // a three-byte Remaining Length
  });

  test("PUBACKs of reason Success are 4 bytes each and parse as such (§3.4.2.1)", () => {
    const parsed: IPubackPacket[] = [];
    const parser = mqttPacket.parser(v5);
    parser.on("packet", (p: Packet) => parsed.push(p as IPubackPacket));
    parser.parse(encodePubacks([1, 258, 65535]));
    expect(parsed.map((p) => [p.cmd, p.messageId, p.reasonCode ?? 0])).toEqual([
      ["puback", 1, 0],
      ["puback", 258, 0],
      ["puback", 65535, 0],
    ]);
  });
});

describe("W3C trace context in MQTT 5 User Properties", () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const publish = (properties: Record<string, unknown>) =>
    frames([
      mqttPacket.generate({ cmd: "publish", topic: "t", payload: Buffer.from("x"), qos: 1, messageId: 1, dup: false, retain: false, properties } as Packet, v5),
    ])[0]!;

  test("traceparent and tracestate are found among every other kind of property", () => {
    const packet = publish({
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
      contentType: "application/json",
      responseTopic: "r/t",
      correlationData: Buffer.from([1, 2, 3]),
      subscriptionIdentifier: 300,
      userProperties: { site: "north", traceparent, tracestate: "umos=1" },
    });
    expect(decodePublish(packet)).toMatchObject({ payload: Buffer.from("x"), traceparent, tracestate: "umos=1" });
  });

  test("without them, or in a properties block cut short, there is no trace context", () => {
    expect(decodePublish(publish({ userProperties: { site: "north" } })).traceparent).toBeUndefined();
    const packet = publish({ userProperties: { traceparent } });
    const { bytes, bodyOffset } = packet;
    // Cut the block short inside the value: the reader stops rather than reading past it.
    const propertiesAt = bodyOffset + 2 + 1 + 2;
    expect(decodePublish(packet).traceparent).toBe(traceparent);
    const truncatedLength = 1 + 2 + "traceparent".length + 2 + 10;
    const truncated = Buffer.from(bytes);
    truncated[propertiesAt] = truncatedLength;
    expect(decodePublish({ ...packet, bytes: truncated }).traceparent).toBeUndefined();
  });
});
