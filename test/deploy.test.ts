import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as models from "kubernetes-models";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { registerCommands } from "../apps/tokenmeter/src/commands/index.js";

// Renders every overlay with the real kustomize (kubectl's), validates every
// object against the Kubernetes API schemas (kubernetes-models) and checks the
// operational invariants the deployment promises. No cluster needed.

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const K8S = join(ROOT, "deploy/k8s");
const KUBECTL = process.env.TOKENMETER_TEST_KUBECTL ?? "kubectl";
const run = promisify(execFile);
// commander is the CLI app's dependency, not the root's: resolve it from there.
const { Command } = createRequire(join(ROOT, "apps/tokenmeter/package.json"))("commander") as {
  Command: new () => { commands: Array<{ name(): string }> };
};

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
} & Record<
  string,
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below
  any
>;
// biome-ignore lint/suspicious/noExplicitAny: same
type Any = any;

const OVERLAYS = readdirSync(join(K8S, "overlays")).filter((d) => existsSync(join(K8S, "overlays", d, "kustomization.yaml")));

async function render(dir: string): Promise<Obj[]> {
  const { stdout } = await run(KUBECTL, ["kustomize", dir], { maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** "networking.k8s.io/v1" → models.networkingK8sIo.v1; "v1" → models.v1. */
function modelFor(apiVersion: string, kind: string): { new (data: unknown): { validate(): void } } | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [undefined, apiVersion];
  const ns: Any = group ? (models as Any)[group.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase())] : models;
  return ns?.[version as string]?.[kind];
}

const WORKLOADS = new Set(["Deployment", "StatefulSet", "Job"]);
const podSpec = (o: Obj): Any => o.spec.template.spec;
const containersOf = (o: Obj): Any[] => [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers];
const isTokenmeter = (o: Obj) => o.spec?.template?.metadata?.labels?.["app.kubernetes.io/name"] === "tokenmeter";
/** A setting or key that holds a credential (TOKENMETER_ itself is not one). */
const isCredential = (name: string) => /PASSWORD|SECRET|TOKEN|API_KEY/.test(name.replace(/^TOKENMETER_/, ""));
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each(OVERLAYS)("overlay %s", (overlay) => {
  let objects: Obj[];
  let jobs: Obj[];
  beforeAll(async () => {
    objects = await render(join(K8S, "overlays", overlay));
    jobs = await render(join(K8S, "overlays", overlay, "jobs"));
  });
  const all = () => [...objects, ...jobs];
  const workloads = () => all().filter((o) => WORKLOADS.has(o.kind));
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const config = () => byKind("ConfigMap").find((c) => c.metadata.name.startsWith("tokenmeter-config-"))?.data as Record<string, string>;

  it("renders objects that are valid against the Kubernetes API schemas", () => {
    expect(objects.length).toBeGreaterThan(15);
    for (const o of all()) {
      const Model = modelFor(o.apiVersion, o.kind);
      expect(Model, `${o.apiVersion} ${o.kind} has a schema`).toBeDefined();
      expect(() => new Model!(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it("has the services, the migrate Job, HPA, PDBs, NetworkPolicies and ServiceAccount", () => {
    const names = (kind: string) => byKind(kind).map((o) => o.metadata.name);
    expect(names("Deployment")).toEqual(expect.arrayContaining(["tokenmeter-ingest", "tokenmeter-query", "tokenmeter-pricing-refresh"]));
    expect(names("Service")).toEqual(expect.arrayContaining(["tokenmeter-ingest", "tokenmeter-query", "clickhouse"]));
    expect(names("Job")).toEqual(["tokenmeter-migrate"]);
    expect(names("HorizontalPodAutoscaler")).toEqual(["tokenmeter-query"]);
    expect(names("PodDisruptionBudget")).toEqual(
      expect.arrayContaining(["tokenmeter-ingest", "tokenmeter-query", "tokenmeter-pricing-refresh"]),
    );
    expect(names("NetworkPolicy")).toEqual(expect.arrayContaining(["default-deny", "allow-dns"]));
    expect(names("ServiceAccount")).toEqual(["tokenmeter"]);
    const templates = jobs.filter((o) => o.kind === "Job").map((o) => o.metadata.labels?.["tokenmeter.io/job"]);
    expect(templates.sort()).toEqual(["backfill", "rebuild-rollups", "reprice"]);
  });

  it("sets requests and limits, non-root read-only security contexts and pinned images on every container", () => {
    for (const w of workloads()) {
      const pod = podSpec(w);
      expect(pod.securityContext?.runAsNonRoot, `${w.metadata.name} runAsNonRoot`).toBe(true);
      expect(pod.securityContext?.runAsUser, `${w.metadata.name} runAsUser`).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
      expect(pod.automountServiceAccountToken, `${w.metadata.name} token`).toBe(false);
      for (const c of containersOf(w)) {
        const where = `${w.kind}/${w.metadata.name}/${c.name}`;
        for (const r of ["cpu", "memory"]) {
          expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
          expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
        }
        expect(c.securityContext, where).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        expect(c.securityContext.capabilities?.drop, where).toContain("ALL");
        expect(c.image, where).toMatch(/^[^:@\s]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
        expect(c.image, where).not.toMatch(/:latest$/);
      }
    }
  });

  it("probes /healthz and /readyz, waits for migrations, is scraped by Prometheus and spreads over nodes and zones", () => {
    const long = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
    for (const w of long) {
      // Spreading means something once there is more than one pod (or an HPA may make it so).
      if (isTokenmeter(w) || (w.spec.replicas ?? 1) > 1) {
        expect(podSpec(w).topologySpreadConstraints?.length, `${w.metadata.name} topology spread`).toBeGreaterThan(0);
      }
      for (const c of podSpec(w).containers) {
        expect(c.livenessProbe, `${w.metadata.name}/${c.name} liveness`).toBeDefined();
        expect(c.readinessProbe, `${w.metadata.name}/${c.name} readiness`).toBeDefined();
      }
    }
    for (const d of byKind("Deployment").filter(isTokenmeter)) {
      const [app] = podSpec(d).containers;
      expect(app.livenessProbe.httpGet.path).toBe("/healthz");
      // pricing-refresh takes no traffic and serves no /readyz; its readiness only gates the rollout.
      expect(app.readinessProbe.httpGet.path).toBe(d.metadata.name === "tokenmeter-pricing-refresh" ? "/healthz" : "/readyz");
      const [init] = podSpec(d).initContainers;
      expect(init.args).toEqual(["migrate", "--check", "--wait", expect.any(String)]);
      const a = d.spec.template.metadata.annotations;
      expect(a).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" });
      expect(app.ports.map((p: Any) => String(p.containerPort))).toContain(a["prometheus.io/port"]);
    }
  });

  it("gives ingest a grace period longer than preStop plus the drain timeout", () => {
    const ingest = byKind("Deployment").find((d) => d.metadata.name === "tokenmeter-ingest")!;
    const drainMs = Number(config().TOKENMETER_INGEST_DRAIN_TIMEOUT_MS);
    expect(drainMs).toBeGreaterThan(0);
    const preStop = podSpec(ingest).containers[0].lifecycle?.preStop?.exec?.command ?? [];
    const preStopMs = preStop[0] === "sleep" ? Number(preStop[1]) * 1000 : 0;
    expect(podSpec(ingest).terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + preStopMs);
  });

  it("keeps secrets out: no Secret objects, secret settings only through secretKeyRef, references resolve", () => {
    expect(all().filter((o) => o.kind === "Secret")).toEqual([]);
    expect(Object.keys(config()).filter(isCredential)).toEqual([]);
    const configMaps = new Set(
      all()
        .filter((o) => o.kind === "ConfigMap")
        .map((o) => o.metadata.name),
    );
    for (const w of workloads()) {
      for (const c of containersOf(w)) {
        for (const e of c.env ?? []) {
          if (isCredential(e.name)) {
            expect(e.valueFrom?.secretKeyRef?.name, `${w.metadata.name}/${c.name} ${e.name}`).toBe("tokenmeter-secrets");
          }
        }
        for (const f of c.envFrom ?? []) expect(configMaps.has(f.configMapRef?.name), `${f.configMapRef?.name}`).toBe(true);
      }
      for (const v of podSpec(w).volumes ?? []) if (v.configMap) expect(configMaps.has(v.configMap.name), v.configMap.name).toBe(true);
    }
  });

  it("wires selectors: workloads select their pods, Services and PDBs select pods, the HPA targets query", () => {
    const pods = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
    for (const w of pods) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
    for (const s of [...byKind("Service"), ...byKind("PodDisruptionBudget")]) {
      const sel = s.kind === "Service" ? s.spec.selector : s.spec.selector.matchLabels;
      expect(
        pods.some((w) => matches(sel, w.spec.template.metadata.labels)),
        `${s.kind}/${s.metadata.name} selects pods`,
      ).toBe(true);
    }
    const hpa = byKind("HorizontalPodAutoscaler")[0]!;
    const target = byKind("Deployment").find((d) => d.metadata.name === hpa.spec.scaleTargetRef.name)!;
    expect(target.spec.replicas, "the HPA owns query's replica count").toBeUndefined();
    for (const w of pods.filter((o) => o.kind === "StatefulSet")) {
      expect(byKind("Service").map((s) => s.metadata.name)).toContain(w.spec.serviceName);
    }
  });

  it("runs commands that exist: entry files in the repo and registered CLI subcommands", () => {
    const program = new Command();
    registerCommands(program as never);
    const cli = new Set(program.commands.map((c) => c.name()));
    for (const w of workloads().filter(isTokenmeter)) {
      for (const c of containersOf(w)) {
        expect(c.command?.[0], `${w.metadata.name}/${c.name}`).toBe("node_modules/.bin/tsx");
        expect(existsSync(join(ROOT, c.command[1])), `${w.metadata.name}/${c.name}: ${c.command[1]} exists`).toBe(true);
        if (c.command[1] === "apps/tokenmeter/src/cli.ts") expect(cli.has(c.args[0]), `tokenmeter ${c.args[0]}`).toBe(true);
      }
    }
  });

  it("starts on-demand jobs through run.sh with the arguments in place and a unique name", async () => {
    const runSh = join(K8S, "jobs/run.sh");
    for (const [job, args] of [
      ["rebuild-rollups", ["--from", "2026-01-01", "--to", "2026-02-01"]],
      ["reprice", ["--from", "2026-01-01", "--to", "2026-02-01", "--model", "gpt-4o"]],
      ["backfill", ["--from", "2026-01-01", "--to", "2026-02-01", "--file", "/backfill/jan.ndjson"]],
    ] as const) {
      const { stdout } = await run(runSh, [overlay, job, "--print", ...args], { env: { ...process.env, PATH: pathWithKubectl() } });
      const docs = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
      expect(docs.map((d) => d.kind)).toEqual(["Job"]);
      const [j] = docs as [Obj];
      expect(j.metadata.name).toMatch(new RegExp(`^tokenmeter-${job}-\\d{14}$`));
      expect(podSpec(j).containers[0].args).toEqual([job, ...args]);
      expect(() => new models.batch.v1.Job(j as Any).validate()).not.toThrow();
    }
    await expect(run(runSh, [overlay, "rebuild-rollups", "--print", "--from", "x;rm -rf /"])).rejects.toMatchObject({ code: 2 });
    await expect(run(runSh, [overlay, "drop-everything", "--print"])).rejects.toMatchObject({ code: 2 });
  });
});

describe("repository", () => {
  it("holds no secret values under deploy/", () => {
    const files = walk(join(ROOT, "deploy"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      const where = relative(ROOT, f);
      expect(text, where).not.toMatch(/^kind:\s*Secret\b/m);
      expect(text, where).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      // KEY=value or key: value where the key names a credential and the value is a literal.
      expect(text, where).not.toMatch(/^\s*[\w.-]*(PASSWORD|SECRET|TOKEN(?!METER)|API_KEY)[\w.-]*\s*[=:]\s*["']?[^\s"'{$][^\s"']{5,}/im);
      expect(text, where).not.toMatch(/<password>[^<]+<\/password>/);
    }
  });

  it("builds the image from a pinned node:20 slim base as a non-root user", () => {
    const dockerfile = readFileSync(join(ROOT, "deploy/docker/Dockerfile"), "utf8");
    const from = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(from.length).toBeGreaterThan(0);
    for (const image of from) expect(image).toMatch(/^node:20\.\d+\.\d+-slim(@sha256:[0-9a-f]{64})?$/);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** run.sh calls `kubectl`; make the one the tests use first on PATH. */
function pathWithKubectl(): string {
  const dir = KUBECTL.includes("/") ? KUBECTL.slice(0, KUBECTL.lastIndexOf("/")) : "";
  return dir ? `${dir}:${process.env.PATH}` : (process.env.PATH ?? "");
}
