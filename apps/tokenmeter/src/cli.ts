#!/usr/bin/env node
// `tokenmeter <command>`: the operator's entry point (jobs, tools). Each command
// lives in its own file under commands/ and registers itself on the program.
import { Command } from "commander";
import { registerCommands } from "./commands/index.js";

const program = new Command("tokenmeter").description("LLM usage analytics pipeline").showHelpAfterError();
registerCommands(program);
await program.parseAsync(process.argv);
