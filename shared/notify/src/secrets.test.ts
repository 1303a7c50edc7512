import { describe, expect, test } from "bun:test";
import { secretBox } from "./secrets";

const KEY = "k".repeat(32);

describe("channel secrets at rest", () => {
  test("a sealed secret opens under the same key and channel, and does not show the secret", () => {
    const box = secretBox(KEY);
    const sealed = box.seal("hunter2-smtp-password", "channel-1");
    expect(sealed).not.toContain("hunter2");
    expect(box.seal("hunter2-smtp-password", "channel-1")).not.toBe(sealed);
    expect(box.open(sealed, "channel-1")).toBe("hunter2-smtp-password");
  });

  test("it does not open for another channel, under another key, or altered", () => {
    const sealed = secretBox(KEY).seal("s3cret", "channel-1");
    expect(() => secretBox(KEY).open(sealed, "channel-2")).toThrow("does not decrypt with notifications.secretKey");
    expect(() => secretBox("z".repeat(32)).open(sealed, "channel-1")).toThrow("does not decrypt");
    const altered = `${sealed.slice(0, -4)}AAA=`;
    expect(() => secretBox(KEY).open(altered, "channel-1")).toThrow("does not decrypt");
  });

  test("without notifications.secretKey nothing is sealed, and the error says what to set", () => {
    expect(() => secretBox(undefined).seal("s3cret", "channel-1")).toThrow("set notifications.secretKey");
  });
});
