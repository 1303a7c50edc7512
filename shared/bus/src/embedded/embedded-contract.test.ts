import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busContract } from "../bus.contract";
import { connectBus } from "../connect";

// A file per case, in a directory removed afterwards.
busContract(
  "embedded",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "umos-bus-"));
    return { url: `embedded:${join(dir, "bus.sqlite")}`, dispose: () => rm(dir, { recursive: true, force: true }) };
  },
  connectBus,
);
