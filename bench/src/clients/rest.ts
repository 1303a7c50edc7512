import type { TestStack } from "@umos/testkit";

/** Creates what an operator would through the REST API; any answer but 201 stops the scenario. */
export async function created(api: TestStack["api"], path: string, body: Record<string, unknown>): Promise<void> {
  const res = await api.post(path, body);
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
}
