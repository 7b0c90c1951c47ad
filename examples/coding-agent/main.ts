/**
 * `pnpm demo`: a terminal coding assistant working in a sandbox directory.
 *
 * - The model: OpenAI (Responses API) when `OPENAI_API_KEY` is set —
 *   `OPENAI_MODEL` (default `gpt-4.1-mini`) and `OPENAI_BASE_URL` (any
 *   OpenAI-compatible server) apply — otherwise a scripted model that shows
 *   the same things on a scripted task.
 * - The tools: the real `@modelcontextprotocol/server-filesystem` on the
 *   sandbox (`CHORUS_SANDBOX`, default `~/.local/state/chorus/coding-agent`,
 *   outside any repository; created if missing); writes ask for approval in
 *   the terminal: `y`, `n` with a reason, or what to do instead.
 * - `CODING_AGENT_EVERYTHING=true` also attaches the real
 *   `@modelcontextprotocol/server-everything`: ask to be signed up ("sign me
 *   up") and its `trigger-elicitation-request` tool asks you for a form in
 *   the terminal (an MCP elicitation): answer with `name=value, …` pairs or a
 *   JSON object, or `decline` / `cancel`.
 * - The conversation is journaled in `<sandbox>/.chorus/journal.jsonl`:
 *   running the demo again resumes it.
 *
 * The screen is the library's `Terminal`: this file is wiring. Ctrl-C stops
 * the current run (keeping the partial answer); Ctrl-C when idle, Ctrl-C
 * twice, or `/quit` leaves. With piped input, each line is a message or an
 * answer, and the demo leaves once everything was answered.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Agent, Environment, FunctionCallRunner, Human, Journal, Terminal } from "@chorus/core"
import { McpClient, McpConfig, McpEnvironment, McpToolkit } from "@chorus/mcp"
import { OpenAiResponses } from "@chorus/providers"
import { Cause, Config, Effect, HashMap, Layer, Logger, LogLevel, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Script from "./Script.js"

/** The demo could not start; the message says why and what to do. */
class DemoError extends Schema.TaggedError<DemoError>()("DemoError", { reason: Schema.String }) {
  override get message() {
    return this.reason
  }
}

const agentId = "assistant"
const humanId = "you"

const instructions = (sandbox: string) =>
  "You are a coding assistant working in a sandbox directory through filesystem tools. " +
  `The sandbox is ${sandbox}; use paths relative to it (they resolve inside it). ` +
  "Look before you change things: list and read files first. Writing, editing, moving files and creating " +
  "directories needs the user's approval, which they give in the terminal; if they reject a call, follow what they " +
  "say instead. Never touch the .chorus directory (it holds this conversation). Keep answers short and concrete."

/** The filesystem server's bin script, resolved from node_modules (no npx, no network). */
const filesystemServer = Effect.try({
  try: () => {
    const require = createRequire(import.meta.url)
    const manifest = require.resolve("@modelcontextprotocol/server-filesystem/package.json")
    const bin = (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: Record<string, string> }).bin
    const script = bin?.["mcp-server-filesystem"]
    if (script === undefined) throw new Error("its package.json names no mcp-server-filesystem bin")
    return Path.join(Path.dirname(manifest), script)
  },
  catch: (error) =>
    new DemoError({
      reason: `@modelcontextprotocol/server-filesystem is not installed (${
        error instanceof Error ? error.message : String(error)
      }); run pnpm install.`
    })
})

/** server-everything's entry point, resolved from node_modules (a devDependency of the workspace). */
const everythingServer = Effect.try({
  try: () => {
    const require = createRequire(import.meta.url)
    return Path.join(Path.dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")), "dist", "index.js")
  },
  catch: (error) =>
    new DemoError({
      reason: `@modelcontextprotocol/server-everything is not installed (${describe(error)}); run pnpm install, ` +
        "or leave CODING_AGENT_EVERYTHING unset."
    })
})

/** Creates the sandbox and its `.chorus` folder; returns the sandbox's real path. */
const prepareSandbox = (setting: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = Path.resolve(setting)
    yield* fs.makeDirectory(Path.join(directory, ".chorus"), { recursive: true })
    return yield* fs.realPath(directory)
  }).pipe(
    Effect.mapError((error) =>
      new DemoError({ reason: `cannot use ${setting} as the sandbox (CHORUS_SANDBOX): ${error.message}` })
    )
  )

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/** Where the sandbox is when CHORUS_SANDBOX is not set: a state folder of the user's, outside any repository. */
const defaultSandbox = Path.join(process.env.XDG_STATE_HOME ?? Path.join(Os.homedir(), ".local", "state"), "chorus", "coding-agent")

