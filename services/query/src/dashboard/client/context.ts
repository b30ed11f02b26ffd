import type { GroupBy } from "./api.js";
import type { Palettes } from "./colors.js";
import type { FilterKey, ResolvedRange, ViewState } from "./state.js";

/** What a panel needs to render: the view, its window, colors and the actions it may take. */
export interface ViewContext {
  state: ViewState;
  range: ResolvedRange;
  palettes: Palettes;
  /** Narrows the view to one value of a filter (a row click). */
  setFilter(key: FilterKey, value: string): void;
  setSort(sort: string): void;
}

/** The color registry for the values of a dimension. */
export function colorFor(ctx: ViewContext, dim: GroupBy | "none", key: string): string {
  if (dim === "provider") return ctx.palettes.provider.get(key);
  if (dim === "model") return ctx.palettes.model.get(key);
  return ctx.palettes.other.get(`${dim}:${key}`);
}
