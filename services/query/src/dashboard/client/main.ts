import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { createApi, type HttpError } from "./api.js";
import { authScreen, forgetToken, orgOf, takeToken } from "./auth.js";
import { createBudgetSection } from "./budgets.js";
import { createPalettes } from "./colors.js";
import { Controls } from "./controls.js";
import { KpiRow } from "./kpis.js";
import { createPanels } from "./panels.js";
import { readState, writeState } from "./state.js";
import { applyTheme, currentTheme, cycleTheme, onSystemThemeChange } from "./theme.js";
import { UserBudgets } from "./user-budgets.js";
import { View } from "./view.js";

function boot(): void {
  applyTheme(currentTheme());
  const token = takeToken();
  if (token) startDashboard(token);
  else showAuth(null);
}

function root(): HTMLElement {
  return document.getElementById("app") as HTMLElement;
}

/** Listeners of the dashboard on screen; removed when it is replaced, so a stale view never reloads. */
let session: AbortController | undefined;

function showAuth(problem: string | null): void {
  session?.abort();
  document.body.dataset.state = "auth";
  root().replaceChildren(authScreen(problem, (t) => startDashboard(t)));
  (document.getElementById("token-input") as HTMLTextAreaElement | null)?.focus();
}

function startDashboard(token: string): void {
  session?.abort();
  session = new AbortController();
  const { signal } = session;
  const api = createApi(() => token);
  const view = new View({
    api,
    palettes: createPalettes(),
    kpis: new KpiRow(),
    initial: readState(location.search),
    onUnauthorized: (err: HttpError) => {
      view.stop();
      forgetToken();
      showAuth(
        `The API rejected this token (401 ${err.code}: ${err.message}). It may have expired or belong to another deployment. Paste a valid token to continue.`,
      );
    },
  });
  const controls = new Controls(orgOf(token), currentTheme(), {
    change: (patch) => view.change(patch),
    refresh: () => view.load(),
    signOut: () => {
      view.stop();
      forgetToken();
      showAuth(null);
    },
    cycleTheme: () => {
      const t = cycleTheme();
      view.rerender();
      return t;
    },
  });
  // Per-user budgets: loaded once by the Budgets section, drawn on the Users card too.
  const userBudgets = new UserBudgets();
  view.attach(controls, createPanels(view, userBudgets));
  onSystemThemeChange(() => view.rerender(), signal);
  const budgets = createBudgetSection(token, userBudgets);
  root().replaceChildren(controls.el, view.el, budgets.el);
  budgets.load();
  window.addEventListener("popstate", () => view.restore(readState(location.search)), { signal });
  history.replaceState(null, "", writeState(view.state));
  view.load();
}

boot();
