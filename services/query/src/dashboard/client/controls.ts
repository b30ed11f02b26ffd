import type { Granularity } from "./api.js";
import { h } from "./dom.js";
import { allowedGranularity, FILTERS, type FilterKey, GRANULARITIES, PRESETS, type ResolvedRange, type ViewState } from "./state.js";
import { browserZone, isoDate } from "./time.js";

export interface ControlHandlers {
  change(patch: Partial<ViewState>): void;
  refresh(): void;
  signOut(): void;
  cycleTheme(): string;
}

/** Choices per filter: the dimension filters, plus `tag.<key>` for the most used tag keys. */
export type FilterOptions = Partial<Record<FilterKey, string[]>>;

const FILTER_LABEL: Record<string, string> = {
  project_id: "Project",
  agent_id: "Agent",
  user_id: "User",
  provider: "Provider",
  model: "Model",
  operation: "Operation",
};
const labelOf = (k: FilterKey) => FILTER_LABEL[k] ?? `Tag ${k.slice(4)}`;
const THEME_LABEL: Record<string, string> = { auto: "◐ Auto", light: "☀ Light", dark: "☾ Dark" };

/** The header (range, granularity, zone, theme) and the filter bar. */
export class Controls {
  readonly el: HTMLElement;
  private readonly presets: HTMLButtonElement[];
  private readonly custom: HTMLFormElement;
  private readonly from: HTMLInputElement;
  private readonly to: HTMLInputElement;
  private readonly gran: HTMLSelectElement;
  private readonly tz: HTMLSelectElement;
  /** One searchable multi-select per filter: a search box narrowing a native <select multiple>. */
  private readonly filters = new Map<FilterKey, { sel: HTMLSelectElement; search: HTMLInputElement; box: HTMLElement }>();
  private readonly filterBox: HTMLElement;
  private readonly onFilter: (k: FilterKey, values: string[]) => void;
  private readonly clear: HTMLButtonElement;
  private readonly filtersToggle: HTMLButtonElement;
  readonly status: HTMLElement;
  private options: FilterOptions = {};
  private state: ViewState | undefined;

  constructor(org: string | null, theme: string, on: ControlHandlers) {
    this.presets = PRESETS.map((p) =>
      h(
        "button",
        {
          type: "button",
          class: "seg-btn",
          "data-range": p.id,
          onclick: () => (p.id === "custom" ? this.openCustom() : on.change({ range: p.id, from: undefined, to: undefined })),
        },
        p.label,
      ),
    );
    this.from = h("input", { type: "date", class: "input", "aria-label": "From (inclusive)", name: "from", required: true });
    this.to = h("input", { type: "date", class: "input", "aria-label": "To (inclusive)", name: "to", required: true });
    this.custom = h(
      "form",
      {
        class: "custom-range",
        hidden: true,
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          if (this.from.value && this.to.value && this.from.value <= this.to.value)
            on.change({ range: "custom", from: this.from.value, to: this.to.value });
        },
      },
      this.from,
      h("span", { class: "muted" }, "to"),
      this.to,
      h("button", { type: "submit", class: "btn btn-sm btn-primary" }, "Apply"),
    );
    this.gran = h(
      "select",
      {
        class: "input",
        "aria-label": "Granularity",
        "data-control": "granularity",
        onchange: () => on.change({ gran: this.gran.value as Granularity }),
      },
      GRANULARITIES.map((g) => h("option", { value: g }, g[0]?.toUpperCase() + g.slice(1))),
    );
    this.tz = h("select", {
      class: "input tz",
      "aria-label": "Time zone",
      "data-control": "tz",
      onfocus: () => this.fillAllZones(),
      onpointerdown: () => this.fillAllZones(),
      onchange: () => on.change({ tz: this.tz.value }),
    });
    const themeBtn = h(
      "button",
      { type: "button", class: "btn btn-ghost", title: "Theme: auto, light or dark", "data-control": "theme" },
      THEME_LABEL[theme] ?? theme,
    );
    themeBtn.addEventListener("click", () => {
      themeBtn.textContent = THEME_LABEL[on.cycleTheme()] ?? "";
    });
    this.status = h("div", { class: "status-line", "data-testid": "range-label" });
    this.onFilter = (k, values) => on.change({ filters: { ...this.state?.filters, [k]: values.length > 0 ? values : undefined } });
    this.filterBox = h("div", { class: "filters" });
    for (const k of FILTERS) this.filterFor(k);
    this.clear = h(
      "button",
      { type: "button", class: "btn btn-ghost btn-sm", "data-control": "clear-filters", onclick: () => on.change({ filters: {} }) },
      "Clear filters",
    );

