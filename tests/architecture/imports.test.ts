import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The shape of the house, checked on every run (docs/design.md §11): dependencies point one way (apps ->
 * shared, never back; an app never reaches into another app), and no module imports itself through
 * others (an import circle), type-only imports included. A circle makes the load order matter and
 * ties every module on it to every other: cut it with types in a leaf file and the choice of
 * implementation at the edge.
 */
const ROOT = resolve(import.meta.dir, "../..");

interface Package {
  name: string;
  dir: string;
  exports: Record<string, string>;
}

function packages(): Map<string, Package> {
  const found = new Map<string, Package>();
  for (const top of ["apps", "shared"]) {
    for (const name of readdirSync(join(ROOT, top))) {
      const file = join(ROOT, top, name, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name: string; exports?: string | Record<string, string> };
      const exports = typeof pkg.exports === "string" ? { ".": pkg.exports } : (pkg.exports ?? { ".": "./src/index.ts" });
      found.set(pkg.name, { name: pkg.name, dir: join(ROOT, top, name), exports });
    }
  }
  return found;
}

/** Source files of apps/ and shared/, tests and test fixtures left out (they may import what they test from anywhere). */
function sources(dir: string, into: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".") || name === "test" || name === "fixtures") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, into);
    else if (/\.tsx?$/.test(name) && !/\.(test|contract)\.tsx?$/.test(name) && !path.includes("bus-contract")) into.push(path);
  }
  return into;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function fileOf(base: string): string | undefined {
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts")])
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return undefined;
}

function graph(): Map<string, string[]> {
  const pkgs = packages();
  const files = [...sources(join(ROOT, "apps")), ...sources(join(ROOT, "shared"))];
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const targets: string[] = [];
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const spec = match[1] ?? match[2]!;
      let target: string | undefined;
      if (spec.startsWith(".")) target = fileOf(resolve(dirname(file), spec));
      else if (spec.startsWith("@umos/")) {
        const name = spec.split("/").slice(0, 2).join("/");
        const pkg = pkgs.get(name);
        const sub = `.${spec.slice(name.length)}`;
        if (pkg) target = fileOf(resolve(pkg.dir, pkg.exports[sub === "." ? "." : sub] ?? sub));
      }
      if (target) targets.push(target);
    }
    edges.set(file, targets);
  }
  return edges;
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function circles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(relative(ROOT, w));
    } while (w !== v);
    if (component.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const file of edges.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe("the import graph", () => {
  const edges = graph();

  test("has no circles, type-only imports included", () => {
    expect(circles(edges)).toEqual([]);
  });

  test("shared packages never import an app, and an app imports no other app", () => {
    const crossings: string[] = [];
    for (const [file, targets] of edges) {
      const from = relative(ROOT, file).split("/").slice(0, 2).join("/");
      for (const target of targets) {
        const to = relative(ROOT, target).split("/").slice(0, 2).join("/");
        const wrong = (from.startsWith("shared/") && to.startsWith("apps/")) || (from.startsWith("apps/iot-") && to.startsWith("apps/") && to !== from);
        if (wrong) crossings.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  test("every package declares in its dependencies the packages its sources import", () => {
    // A production install (the container image's build stage) links only what is declared: an
    // undeclared import works in a development checkout and breaks the image build.
    const undeclared: string[] = [];
    for (const pkg of packages().values()) {
      const manifest = JSON.parse(readFileSync(join(pkg.dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
      const declared = new Set(Object.keys(manifest.dependencies ?? {}));
      for (const file of sources(pkg.dir)) {
        for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
          const spec = match[1] ?? match[2]!;
          // Type-only imports are erased from the bundles: a devDependency serves them.
          if (spec.startsWith(".") || spec.startsWith("node:") || spec.startsWith("bun") || /^(import|export)\s+type\b/.test(match[0].trim())) continue;
          const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
          if (name !== pkg.name && !declared.has(name)) undeclared.push(`${relative(ROOT, file)} imports ${name}`);
        }
      }
    }
    expect([...new Set(undeclared)]).toEqual([]);
  });
});
