// Light, dark, or follow the system (the default). Stored per browser.

const KEY = "tokenmeter.theme";
const ORDER = ["auto", "light", "dark"];

export function currentTheme(): string {
  const t = localStorage.getItem(KEY);
  return t && ORDER.includes(t) ? t : "auto";
}

export function applyTheme(t: string): void {
  if (t === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
}

export function cycleTheme(): string {
  const next = ORDER[(ORDER.indexOf(currentTheme()) + 1) % ORDER.length] as string;
  localStorage.setItem(KEY, next);
  applyTheme(next);
  return next;
}

export function onSystemThemeChange(fn: () => void, signal: AbortSignal): void {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener(
    "change",
    () => {
      if (currentTheme() === "auto") fn();
    },
    { signal },
  );
}
