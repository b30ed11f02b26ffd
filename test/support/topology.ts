/**
 * Runs Tokenmeter's workloads as separate OS processes, started the way the
 * Kubernetes manifests start them: the container's command and args and the
 * env the kubelet would give it (the ConfigMap via envFrom, then the
 * container's own env, secrets resolved from a Secret stand-in, fieldRefs
 * from the pod name), all read from the rendered overlay, not restated here.
 * Only what differs on one machine is overridden, and each caller lists it:
 * addresses of the backing services, ports (the pods all listen on 8080),
 * the data dir, and names that keep tests apart.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KUBECTL = process.env.TOKENMETER_TEST_KUBECTL ?? "kubectl";
const run = promisify(execFile);

export interface PodSpec {
  /** Deployment or Job name (tokenmeter-ingest, tokenmeter-migrate, …). */
  workload: string;
  command: string[];
  /** The init containers' commands, in order (wait-for-migrations). */
  init: string[][];
  /** Env as the kubelet builds it, before overrides; values from secrets and fieldRefs still unresolved. */
  env: EnvSource[];
}

type EnvSource =
  | { name: string; value: string }
  | { name: string; secret: string }
  | { name: string; field: string }
  | { configMap: Record<string, string> };

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests, read field by field
type Any = any;

/** The overlay's workloads by name, with their containers' commands and env sources. */
export async function renderPods(overlay = "single-node"): Promise<Map<string, PodSpec>> {
  const { stdout } = await run(KUBECTL, ["kustomize", join(ROOT, "deploy/k8s/overlays", overlay)], { maxBuffer: 64 * 1024 * 1024 });
  const objects = parseAllDocuments(stdout)
    .map((d) => d.toJS() as Any)
    .filter(Boolean);
  const configMaps = new Map<string, Record<string, string>>(
    objects.filter((o: Any) => o.kind === "ConfigMap").map((o: Any) => [o.metadata.name, o.data ?? {}]),
  );
  const envOf = (c: Any): EnvSource[] => [
    ...(c.envFrom ?? []).map((f: Any) => ({ configMap: configMaps.get(f.configMapRef.name) ?? {} })),
    ...(c.env ?? []).map((e: Any) => {
      if (e.value !== undefined) return { name: e.name, value: String(e.value) };
      if (e.valueFrom?.secretKeyRef) return { name: e.name, secret: e.valueFrom.secretKeyRef.key };
      return { name: e.name, field: e.valueFrom.fieldRef.fieldPath };
    }),
  ];
  const pods = new Map<string, PodSpec>();
  for (const o of objects.filter((x: Any) => x.kind === "Deployment" || x.kind === "Job")) {
    const spec = o.spec.template.spec;
    const app = spec.containers.find((c: Any) => c.name === "app");
    if (!app || !String(app.image).includes("tokenmeter")) continue;
    pods.set(o.metadata.name, {
      workload: o.metadata.name,
      command: [...app.command, ...(app.args ?? [])],
      init: (spec.initContainers ?? []).map((c: Any) => [...c.command, ...(c.args ?? [])]),
      env: envOf(app),
    });
  }
  return pods;
}

/** The env a pod's app container gets: its sources resolved in kubelet order (later wins), then the overrides. */
export function podEnv(
  spec: PodSpec,
  opts: { podName: string; secrets: Record<string, string>; overrides: Record<string, string> },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of spec.env) {
    if ("configMap" in s) Object.assign(env, s.configMap);
    else if ("value" in s) env[s.name] = s.value;
    else if ("secret" in s) env[s.name] = required(opts.secrets, s.secret, spec.workload);
    else if (s.field === "metadata.name") env[s.name] = opts.podName;
    else throw new Error(`${spec.workload}: fieldRef ${s.field} is not supported here`);
  }
  return { ...env, ...opts.overrides };
}

function required(secrets: Record<string, string>, key: string, workload: string): string {
  const v = secrets[key];
  if (v === undefined) throw new Error(`${workload} reads secret key ${key}; the test gives no value for it`);
  return v;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Parsed JSON log lines so far (pino), and the raw text of the others. */
  logs: Array<Record<string, unknown>>;
  text: string[];
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/**
 * Starts a command the way the container runtime does (cwd = the image's
 * WORKDIR, here the repository; PATH and HOME from this process, nothing
 * else of its env), collecting its logs. It gets its own process group, as a
 * container's processes share one fate: tsx runs the service in a child
 * process, and a SIGKILL must take both (see `killPod`).
 */
export function startProcess(name: string, command: string[], env: Record<string, string>): Proc {
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const proc: Proc = {
    name,
    child,
    logs: [],
    text: [],
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"))),
  };
  const collect = (chunk: Buffer, carry: { rest: string }) => {
    const lines = (carry.rest + chunk.toString("utf8")).split("\n");
    carry.rest = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        proc.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        proc.text.push(line);
      }
    }
  };
  const out = { rest: "" };
  const err = { rest: "" };
  child.stdout?.on("data", (c: Buffer) => collect(c, out));
  child.stderr?.on("data", (c: Buffer) => collect(c, err));
  return proc;
}

/** Runs a command to completion (a Job or an init container); throws with its output unless it exits 0. */
export async function runToCompletion(name: string, command: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Proc> {
  const proc = startProcess(name, command, env);
  const timer = setTimeout(() => killPod(proc), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  killPod(proc);
  if (code !== 0) throw new Error(`${name} exited ${code}:\n${[...proc.text, ...proc.logs.map((l) => JSON.stringify(l))].join("\n")}`);
  return proc;
}

/** SIGKILL to every process of the pod (the container's cgroup), as a kubelet or the OOM killer does it. */
export function killPod(proc: Proc): void {
  try {
    if (proc.child.pid) process.kill(-proc.child.pid, "SIGKILL");
  } catch {}
}

/**
 * Stops a pod as the kubelet does: `signal` to its main process (tsx relays
 * it to the service), then SIGKILL to all of it after `graceMs`. Whatever
 * happens, nothing of the pod outlives this call.
 */
export async function stopProcess(proc: Proc, signal: NodeJS.Signals = "SIGTERM", graceMs = 30_000): Promise<number | string> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  const timer = setTimeout(() => killPod(proc), graceMs);
  const code = await proc.exited;
  clearTimeout(timer);
  killPod(proc);
  return code;
}

/** A free loopback port (bound and released; the process started next takes it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls a URL until it answers `status`, bounded in time; the process's logs are in the error. */
export async function waitForStatus(url: string, status: number, proc: Proc, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited ${proc.child.exitCode}:\n${dump(proc)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === status) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${proc.name}: ${url} did not answer ${status} within ${timeoutMs} ms:\n${dump(proc)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function dump(proc: Proc): string {
  return [...proc.text, ...proc.logs.map((l) => JSON.stringify(l))].slice(-40).join("\n");
}
