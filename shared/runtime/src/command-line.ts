import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * The command line of a UMOS command (`bun run start`, `token`, a service, the edge binary): its
 * flags parsed strictly, `--help` answered with `usage` (exit 0), and an unknown flag, a missing
 * value or a stray argument refused with one line naming it (exit 2), never a stack trace.
 */
export function commandLine<O extends Options>(
  command: string,
  usage: string,
  options: O,
  { argv = process.argv.slice(2), asked = `${command} --help` }: { argv?: string[]; asked?: string } = {},
) {
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false });
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>["values"];
  } catch (err) {
    console.error(`${command}: ${(err as Error).message.split("\n")[0]} (${asked} lists the options)`);
    process.exit(2);
  }
}
