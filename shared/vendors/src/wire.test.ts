import { describe, expect, test } from "bun:test";
import { Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { InvalidInputError } from "@umos/core";
import { LATEST_TIMESTAMP_MS, parseFrame, toMillis } from "./wire";

const anything = TypeCompiler.Compile(T.Unknown());

function refusal(json: string): string {
  try {
    parseFrame(Buffer.from(json), anything, "test");
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return `${(err as InvalidInputError).code}: ${(err as Error).message}`;
  }
  throw new Error(`accepted ${json.slice(0, 40)}`);
}

describe("frames PostgreSQL could not store are refused as invalid, naming where", () => {
  // Each of these was accepted, then failed the message-log write and was retried until it gave up.
  test("U+0000 in a value or a key", () => {
    expect(refusal('{"data":{"a":"x\\u0000y"}}')).toBe("invalid_frame: test frame: /data/a: text holds U+0000 or an unpaired surrogate");
    expect(refusal('{"data":{"a\\u0000":1}}')).toBe("invalid_frame: test frame: /data/a\u0000: key holds U+0000 or an unpaired surrogate");
  });

  test("an unpaired surrogate, which jsonb refuses", () => {
    expect(refusal('{"data":["ok","\\ud800"]}')).toBe("invalid_frame: test frame: /data/1: text holds U+0000 or an unpaired surrogate");
    expect(() => parseFrame(Buffer.from('{"a":"\\ud83d\\ude00"}'), anything, "test")).not.toThrow();
  });

  test("nesting deeper than 32 levels, which overflowed JSON.stringify's stack", () => {
    expect(refusal(`{"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`)).toStartWith("invalid_frame: test frame: /data/0/0/0");
    expect(refusal(`{"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`)).toEndWith("nested deeper than 32 levels");
    expect(() => parseFrame(Buffer.from(`{"data":${"[".repeat(30)}${"]".repeat(30)}}`), anything, "test")).not.toThrow();
  });

  test("a key longer than 128 characters: a property name past 2,704 bytes broke the device_state index", () => {
    expect(refusal(`{"data":{"${"k".repeat(3000)}":1}}`)).toBe(`invalid_frame: test frame: /data/${"k".repeat(32)}...: key longer than 128 characters`);
  });
});

describe("toMillis", () => {
  test("a time past 2262 (InfluxDB's last nanosecond) gives way to the fallback, as a missing one does", () => {
    expect(toMillis(1e300, 5)).toBe(5);
    expect(toMillis("9e15", 5)).toBe(5);
    expect(toMillis(LATEST_TIMESTAMP_MS, 5)).toBe(LATEST_TIMESTAMP_MS);
    expect(toMillis(1_700_000_000, 5)).toBe(1_700_000_000_000);
  });
});
