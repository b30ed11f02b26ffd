import {
  type Api,
  type ErrorsResponse,
  HttpError,
  type LatencyResponse,
  type ModelsResponse,
  type Params,
  type SummaryResponse,
  type UsageResponse,
} from "./api.js";
import { saveFile } from "./card.js";
import type { Palettes } from "./colors.js";
import type { ViewContext } from "./context.js";
import type { Controls, FilterOptions } from "./controls.js";
import { append, h } from "./dom.js";
import * as f from "./format.js";
import type { KpiRow } from "./kpis.js";
import type { Panel, SourceKey } from "./panels.js";
import { SOURCES } from "./panels.js";
import {
  apiParams,
  type FilterKey,
  isoDate,
  OPERATIONS,
  type ResolvedRange,
  rangeLabel,
  resolveRange,
  type ViewState,
  writeState,
} from "./state.js";

export interface ViewDeps {
  api: Api;
  palettes: Palettes;
  kpis: KpiRow;
  initial: ViewState;
  onUnauthorized: (err: HttpError) => void;
}

/**
 * Owns the current view: turns state into API calls (all in parallel, the
 * previous round aborted), feeds panels, and keeps the URL in step so a view
 * can be shared. `document.body.dataset.state` says loading/ready for tests.
 */
export class View {
  readonly el: HTMLElement;
  state: ViewState;
  private range: ResolvedRange;
  private controls: Controls | undefined;
  private panels: Panel[] = [];
  private readonly banner: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly data = new Map<SourceKey, unknown>();
  private readonly params = new Map<SourceKey, Params>();
  private readonly disposers = new Map<Panel, () => void>();
  private abort: AbortController | undefined;
  private loads = 0;
  private optionsKey = "";

  constructor(private readonly deps: ViewDeps) {
    this.state = deps.initial;
    this.range = resolveRange(this.state, Date.now());
    this.banner = h("div", { class: "banner", hidden: true, "data-testid": "empty-banner", role: "status" });
    this.grid = h("div", { class: "grid" });
    this.el = h("main", { class: "page" }, this.banner, deps.kpis.el, this.grid);
  }

  attach(controls: Controls, panels: Panel[]): void {
    this.controls = controls;
    this.panels = panels;
    this.grid.replaceChildren(...panels.map((p) => p.card.el));
  }

  /** A user change: new history entry, reload. */
  change(patch: Partial<ViewState>): void {
    this.state = { ...this.state, ...patch };
    history.pushState(null, "", writeState(this.state));
    this.load();
  }

  restore(s: ViewState): void {
    this.state = s;
    this.load();
  }

  stop(): void {
    this.abort?.abort();
  }

  load(): void {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const seq = ++this.loads;
    document.body.dataset.state = "loading";
    this.range = resolveRange(this.state, Date.now());
    // Requests go out first; updating the controls and placeholders overlaps them.
    const jobs = (Object.keys(SOURCES) as SourceKey[]).map((k) => this.loadSource(k, abort.signal));
    this.controls?.update(this.state, this.range);
    this.deps.kpis.loading();
    for (const p of this.panels) p.card.loading();
    void Promise.allSettled(jobs).then(() => {
      if (abort.signal.aborted) return;
      document.body.dataset.state = "ready";
      document.body.dataset.loads = String(seq);
      if (seq === 1) performance.mark("tokenmeter:ready");
      // Filter choices are a convenience: fetched once the panels are drawn, off the critical path.
      void this.loadOptions(abort.signal);
    });
  }

  /** Draws every panel again from the data already loaded (theme switch). */
  rerender(): void {
    for (const k of this.data.keys()) this.draw(k);
  }

  ctx(): ViewContext {
    return {
      state: this.state,
      range: this.range,
      palettes: this.deps.palettes,
      setFilter: (key: FilterKey, value: string) => this.change({ filters: { ...this.state.filters, [key]: [value] } }),
      setSort: (sort: string) => {
        this.state = { ...this.state, sort };
        history.replaceState(null, "", writeState(this.state));
      },
    };
  }

