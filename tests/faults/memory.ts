/** Samples a process's resident memory (VmRSS) until stopped; the peak is what a case bounds. */
export function watchMemory(pid: () => number | undefined, everyMs = 200) {
  let peak = 0;
  let first = 0;
  const read = async () => {
    const id = pid();
    if (!id) return;
    const status = await Bun.file(`/proc/${id}/status`)
      .text()
      .catch(() => "");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    if (kb > 0) {
      first ||= kb;
      peak = Math.max(peak, kb);
    }
  };
  const timer = setInterval(() => void read(), everyMs);
  void read();
  return {
    /** Peak and first reading, MiB. */
    stop: () => {
      clearInterval(timer);
      return { startMiB: Math.round(first / 1024), peakMiB: Math.round(peak / 1024) };
    },
  };
}
