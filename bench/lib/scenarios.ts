import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BenchArgs, numberOption } from "./args.js";
import type { EventSetSpec } from "./events.js";
import { BENCH_DIR } from "./results.js";

/** One child process of the runner: a script, its arguments, its time bound. */
export interface Step {
  /** Result file it writes: bench/results/<result>.json. */
  result: string;
  script: string;
  args: string[];
  timeoutMs: number;
  /** Owner's script that may not have landed yet: skipped (and reported) when absent. */
  optional?: boolean;
}

export interface TopicArgs {
  brokers: string;
  topic: string;
  events: number;
  end: number;
  days: number;
  seed: number;
  partitions: number;
}

/** The same topic, event set and clock for the end-to-end run and its ceilings. */
export function topicArgs(t: TopicArgs): string[] {
  return [
    `--brokers=${t.brokers}`,
    `--topic=${t.topic}`,
    `--events=${t.events}`,
    `--end=${t.end}`,
    `--days=${t.days}`,
    `--seed=${t.seed}`,
    `--partitions=${t.partitions}`,
  ];
}

/**
 * The inverse of {@link topicArgs}: a scenario's event set and partitions from
 * its arguments (the runner's shared topic), with the scenario's own defaults
 * when run alone (`fullEvents` at full scale, 200k with --quick).
 */
export function topicSpec(args: BenchArgs, fullEvents = 2_000_000): { spec: EventSetSpec; partitions: number } {
  return {
    spec: {
      events: numberOption(args, "events", fullEvents, 200_000),
      end: numberOption(args, "end", Date.now(), Date.now()),
      days: numberOption(args, "days", 2, 2),
      seed: numberOption(args, "seed", 1, 1),
    },
    partitions: numberOption(args, "partitions", 8, 8),
  };
}

/** Scenario 1 runs against a shared topic, freshness on the same broker; the rest start their own app. Bounds are generous upper limits. */
export function plan(quick: boolean, topic: TopicArgs): Step[] {
  const q = quick ? ["--quick"] : [];
  const min = 60_000;
  return [
    {
      result: "ingest-kafka",
      script: "ingest-kafka.ts",
      args: [...q, ...topicArgs(topic)],
      timeoutMs: (quick ? 3 : 20) * min,
      optional: true,
    },
    { result: "ceilings", script: "ceilings.ts", args: [...q, ...topicArgs(topic)], timeoutMs: (quick ? 3 : 20) * min },
    // The same topic drained by the ingest pod as Kubernetes starts it (HTTP driver): the pod's own RSS and CPU.
    { result: "ingest-pod", script: "ingest-pod.ts", args: [...q, ...topicArgs(topic)], timeoutMs: (quick ? 3 : 8) * min },
    { result: "http-ingest", script: "http-ingest.ts", args: q, timeoutMs: (quick ? 2 : 5) * min },
    { result: "query", script: "query.ts", args: q, timeoutMs: (quick ? 3 : 30) * min, optional: true },
    { result: "rollup-vs-raw", script: "rollup-vs-raw.ts", args: q, timeoutMs: (quick ? 2 : 20) * min },
    { result: "freshness", script: "freshness.ts", args: [...q, `--brokers=${topic.brokers}`], timeoutMs: (quick ? 2 : 8) * min },
    { result: "soak", script: "soak.ts", args: q, timeoutMs: (quick ? 2 : 15) * min },
    { result: "otlp", script: "otlp.ts", args: q, timeoutMs: (quick ? 2 : 5) * min },
    { result: "profile", script: "profile.ts", args: [...q, `--brokers=${topic.brokers}`], timeoutMs: (quick ? 3 : 10) * min },
    { result: "page-load", script: "page-load.ts", args: q, timeoutMs: (quick ? 2 : 5) * min, optional: true },
  ];
}

/** `pnpm bench --scale`: stores of 1 M, 10 M and 50 M events (quick: 100 k, 1 M), run on its own. */
export function scaleStep(quick: boolean): Step {
  return { result: "scale", script: "scale.ts", args: quick ? ["--quick"] : [], timeoutMs: (quick ? 5 : 90) * 60_000 };
}

export function scriptExists(step: Step): boolean {
  return existsSync(join(BENCH_DIR, step.script));
}
