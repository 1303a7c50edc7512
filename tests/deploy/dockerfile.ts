/** A Dockerfile as stages of instructions: enough to check ours, not a general parser. */
export interface Stage {
  name: string;
  /** The image or the earlier stage it starts from. */
  from: string;
  instructions: Array<{ op: string; args: string }>;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, " ").split("\n");
  for (const line of lines.map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue;
    const [, op = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === "FROM") {
      const [, from = "", name = ""] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** The arguments of a stage's instructions of one kind, its base stages' first (what it inherits). */
export function inherited(stages: Stage[], name: string, op: string): string[] {
  const stage = stages.find((s) => s.name === name);
  if (!stage) return [];
  const own = stage.instructions.filter((i) => i.op === op).map((i) => i.args);
  return [...inherited(stages, stage.from, op), ...own];
}
