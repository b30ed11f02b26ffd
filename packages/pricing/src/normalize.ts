/**
 * Model-name normalization: the names runtimes report rarely match a price
 * list key exactly ("openai/gpt-4o", "gpt-4o-2024-11-20", "GPT-4o"). These are
 * the keys to try, most specific first; the first one the price table has wins.
 *
 * 1. `provider/model` — LiteLLM prices some providers separately ("azure/gpt-4o",
 *    "gemini/gemini-1.5-pro", "mistral/mistral-large-latest");
 * 2. the model as reported, then lower-cased;
 * 3. without a routing prefix ("openai/gpt-4o", "models/gemini-1.5-pro" → last segment);
 * 4. each of those without a date suffix ("-2024-11-20", "-20241022", "@20240620",
 *    "-0613"), and that base with "-latest" — only reached when no exact key exists,
 *    so a dated entry with its own price (e.g. "gpt-4o-2024-05-13") still wins.
 */
export function candidateKeys(provider: string, model: string): string[] {
  const out: string[] = [];
  const add = (k: string) => {
    if (k.length > 0 && !out.includes(k)) out.push(k);
  };
  const names: string[] = [];
  const addName = (k: string) => {
    if (k.length > 0 && !names.includes(k)) names.push(k);
  };
  addName(model);
  addName(model.toLowerCase());
  const slash = model.lastIndexOf("/");
  if (slash >= 0) {
    addName(model.slice(slash + 1));
    addName(model.slice(slash + 1).toLowerCase());
  }
  const p = provider.toLowerCase();
  if (p.length > 0) for (const n of names) if (!n.includes("/")) add(`${p}/${n}`);
  for (const n of names) add(n);
  for (const n of names) {
    const base = stripDate(n);
    if (base === n) continue;
    if (p.length > 0 && !base.includes("/")) add(`${p}/${base}`);
    add(base);
    add(`${base}-latest`);
  }
  return out;
}

const DATE_SUFFIXES = [/[-@]\d{4}-\d{2}-\d{2}$/, /[-@]20\d{6}$/, /-(0[1-9]|1[0-2])\d{2}$/];

/** Removes one trailing release date, or returns the name unchanged. */
export function stripDate(name: string): string {
  for (const re of DATE_SUFFIXES) {
    const stripped = name.replace(re, "");
    if (stripped !== name && stripped.length > 0) return stripped;
  }
  return name;
}