    // Phones: range and filters fold behind this button (CSS shows it under 760 px only).
    this.filtersToggle = h(
      "button",
      {
        type: "button",
        class: "btn btn-ghost filters-toggle",
        "data-control": "filters-toggle",
        "aria-expanded": "false",
        onclick: () => {
          const open = this.el.dataset.open !== "1";
          if (open) this.el.dataset.open = "1";
          else delete this.el.dataset.open;
          this.filtersToggle.setAttribute("aria-expanded", String(open));
        },
      },
      "Filters",
    );
    this.el = h(
      "div",
      { class: "topbar" },
      h(
        "header",
        { class: "header" },
        h(
          "div",
          { class: "brand" },
          h("span", { class: "logo", "aria-hidden": "true" }),
          "Tokenmeter",
          org ? h("span", { class: "org", title: "Organization" }, org) : null,
        ),
        h(
          "div",
          { class: "header-controls" },
          h("div", { class: "seg", role: "group", "aria-label": "Range" }, this.presets),
          this.gran,
          this.tz,
        ),
        this.filtersToggle,
        h(
          "div",
          { class: "header-actions" },
          h("button", { type: "button", class: "btn btn-ghost", title: "Reload all panels", onclick: () => on.refresh() }, "↻ Refresh"),
          themeBtn,
          h(
            "button",
            { type: "button", class: "btn btn-ghost", title: "Forget the token in this tab", onclick: () => on.signOut() },
            "Sign out",
          ),
        ),
      ),
      h("div", { class: "filterbar" }, this.custom, this.filterBox, this.clear, this.status),
    );
  }

  /** Reflects a (new) view in every control. */
  update(s: ViewState, r: ResolvedRange): void {
    this.state = s;
    for (const b of this.presets) b.setAttribute("aria-pressed", String(b.dataset.range === s.range));
    this.custom.hidden = s.range !== "custom";
    this.from.value = s.range === "custom" && s.from ? s.from : isoDate(r.start, s.tz);
    this.to.value = s.range === "custom" && s.to ? s.to : isoDate(r.end - 1, s.tz);
    for (const o of Array.from(this.gran.options)) o.disabled = !allowedGranularity(o.value as Granularity, r.end - r.start);
    this.gran.value = r.granularity;
    this.fillZones(s.tz);
    this.fillFilters();
    this.clear.hidden = Object.values(s.filters).every((v) => !v || v.length === 0);
    const active = Object.values(s.filters).filter((v) => v && v.length > 0).length;
    this.filtersToggle.textContent = active > 0 ? `Filters · ${active}` : "Filters";
  }

  setOptions(o: FilterOptions): void {
    this.options = o;
    this.fillFilters();
  }

  private openCustom(): void {
    this.custom.hidden = false;
    for (const b of this.presets) b.setAttribute("aria-pressed", String(b.dataset.range === "custom"));
    this.from.focus();
  }

  /** The widget of a filter, made on first use (tag keys arrive with the options). */
  private filterFor(k: FilterKey) {
    let f = this.filters.get(k);
    if (f) return f;
    const sel = h("select", {
      class: "input multi",
      multiple: true,
      size: 4,
      "aria-label": labelOf(k),
      "data-filter": k,
      onchange: () =>
        this.onFilter(
          k,
          Array.from(sel.selectedOptions).map((o) => o.value),
        ),
    });
    const search = h("input", {
      type: "search",
      class: "input input-sm",
      placeholder: `Search ${labelOf(k).toLowerCase()}…`,
      "aria-label": `Search ${labelOf(k)}`,
      "data-filter-search": k,
      oninput: () => {
        const needle = search.value.trim().toLowerCase();
        for (const o of Array.from(sel.options)) o.hidden = needle !== "" && !o.value.toLowerCase().includes(needle) && !o.selected;
      },
    });
    const box = h("label", { class: "filter" }, h("span", {}, labelOf(k)), search, sel);
    f = { sel, search, box };
    this.filters.set(k, f);
    this.filterBox.append(box);
    return f;
  }

  private fillFilters(): void {
    const s = this.state;
    if (!s) return;
    const keys = new Set<FilterKey>([
      ...FILTERS,
      ...(Object.keys(this.options) as FilterKey[]),
      ...(Object.keys(s.filters) as FilterKey[]),
    ]);
    for (const k of keys) {
      const { sel, search } = this.filterFor(k);
      const current = s.filters[k] ?? [];
      const values = [...new Set([...(this.options[k] ?? []), ...current])].filter((v) => v !== "").sort();
      sel.replaceChildren(...values.map((v) => h("option", { value: v }, v)));
      for (const o of Array.from(sel.options)) o.selected = current.includes(o.value);
      sel.classList.toggle("active", current.length > 0);
      search.value = "";
    }
  }

  /** The zone list (~400 entries) is built on first use; until then only the likely ones. */
  private fillZones(current: string, all = this.tz.dataset.all === "1"): void {
    const zones = new Set([browserZone(), "UTC", current, ...(all ? Intl.supportedValuesOf("timeZone") : [])]);
    this.tz.replaceChildren(...[...zones].map((z) => h("option", { value: z }, z === browserZone() ? `${z} · local` : z)));
    this.tz.value = current;
  }

  private fillAllZones(): void {
    if (this.tz.dataset.all === "1") return;
    this.tz.dataset.all = "1";
    this.fillZones(this.tz.value, true);
  }
}