const program = (terminal: Terminal.Terminal) => Effect.gen(function*() {
  const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  const model = yield* Config.string("OPENAI_MODEL").pipe(Config.withDefault("gpt-4.1-mini"))
  const baseUrl = yield* Config.option(Config.string("OPENAI_BASE_URL"))
  const sandboxSetting = yield* Config.string("CHORUS_SANDBOX").pipe(Config.withDefault(defaultSandbox))
  const withEverything = yield* Config.boolean("CODING_AGENT_EVERYTHING").pipe(Config.withDefault(false))

  yield* terminal.print(
    Option.isSome(apiKey)
      ? `Chorus coding agent · OpenAI ${model}${Option.match(baseUrl, { onNone: () => "", onSome: (url) => ` at ${url}` })}`
      : "Chorus coding agent · scripted model (set OPENAI_API_KEY to use OpenAI)",
    "bold"
  )

  const sandbox = yield* prepareSandbox(sandboxSetting)
  const journal = Path.join(sandbox, ".chorus", "journal.jsonl")
  const server = yield* filesystemServer
  yield* terminal.print(`sandbox: ${sandbox}  (conversation: ${Path.relative(sandbox, journal)})`, "dim")

  const inference = Option.isSome(apiKey) ? OpenAiResponses.layerConfig({ model }) : Script.layer()
  const servers = [McpConfig.stdio("filesystem", { command: process.execPath, args: [server, sandbox], cwd: sandbox })]
  if (withEverything) {
    servers.push(McpConfig.stdio("everything", { command: process.execPath, args: [yield* everythingServer, "stdio"], cwd: sandbox }))
  }
  // The servers' elicitations (a server asking the person for a form) and authorization links go through the
  // environment, where the terminal shows them as prompts. server-everything's form asks the person itself, so
  // calling it needs no approval first.
  const tools = Layer.unwrapEffect(Effect.map(McpEnvironment.options(), (handlers) =>
    McpToolkit.layerServers(McpConfig.make(servers), {
      ...handlers,
      approval: { everything: { [Script.elicitingTool]: "never" } }
    })
  ))
  const environment = Environment.layer().pipe(
    Layer.provide(Journal.layerFile(journal)),
    Layer.catchAll((error) =>
      Layer.fail(
        new DemoError({
          reason: `${error.message}\nThe conversation in ${journal} cannot be resumed: move the file away to start a new one.`
        })
      )
    )
  )

  yield* Effect.gen(function*() {
    const env = yield* Environment.Environment
    const client = yield* McpClient.McpClient
    const runner = yield* FunctionCallRunner.FunctionCallRunner
    for (const failure of client.startupFailures) {
      yield* terminal.print(`the ${failure.server} tools are not available: ${failure.message}`, "red")
    }
    // server-everything adds tools (its elicitation tool) right after the handshake: read them again. A server that
    // is down now is not fatal: the client reconnects and its tools show once it answers.
    yield* Effect.forEach(client.servers, (name) => Effect.ignore(client.refreshTools(name)), { discard: true })
    const definitions = yield* runner.tools
    const asking = definitions.filter((tool) => tool.approval !== "never").map((tool) => tool.name)
    yield* terminal.print(
      `tools: ${definitions.length} from ${client.servers.join(" and ")}; these ask for approval: ${asking.join(", ") || "none"}`,
      "dim"
    )
    if (withEverything) yield* terminal.print("server-everything attached: say \"sign me up\" to be asked for a form", "dim")
    yield* terminal.print("Type a message and press Enter. Ctrl-C stops the assistant; Ctrl-C when idle, or /quit, leaves.", "dim")

    yield* Effect.orDie(McpEnvironment.cancelOrphaned("the demo was restarted: the MCP server's request was lost"))
    // The renderer first: it prints the earlier conversation, then sees the agent resume.
    yield* env.join(terminal.renderer)
    yield* env.join(Agent.make({ id: agentId, instructions: instructions(sandbox) })).pipe(
      Effect.provide(inference),
      Effect.provide(Layer.succeed(FunctionCallRunner.FunctionCallRunner, runner))
    )
    yield* env.join(Human.make({ id: humanId })).pipe(Effect.provide(terminal.layer))
    yield* terminal.keyboard
    yield* terminal.done
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.provideMerge(tools, environment)),
    // Also when a signal (SIGINT, SIGTERM from outside) interrupts the program.
    Effect.ensuring(terminal.close)
  )

  yield* Effect.sync(() => process.stdout.write(`Bye. The conversation is saved in ${journal}; run the demo again to resume it.\n`))
}).pipe(
  Effect.catchAll((error) =>
    Effect.zipRight(terminal.close, Effect.sync(() => {
      process.stderr.write(`${describe(error)}\n`)
      process.exitCode = 1
    }))
  ),
  Effect.catchAllDefect((defect) =>
    Effect.zipRight(terminal.close, Effect.sync(() => {
      process.stderr.write(`The demo crashed: ${Cause.pretty(Cause.die(defect))}\n`)
      process.exitCode = 1
    }))
  )
)


/** Logs go through the terminal, so they never break the input line. */
const logger = (terminal: Terminal.Terminal) =>
  Logger.make(({ annotations, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    const server = HashMap.get(annotations, "mcpServer")
    Effect.runSync(terminal.print(
      `  [${logLevel.label.toLowerCase()}${Option.isSome(server) ? ` ${String(server.value)}` : ""}] ${text}`,
      logLevel.ordinal >= LogLevel.Error.ordinal ? "red" : "dim"
    ))
  })

Effect.gen(function*() {
  const terminal = yield* Terminal.make({ human: humanId, interrupts: [agentId] })
  yield* program(terminal).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger(terminal))))
}).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
