import { readdirSync, readFileSync } from "node:fs";

export interface RssSample {
  /** ms since the sampler started. */
  t_ms: number;
  rss_mb: number;
}

export interface RssSummary {
  start_mb: number;
  peak_mb: number;
  end_mb: number;
  samples: RssSample[];
}

/**
 * Samples a process's resident set size every `intervalMs`: this process by
 * default, or another one by pid (read from /proc, e.g. a child under test).
 */
export class RssSampler {
  private readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();

  constructor(
    private readonly intervalMs = 1_000,
    private readonly pid?: number,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes one sample now (also called on every tick). */
  sample(): void {
    const mb = this.pid === undefined ? process.memoryUsage.rss() / 2 ** 20 : rssOfPid(this.pid);
    if (mb !== null) this.samples.push({ t_ms: Math.round(performance.now() - this.started), rss_mb: Math.round(mb) });
  }

  stop(): RssSummary {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const mbs = this.samples.map((s) => s.rss_mb);
    return { start_mb: mbs[0] ?? 0, peak_mb: Math.max(0, ...mbs), end_mb: mbs[mbs.length - 1] ?? 0, samples: this.samples };
  }
}

/** VmRSS of a process in MiB, or null once it is gone. */
export function rssOfPid(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat after the command's closing parenthesis (field 3, the state, first). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime + stime of a process in ms, all its threads (chDB's included): less load-sensitive than wall time. */
export function processCpuMs(pid: number): number {
  const f = statFields(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ = 100 on Linux
}

/** The pids of a process group (a container's processes: a launcher and what it starts). */
export function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[2]) === pgid) pids.push(Number(entry));
    } catch {
      // Ended between the listing and the read.
    }
  }
  return pids;
}

/**
 * Thins a long series to at most `max` points (every k-th), so result files
 * stay small while still showing the curve.
 */
export function thin(samples: RssSample[], max = 60): RssSample[] {
  if (samples.length <= max) return samples;
  const step = Math.ceil(samples.length / max);
  return samples.filter((_, i) => i % step === 0 || i === samples.length - 1);
}
