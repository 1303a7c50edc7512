/**
 * AMQP 0-9-1 topic matching, as RabbitMQ does it (rabbit_exchange_type_topic): keys and patterns
 * are words split on "."; `*` is exactly one word (which may be empty), `#` is zero or more words.
 * An empty key has no words at all, so `#` matches it and `*` does not.
 */
export function compileTopic(pattern: string): (routingKey: string) => boolean {
  const words = splitWords(pattern);
  return (routingKey) => matchFrom(words, 0, splitWords(routingKey), 0);
}

function splitWords(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

function matchFrom(pattern: string[], p: number, key: string[], k: number): boolean {
  while (p < pattern.length) {
    const word = pattern[p];
    if (word === "#") {
      // Collapse runs of `#`: `#.#` means no more than `#`, and would otherwise backtrack twice.
      while (pattern[p + 1] === "#") p++;
      if (p === pattern.length - 1) return true;
      for (let skip = k; skip <= key.length; skip++) if (matchFrom(pattern, p + 1, key, skip)) return true;
      return false;
    }
    if (k >= key.length || (word !== "*" && word !== key[k])) return false;
    p++;
    k++;
  }
  return k === key.length;
}
