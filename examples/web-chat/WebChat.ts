/**
 * The web chat: an agent and the browsers' human in one environment, served
 * by `@chorus/server`'s routes plus the page and its two libraries. This file
 * is wiring; the HTTP protocol lives in `@chorus/server`.
 *
 * - `GET /` — the page (`page.html`, plain JavaScript).
 * - `GET /assets/marked.js`, `GET /assets/purify.js` — Markdown rendering
 *   (`marked`) and sanitising (`DOMPurify`), served from `node_modules`;
 *   `GET /assets/elicitation.js` — the page's MCP elicitation forms.
 * - everything `Routes.router` serves: `GET /snapshot` (the first paint),
 *   `GET /events` (OpenResponses SSE, resumable, tied to the journal),
 *   `POST /messages`, `/interrupt`, `/approvals`, `/clarifications`,
 *   `/elicitations` (an MCP server's form, answered in the page),
 *   `POST /chat` (`useChat`) and `POST /v1/responses` (any OpenAI client talks
 *   to the same conversation the browsers show).
 *
 * @since 0.1.0
 */
import { FileSystem, HttpRouter, HttpServerResponse } from "@effect/platform"
import type { HttpServerError, Path } from "@effect/platform"
import { Agent, Environment, FunctionCallRunner, Human, InputStream } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { McpClient, McpConfig, McpEnvironment, McpToolkit } from "@chorus/mcp"
import { Conversations, Routes } from "@chorus/server"
import { Context, Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Notes from "./Notes.js"

/** Options of the server. */
export interface Options {
  /** Where `write_note` writes. */
  readonly sandbox: string
  /** The port; 0 (default) picks a free one. */
  readonly port?: number | undefined
  /** The interface to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** The agent's id. Default `assistant`. */
  readonly agent?: string | undefined
  /** The id the browsers speak as. Default `you`. */
  readonly human?: string | undefined
  /** The agent's system prompt. */
  readonly instructions?: string | undefined
  /** The page's title. */
  readonly title?: string | undefined
  /**
   * MCP servers whose tools the agent gets beside `write_note`. Their elicitations (a server asking a person
   * for input during a call) and authorization links are shown in the page, and answered there.
   */
  readonly mcp?: McpConfig.McpConfig | undefined
  /** Approval overrides for the MCP tools (default: `McpToolkit`'s rule from their annotations). */
  readonly mcpApproval?: McpToolkit.ApprovalOverrides | undefined
}

/** A running web chat. */
export interface WebChat {
  /** The page's address, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string
  readonly port: number
  readonly agent: string
  readonly human: string
  /** The MCP client, when `mcp` servers are attached (their status, resources, prompts). */
  readonly mcp: McpClient.Service | undefined
}

const defaultInstructions =
  "You are a helpful assistant in a web chat. Answer clearly; you may use Markdown. When the user asks you to write, " +
  `save or remember something, use the ${Notes.toolName} tool; the user approves every note before it is written.`

const pageFile = fileURLToPath(new URL("./page.html", import.meta.url))
const require = createRequire(import.meta.url)

/** The page's libraries, bundled by their authors for a browser (UMD / IIFE builds). */
export const assets: Readonly<Record<string, string>> = {
  "marked.js": NodePath.join(NodePath.dirname(require.resolve("marked/package.json")), "lib", "marked.umd.js"),
  "purify.js": require.resolve("dompurify/purify.min.js"),
  "elicitation.js": fileURLToPath(new URL("./elicitation.js", import.meta.url))
}

/**
 * `@modelcontextprotocol/server-everything` (a devDependency) over stdio, named `everything`: its
 * `trigger-elicitation-request` tool asks the person for a form's worth of input during the call. It asks
 * the person itself, so it needs no approval first (the server's other tools keep the default rule).
 */
export const everything = (): { readonly mcp: McpConfig.McpConfig; readonly mcpApproval: McpToolkit.ApprovalOverrides } => ({
  mcp: McpConfig.make([McpConfig.stdio("everything", {
    command: process.execPath,
    args: [
      NodePath.join(NodePath.dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")), "dist", "index.js"),
      "stdio"
    ]
  })]),
  mcpApproval: { everything: { "trigger-elicitation-request": "never" } }
})


/**
 * The agent's tools: `write_note`, and the MCP servers' tools when there are any (their client lives as long as
 * the scope; elicitations and authorization links go through the environment).
 */
const tools = (options: Options) =>
  Effect.gen(function*() {
    const notes = Notes.toolkit(options.sandbox)
    if (options.mcp === undefined) return { runner: yield* notes.runner, mcp: undefined }
    const handlers = yield* McpEnvironment.options()
    const context = yield* Layer.build(
      McpToolkit.layerServers(options.mcp, { ...handlers, local: notes, approval: options.mcpApproval })
    )
    const mcp = Context.get(context, McpClient.McpClient)
    // Some servers (server-everything) add tools right after the handshake; read them again before the first turn.
    // A server that is down now is not fatal: the client reconnects and its tools show once it answers.
    yield* Effect.forEach(mcp.servers, (server) => Effect.ignore(mcp.refreshTools(server)), { discard: true })
    return { runner: Context.get(context, FunctionCallRunner.FunctionCallRunner), mcp }
  })

/** The page with its configuration filled in. */
const renderPage = (template: string, config: unknown) =>
  // `<` is escaped so that no value can close the script element.
  template.replace("/*CHORUS_CONFIG*/null", JSON.stringify(config).replace(/</g, "\\u003c"))

/** The agent's options: `write_note` needs approval every time. */
export const agentOptions = (options: Pick<Options, "agent" | "instructions">): Agent.Options => ({
  id: options.agent ?? "assistant",
  instructions: options.instructions ?? defaultInstructions,
  approval: { tools: { [Notes.toolName]: "always" } }
})

/**
 * Starts the web chat on the environment in context: joins the browsers'
 * human and the agent (on the `InferenceRunner` in context, `write_note`
 * needing approval) and serves on `host:port` until the scope closes. On an
 * environment whose journal already holds a conversation, the agent resumes
 * it and the page shows it.
 */
export const make = (
  options: Options
): Effect.Effect<
  WebChat,
  HttpServerError.ServeError | Environment.ParticipantAlreadyJoined | Environment.ParticipantStartFailed,
  Environment.Environment | InferenceRunner.InferenceRunner | FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    yield* env.join(Human.make({ id: options.human ?? "you" })).pipe(Effect.provide(InputStream.layer(Stream.never)))
    yield* Effect.orDie(McpEnvironment.cancelOrphaned("the web chat restarted: the MCP server's request was lost"))
    const { mcp, runner } = yield* tools(options)
    yield* env.join(Agent.make(agentOptions(options))).pipe(
      Effect.provide(Layer.succeed(FunctionCallRunner.FunctionCallRunner, runner))
    )
    return { ...(yield* serve(options)), mcp }
  })

