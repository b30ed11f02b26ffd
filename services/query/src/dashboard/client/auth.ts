import { h } from "./dom.js";

const KEY = "tokenmeter.token";

/**
 * The token comes from the URL fragment (`#token=…`, never sent to the
 * server or to referrers) or the paste box, and lives in sessionStorage: it is
 * gone when the tab closes and is not shared by a copied URL.
 */
export function takeToken(): string | null {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromUrl = frag.get("token");
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl.trim());
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

/** The org named in the token, for display only (the server verifies it). */
export function orgOf(token: string): string | null {
  try {
    const part = token.split(".")[1];
    if (!part) return null;
    const json = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { org_id?: unknown };
    return typeof json.org_id === "string" ? json.org_id : null;
  } catch {
    return null;
  }
}

/** The sign-in screen; `problem` explains why we are here again (e.g. a 401). */
export function authScreen(problem: string | null, onToken: (t: string) => void): HTMLElement {
  const input = h("textarea", {
    id: "token-input",
    class: "input token-input",
    rows: 3,
    placeholder: "eyJhbGciOiJIUzI1NiIs…",
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "API token",
  });
  const submit = (ev: Event) => {
    ev.preventDefault();
    const t = input.value.trim();
    if (!t) {
      input.focus();
      return;
    }
    sessionStorage.setItem(KEY, t);
    onToken(t);
  };
  return h(
    "main",
    { class: "auth" },
    h(
      "form",
      { class: "auth-card", onsubmit: submit },
      h("div", { class: "brand brand-lg" }, h("span", { class: "logo", "aria-hidden": "true" }), "Tokenmeter"),
      h("h1", {}, "Sign in with an API token"),
      problem ? h("div", { class: "alert alert-bad", role: "alert", "data-testid": "auth-error" }, problem) : null,
      h("label", { for: "token-input" }, "Token (JWT with an org_id claim)"),
      input,
      h("button", { class: "btn btn-primary", type: "submit" }, "Open dashboard"),
      h(
        "p",
        { class: "muted small" },
        "The token is kept in this browser tab only (sessionStorage). You can also open the dashboard with ",
        h("code", {}, "/#token=<token>"),
        ".",
      ),
    ),
  );
}