  /** Downloads exactly what the API returns as CSV for the parameters on screen. */
  async csv(source: SourceKey): Promise<void> {
    const params = this.params.get(source) ?? this.paramsFor(source);
    try {
      const text = await this.deps.api.csv(SOURCES[source].endpoint, params);
      const tz = this.state.tz;
      saveFile(`tokenmeter-${SOURCES[source].endpoint}-${isoDate(this.range.start, tz)}_${isoDate(this.range.end - 1, tz)}.csv`, text);
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) this.deps.onUnauthorized(err);
      else throw err;
    }
  }

  private paramsFor(source: SourceKey): Params {
    const def = SOURCES[source];
    const base = apiParams(this.state, this.range);
    if (!def.series) base.granularity = undefined;
    return { ...base, ...def.extra(this.state) };
  }

  private async loadSource(source: SourceKey, signal: AbortSignal): Promise<void> {
    const params = this.paramsFor(source);
    try {
      const data = await this.deps.api.json<unknown>(SOURCES[source].endpoint, params, signal);
      if (signal.aborted) return;
      this.data.set(source, data);
      this.params.set(source, params);
      this.draw(source);
    } catch (err) {
      if (signal.aborted) return;
      this.fail(source, err as Error);
    }
  }

  private draw(source: SourceKey): void {
    const data = this.data.get(source);
    if (source === "summary") {
      this.drawSummary(data as SummaryResponse);
      return;
    }
    this.sparklines(source, data);
    const ctx = this.ctx();
    for (const p of this.panels.filter((x) => x.source === source)) {
      this.disposers.get(p)?.();
      this.disposers.delete(p);
      const empty = p.empty(data as never);
      if (empty) p.card.empty(empty);
      else {
        this.disposers.set(p, p.render(p.card, data as never, ctx));
        p.card.ready();
      }
    }
  }

  private fail(source: SourceKey, err: Error): void {
    if (err instanceof HttpError && err.status === 401) {
      this.deps.onUnauthorized(err);
      return;
    }
    const retry = () => void this.loadSource(source, this.abort?.signal ?? new AbortController().signal);
    if (source === "summary") this.deps.kpis.error();
    for (const p of this.panels.filter((x) => x.source === source)) p.card.error(err.message, retry);
  }

  private drawSummary(s: SummaryResponse): void {
    this.deps.kpis.render(s);
    const tz = this.state.tz;
    const latest = s.latest_event_at ? `latest event ${f.ago(s.latest_event_at, Date.now())}` : "no events yet";
    this.controls?.status.replaceChildren(
      h("b", {}, rangeLabel(this.range, tz)),
      h(
        "span",
        {},
        ` · ${this.range.granularity} buckets · ${tz} · vs the previous ${spanLabel(this.range.end - this.range.start)} · ${latest}`,
      ),
    );
    const filtered = Object.values(this.state.filters).some((v) => v && v.length > 0);
    this.banner.hidden = s.requests > 0;
    if (s.requests > 0) return;
    this.banner.replaceChildren();
    // With filters, the summary only knows about matching events: say that, not "no events at all".
    const [title, text] = filtered
      ? ["No usage matches these filters", " in this range. Clear them to see all of the organization's usage."]
      : s.latest_event_at
        ? ["No usage in this range", ` — the latest event was ${f.ago(s.latest_event_at, Date.now())}.`]
        : [
            "No usage data yet",
            " — this organization has not sent any events. Send usage events to POST /v1/events (or through Kafka) and they appear here within seconds.",
          ];
    this.banner.dataset.kind = filtered ? "filtered" : "empty";
    append(this.banner, [
      h("strong", {}, title),
      h("span", {}, text),
      filtered
        ? h(
            "button",
            { type: "button", class: "btn btn-sm", "data-control": "banner-clear-filters", onclick: () => this.change({ filters: {} }) },
            "Clear filters",
          )
        : null,
    ]);
  }

  private sparklines(source: SourceKey, data: unknown): void {
    const k = this.deps.kpis;
    if (source === "usage") {
      const u = data as UsageResponse;
      k.sparkline(
        "cost",
        u.series.map((p) => p.cost_usd),
      );
      k.sparkline(
        "requests",
        u.series.map((p) => p.requests),
      );
      k.sparkline(
        "tokens",
        u.series.map((p) => p.total_tokens),
      );
    } else if (source === "errors") {
      k.sparkline(
        "error_rate",
        (data as ErrorsResponse).series.map((p) => (p.requests > 0 ? p.error_rate : null)),
      );
    } else if (source === "latency") {
      k.sparkline(
        "p95",
        (data as LatencyResponse).series.map((p) => p.duration_ms.p95),
      );
    }
  }

  /** Filter choices for the range, unfiltered, fetched once per range. */
  private async loadOptions(signal: AbortSignal): Promise<void> {
    const base: Params = { ...apiParams({ ...this.state, filters: {} }, this.range), granularity: undefined };
    const key = `${base.start}|${base.end}`;
    if (key === this.optionsKey) return;
    try {
      const [models, agents, projects, users, tagKeys] = await Promise.all([
        this.deps.api.json<ModelsResponse>("models", base, signal),
        this.deps.api.json<{ agents: { agent_id: string }[] }>("agents", { ...base, limit: 200 }, signal),
        this.deps.api.json<UsageResponse>("usage", { ...base, granularity: "month", group_by: "project_id", limit: 100 }, signal),
        this.deps.api.json<{ users: { user_id: string }[] }>("users", { ...base, limit: 500 }, signal),
        this.deps.api.json<{ keys: { key: string }[] }>("tags/keys", { start: base.start, end: base.end, limit: 8 }, signal),
      ]);
      // The most used tag keys get a filter each, with their most used values.
      const tagValues = await Promise.all(
        tagKeys.keys.map((k) =>
          this.deps.api.json<{ values: { value: string }[] }>(
            "tags/values",
            { start: base.start, end: base.end, key: k.key, limit: 200 },
            signal,
          ),
        ),
      );
      const opts: FilterOptions = {
        provider: [...new Set(models.models.map((m) => m.provider))],
        model: [...new Set(models.models.map((m) => m.model))],
        operation: [...OPERATIONS],
        agent_id: agents.agents.map((a) => a.agent_id),
        user_id: users.users.map((u) => u.user_id),
        project_id: (projects.groups ?? []).map((g) => g.key).filter((k) => k !== "(other)"),
        ...Object.fromEntries(tagKeys.keys.map((k, i) => [`tag.${k.key}`, (tagValues[i]?.values ?? []).map((v) => v.value)])),
      };
      this.optionsKey = key;
      this.controls?.setOptions(opts);
      // Stack by a tag key too (group_by=tag.<key>): the cost card's select gains the catalog's keys.
      const stackBy = document.querySelector<HTMLSelectElement>('[data-control="group"]');
      for (const k of tagKeys.keys) {
        if (!stackBy || stackBy.querySelector(`option[value="tag.${CSS.escape(k.key)}"]`)) continue;
        stackBy.append(h("option", { value: `tag.${k.key}` }, `Stack by tag ${k.key}`));
      }
      if (stackBy) stackBy.value = this.state.group;
    } catch {
      // The filter lists are a convenience; the panels report the real error.
    }
  }
}

function spanLabel(ms: number): string {
  const hours = Math.round(ms / 3_600_000);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}
