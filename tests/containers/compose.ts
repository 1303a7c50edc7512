import { join } from "node:path";
import { root } from "./images";

/**
 * The environment docker-compose.yml gives every UMOS service (its `x-umos` block), with Compose's
 * substitution (`${NAME:-default}`; `${NAME:?message}` must be overridden) and the given values in
 * place of the ones that name its containers' hosts. An override of a variable the file does not set
 * is refused: the test must run the services as the file configures them.
 */
export async function composeEnvironment(overrides: Record<string, string>): Promise<Record<string, string>> {
  const compose = Bun.YAML.parse(await Bun.file(join(root, "docker-compose.yml")).text()) as { "x-umos": { environment: Record<string, string> } };
  const env = compose["x-umos"].environment;
  const unknown = Object.keys(overrides).filter((name) => !(name in env));
  if (unknown.length > 0) throw new Error(`docker-compose.yml's x-umos environment does not set ${unknown.join(", ")}`);
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (name in overrides) {
      out[name] = overrides[name]!;
      continue;
    }
    out[name] = String(raw).replace(/\$\{(\w+)(:?[-?])([^}]*)\}/g, (_, variable: string, op: string, arg: string) => {
      if (op.endsWith("-")) return arg;
      throw new Error(`docker-compose.yml needs ${variable} for ${name} (${arg}): override ${name}`);
    });
  }
  return out;
}