/**
 * Serves the page and the routes on the environment in context, for an agent
 * that runs elsewhere (the clustered web chat: `ClusterAgent` places it on one
 * runner, every node serves). The browsers' human joins unless it is a member
 * already (another node joined it): every node speaks as the same person.
 */
export const serve = (
  options: Omit<Options, "mcp" | "mcpApproval">
): Effect.Effect<
  WebChat,
  HttpServerError.ServeError | Environment.ParticipantStartFailed,
  Environment.Environment | FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const fs = yield* FileSystem.FileSystem
    const agent = options.agent ?? "assistant"
    const human = options.human ?? "you"
    const template = yield* Effect.orDie(fs.readFileString(pageFile))
    const page = renderPage(template, { agent, human, title: options.title ?? "Chorus web chat" })
    const files = yield* Effect.forEach(Object.entries(assets), ([name, path]) =>
      Effect.map(Effect.orDie(fs.readFileString(path)), (text) => [name, text] as const))
    if (!(yield* env.members).some((member) => member.id === human)) {
      yield* env.join(Human.make({ id: human })).pipe(
        Effect.provide(InputStream.layer(Stream.never)),
        Effect.catchTag("ParticipantAlreadyJoined", () => Effect.void)
      )
    }

    const app = Routes.router({ conversations: Conversations.single(env), speaker: Routes.localHuman(human) }).pipe(
      HttpRouter.get("/", Effect.succeed(HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" }))),
      (router) =>
        files.reduce((router, [name, text]) =>
          HttpRouter.get(router, `/assets/${name}`, Effect.succeed(HttpServerResponse.text(text, {
            contentType: "text/javascript; charset=utf-8",
            headers: { "cache-control": "public, max-age=3600" }
          }))), router)
    )
    const server = yield* Routes.serve(app, { port: options.port, host: options.host })
    return { url: server.url, port: server.port, agent, human, mcp: undefined }
  })
