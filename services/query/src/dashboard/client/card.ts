import { h } from "./dom.js";

export type CardState = "loading" | "ready" | "empty" | "error";

export interface CardOptions {
  id: string;
  title: string;
  /** Adds a "CSV" button; the handler downloads what the API returns for this chart. */
  onCsv?: () => Promise<void>;
  /** Controls placed in the header (tabs, selects). */
  tools?: Node[];
  span?: "full" | "half" | "third" | "two-thirds";
}

/**
 * A dashboard panel with the four states every chart has. While reloading,
 * the previous content stays visible (dimmed) so the layout does not jump.
 */
export class Card {
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  readonly note: HTMLElement;
  private readonly status: HTMLElement;
  private hasContent = false;

  constructor(opts: CardOptions) {
    this.note = h("span", { class: "card-note" });
    this.status = h("div", { class: "card-status", role: "status" });
    this.body = h("div", { class: "card-body" });
    const csv = opts.onCsv
      ? h(
          "button",
          {
            class: "btn btn-ghost btn-sm",
            type: "button",
            "data-csv": opts.id,
            title: "Download this chart's data as CSV",
            onclick: (ev: Event) => {
              const btn = ev.currentTarget as HTMLButtonElement;
              btn.disabled = true;
              this.status.textContent = "";
              opts
                .onCsv?.()
                .catch((err: Error) => {
                  this.status.textContent = `CSV download failed: ${err.message}`;
                })
                .finally(() => {
                  btn.disabled = false;
                });
            },
          },
          "⤓ CSV",
        )
      : null;
    this.el = h(
      "section",
      {
        class: `card span-${opts.span ?? "half"}`,
        id: `card-${opts.id}`,
        "data-card": opts.id,
        "data-state": "loading",
        "aria-busy": "true",
      },
      h(
        "header",
        { class: "card-head" },
        h("h2", {}, opts.title),
        this.note,
        this.status,
        h("div", { class: "card-tools" }, ...(opts.tools ?? []), csv),
      ),
      this.body,
    );
  }

  loading(): void {
    this.set("loading");
    if (!this.hasContent) this.body.replaceChildren(h("div", { class: "skeleton" }));
  }

  ready(): void {
    this.hasContent = true;
    this.set("ready");
  }

  empty(message = "No data in this range"): void {
    this.hasContent = false;
    this.body.replaceChildren(h("div", { class: "empty" }, h("div", { class: "empty-icon" }, "∅"), h("p", {}, message)));
    this.note.textContent = "";
    this.set("empty");
  }

  error(message: string, retry: () => void): void {
    this.hasContent = false;
    this.body.replaceChildren(
      h(
        "div",
        { class: "failed" },
        h("p", {}, `Could not load: ${message}`),
        h("button", { class: "btn btn-sm", type: "button", onclick: () => retry() }, "Retry"),
      ),
    );
    this.note.textContent = "";
    this.set("error");
  }

  private set(state: CardState): void {
    this.el.dataset.state = state;
    this.el.setAttribute("aria-busy", String(state === "loading"));
    this.status.textContent = state === "loading" ? "Loading…" : "";
  }
}

/** Saves text as a file through a temporary object URL. */
export function saveFile(name: string, text: string, type = "text/csv"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
