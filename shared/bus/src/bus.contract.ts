import { describe } from "bun:test";
import type { Bus, BusOptions } from "./types";
import { deliveryCases } from "./bus-contract/delivery";
import { routingCases } from "./bus-contract/routing";
import { sceneRunner, type BrokerUnderTest } from "./bus-contract/scene";

export { CONTRACT_OPTIONS, type BrokerUnderTest } from "./bus-contract/scene";

/**
 * What every bus behind `connectBus` promises, whatever carries it: run against RabbitMQ
 * (rabbitmq-contract.test.ts) and the embedded bus (embedded/embedded-contract.test.ts) with the
 * same cases. Each case gets a broker of its own from `open`.
 */
export function busContract(name: string, open: () => Promise<BrokerUnderTest>, connect: (options: BusOptions) => Promise<Bus>): void {
  const scene = sceneRunner(open, connect);
  describe(`bus contract: ${name}`, () => {
    routingCases(scene);
    deliveryCases(scene);
  });
}
