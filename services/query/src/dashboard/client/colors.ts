// Colors that stay with a key across every chart and table of the page: known
// providers get their brand color; everything else a palette slot chosen by a
// hash of the key (probing past slots already taken), so the same model keeps
// its color from one view to the next.

const PROVIDERS: Record<string, string> = {
  openai: "#10a37f",
  anthropic: "#d97757",
  gemini: "#4285f4",
  google: "#4285f4",
  vertex: "#4285f4",
  mistral: "#fa520f",
  azure: "#0078d4",
  bedrock: "#ff9900",
  aws: "#ff9900",
  cohere: "#39594d",
  groq: "#f55036",
  deepseek: "#4d6bfe",
  xai: "#6b7280",
};

// Observable 10 (made for both light and dark backgrounds), then a few extras.
const PALETTE = [
  "#4269d0",
  "#efb118",
  "#ff725c",
  "#6cc5b0",
  "#3ca951",
  "#ff8ab7",
  "#a463f2",
  "#97bbf5",
  "#9c6b4e",
  "#38bdf8",
  "#e879f9",
  "#84cc16",
];
const ERROR_PALETTE = ["#e5484d", "#f76b15", "#ffb224", "#d6409f", "#8e4ec6", "#978365", "#0ea5e9", "#64748b"];
export const OTHER_COLOR = "#9498a0";

function hash(s: string): number {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
  return x >>> 0;
}

export class ColorRegistry {
  private readonly byKey = new Map<string, string>();
  constructor(
    private readonly palette: string[],
    private readonly fixed: Record<string, string> = {},
  ) {}

  get(key: string): string {
    const known = this.byKey.get(key) ?? this.fixed[key.toLowerCase()];
    if (known) return known;
    const used = new Set(this.byKey.values());
    const start = hash(key) % this.palette.length;
    let color = this.palette[start] as string;
    for (let i = 0; i < this.palette.length; i++) {
      const c = this.palette[(start + i) % this.palette.length] as string;
      if (!used.has(c)) {
        color = c;
        break;
      }
    }
    this.byKey.set(key, color);
    return color;
  }
}

/** One registry per dimension, created once per page. */
export function createPalettes() {
  return {
    provider: new ColorRegistry(PALETTE, PROVIDERS),
    model: new ColorRegistry(PALETTE),
    other: new ColorRegistry(PALETTE),
    error: new ColorRegistry(ERROR_PALETTE),
    percentile: { p50: "#38bdf8", p95: "#6366f1", p99: "#e5484d" },
  };
}
export type Palettes = ReturnType<typeof createPalettes>;
