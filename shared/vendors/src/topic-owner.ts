/**
 * The device a topic or topic filter belongs to: the level right after one of the vendor's
 * prefixes, when it is a literal id (a `+` or `#` there would reach other devices' topics).
 */
export function ownerUnder(topic: string, prefixes: readonly string[]): string | undefined {
  for (const prefix of prefixes) {
    if (!topic.startsWith(prefix)) continue;
    const end = topic.indexOf("/", prefix.length);
    const id = topic.slice(prefix.length, end === -1 ? undefined : end);
    return id === "" || id === "+" || id === "#" ? undefined : id;
  }
  return undefined;
}
