// The staging worker's entry (stage-pool.ts). On Node 20 a worker thread does
// not get the process's `--import tsx` loader, so it registers tsx itself
// before loading the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./stage-worker.ts");
