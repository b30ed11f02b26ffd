import { h } from "./dom.js";

export interface Column<T> {
  key: string;
  label: string;
  num?: boolean;
  /** The value sorted on. */
  value: (row: T) => number | string;
  /** What the cell shows; defaults to the value. */
  cell?: (row: T) => Node | string;
  title?: string;
}

export interface SortSpec {
  key: string;
  dir: "asc" | "desc";
}

export function parseSort(s: string | undefined, fallback: SortSpec): SortSpec {
  const [key, dir] = (s ?? "").split(":");
  return key && (dir === "asc" || dir === "desc") ? { key, dir } : fallback;
}

/**
 * A table sortable by clicking its headers (aria-sort kept in step). Rows may
 * be clickable, e.g. to filter the dashboard by the row's value.
 */
export function sortableTable<T>(opts: {
  rows: T[];
  columns: Column<T>[];
  sort: SortSpec;
  onSort?: (s: SortSpec) => void;
  onRow?: (row: T) => void;
  rowTitle?: string;
  caption?: string;
}): HTMLTableElement {
  let sort = opts.sort;
  const tbody = h("tbody");
  const heads = opts.columns.map((c) =>
    h(
      "th",
      { scope: "col", class: c.num ? "num" : undefined, "data-key": c.key, title: c.title },
      h(
        "button",
        { type: "button", class: "th-btn", onclick: () => setSort(c.key) },
        c.label,
        h("span", { class: "sort-mark", "aria-hidden": "true" }),
      ),
    ),
  );
  const table = h(
    "table",
    { class: "data-table" },
    opts.caption ? h("caption", { class: "sr-only" }, opts.caption) : null,
    h("thead", {}, h("tr", {}, heads)),
    tbody,
  );

  function setSort(key: string) {
    const col = opts.columns.find((c) => c.key === key);
    const dir = sort.key === key ? (sort.dir === "desc" ? "asc" : "desc") : col?.num ? "desc" : "asc";
    sort = { key, dir };
    opts.onSort?.(sort);
    draw();
  }

  function draw() {
    const col = opts.columns.find((c) => c.key === sort.key) ?? opts.columns[0];
    const sign = sort.dir === "asc" ? 1 : -1;
    const rows = col
      ? [...opts.rows].sort((a, b) => {
          const x = col.value(a);
          const y = col.value(b);
          return sign * (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y)));
        })
      : opts.rows;
    for (const th of heads) {
      const active = th.dataset.key === sort.key;
      th.setAttribute("aria-sort", active ? (sort.dir === "asc" ? "ascending" : "descending") : "none");
    }
    tbody.replaceChildren(
      ...rows.map((r) =>
        h(
          "tr",
          opts.onRow
            ? {
                class: "clickable",
                title: opts.rowTitle,
                tabindex: 0,
                onclick: () => opts.onRow?.(r),
                onkeydown: (ev: Event) => (ev as KeyboardEvent).key === "Enter" && opts.onRow?.(r),
              }
            : {},
          opts.columns.map((c) => h("td", { class: c.num ? "num" : undefined }, c.cell ? c.cell(r) : String(c.value(r)))),
        ),
      ),
    );
  }
  draw();
  return table;
}

/** A horizontal bar showing a share, for table cells and bar lists. */
export function meter(fraction: number, color: string, label: string): HTMLElement {
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  fill.style.background = color;
  return h("span", { class: "meter-cell" }, h("span", { class: "meter" }, fill), h("span", { class: "meter-label" }, label));
}
