/**
 * Connections to MCP servers: stdio child processes and Streamable HTTP
 * endpoints, all under one scope.
 *
 * {@link make} connects every configured server concurrently. A server that
 * fails to start does not fail the whole: its {@link McpServerError} is
 * logged and kept in `startupFailures` and {@link Service.status}, and the
 * other servers stay usable. Closing the scope closes every connection and
 * ends every server process.
 *
 * Each server's tools are listed at connection and listed again when the
 * server sends `notifications/tools/list_changed`. A stdio server that exits,
 * or an HTTP server that stops answering, is marked disconnected (published as
 * a {@link Event} and logged); the next request to it reconnects under the
 * `reconnect` schedule. A request in flight when a server crashes fails with
 * reason `"crashed"`.
 *
 * A stdio server that writes something other than JSON-RPC to its stdout breaks
 * the protocol (the MCP specification forbids it): the connection is closed,
 * the requests in flight fail with reason `"malformed_response"`, and the next
 * request reconnects. A well-formed message with an invalid result fails only
 * its request, with the same reason.
 *
 * @since 0.1.0
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import type * as Sdk from "@modelcontextprotocol/sdk/types.js"
import type { Tool } from "@chorus/core"
import {
  Context,
  Data,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  FiberSet,
  Layer,
  LogLevel,
  Option,
  PubSub,
  Queue,
  Redacted,
  Ref,
  Schedule,
  Schema,
  Scope
} from "effect"
import type * as McpConfig from "./McpConfig.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** Why a request to a server did not produce its result. */
export const ServerErrorReason = Schema.Literal(
  "not_configured",
  "start_failed",
  "unavailable",
  "crashed",
  "malformed_response",
  "timeout",
  "unsupported",
  "request_failed"
)
export type ServerErrorReason = typeof ServerErrorReason.Type

/**
 * A server could not be started or reached, broke the protocol, or answered a
 * request with a JSON-RPC error (`code`). The detail never holds configured
 * header or environment values.
 */
export class McpServerError extends Schema.TaggedError<McpServerError>()("McpServerError", {
  server: Schema.String,
  reason: ServerErrorReason,
  detail: Schema.String,
  code: Schema.NullOr(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    switch (this.reason) {
      case "not_configured":
        return `MCP server "${this.server}" is not configured. ${this.detail}`
      case "start_failed":
        return `MCP server "${this.server}" failed to start: ${this.detail}`
      case "unavailable":
        return `MCP server "${this.server}" is unavailable: ${this.detail}`
      case "crashed":
        return `MCP server "${this.server}" crashed: ${this.detail}`
      case "malformed_response":
        return `MCP server "${this.server}" sent a malformed response: ${this.detail}`
      case "timeout":
        return `MCP server "${this.server}" timed out: ${this.detail}`
      case "unsupported":
        return `MCP server "${this.server}" does not support this: ${this.detail}`
      case "request_failed":
        return `MCP server "${this.server}" refused the request: ${this.detail}`
    }
  }
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/** A tool as a server describes it. */
export interface McpTool {
  readonly name: string
  readonly title: string | undefined
  readonly description: string | undefined
  /** The input JSON Schema, exactly as the server sent it. */
  readonly inputSchema: Tool.JsonSchema
  readonly outputSchema: Tool.JsonSchema | undefined
  readonly annotations: Tool.Annotations
}

/** A tool together with the server that offers it. */
export interface ServerTool {
  readonly server: string
  readonly tool: McpTool
}

/** The contents of a resource: text, or binary data in base64. */
export type ResourceContents =
  | { readonly uri: string; readonly mimeType?: string | undefined; readonly text: string }
  | { readonly uri: string; readonly mimeType?: string | undefined; readonly blob: string }

/** A content block of a tool result or a prompt message. */
export type Content =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image"; readonly data: string; readonly mimeType: string }
  | { readonly type: "audio"; readonly data: string; readonly mimeType: string }
  | {
    readonly type: "resource_link"
    readonly uri: string
    readonly name: string
    readonly title?: string | undefined
    readonly description?: string | undefined
    readonly mimeType?: string | undefined
  }
  | { readonly type: "resource"; readonly resource: ResourceContents }

/** The result of a tool call. */
export interface CallToolResult {
  readonly content: ReadonlyArray<Content>
  readonly structuredContent: unknown
  readonly isError: boolean
}

/** A resource a server offers. */
export interface Resource {
  readonly uri: string
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
}

/** A family of resources a server offers, by URI template. */
export interface ResourceTemplate {
  readonly uriTemplate: string
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
}

/** A prompt a server offers. */
export interface Prompt {
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly arguments: ReadonlyArray<{
    readonly name: string
    readonly description?: string | undefined
    readonly required: boolean
  }>
}

/** A prompt, filled in. */
export interface PromptResult {
  readonly description?: string | undefined
  readonly messages: ReadonlyArray<{ readonly role: "user" | "assistant"; readonly content: Content }>
}

/** What is known of a server now. */
export interface ServerStatus {
  readonly name: string
  readonly transport: "stdio" | "http"
  readonly connected: boolean
  /** The server process, for a connected stdio server. */
  readonly pid: number | null
  /** Why it is not connected. */
  readonly error: McpServerError | null
  readonly tools: ReadonlyArray<string>
}

/** What happens to connections, as it happens. */
export type Event = Data.TaggedEnum<{
  /** A server is connected (again, when `reconnected`). */
  Connected: { readonly server: string; readonly pid: number | null; readonly reconnected: boolean }
  /** A server was lost or could not be reconnected. */
  Disconnected: { readonly server: string; readonly error: McpServerError }
  /** A server's tools were listed again. */
  ToolsChanged: { readonly server: string; readonly tools: ReadonlyArray<string> }
}>

/** Constructors of {@link Event}. */
export const Event = Data.taggedEnum<Event>()

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/** Options of {@link make}. */
export interface Options {
  /** How long connecting (start, initialize, list tools) may take. Default 30 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** How reconnection is retried after a server was lost. Default: 3 retries, exponential from 200 ms. */
  readonly reconnect?: Schedule.Schedule<unknown, McpServerError> | undefined
  /** The client name sent to servers. Default "chorus". */
  readonly clientName?: string | undefined
}

/** Options of a tool call. */
export interface CallOptions {
  /** Receives the server's progress notifications, in order, before the call completes. */
  readonly onProgress?: ((progress: Tool.Progress) => Effect.Effect<void>) | undefined
}

/** The service. */
export interface Service {
  /** The configured (enabled) servers, in configuration order. */
  readonly servers: ReadonlyArray<string>
  /** The servers that could not be started when the client was made. */
  readonly startupFailures: ReadonlyArray<McpServerError>
  readonly status: Effect.Effect<ReadonlyArray<ServerStatus>>
  /** The tools of every server, as last listed, in configuration order. */
  readonly tools: Effect.Effect<ReadonlyArray<ServerTool>>
  /** Calls a tool; interrupting the effect sends the server a cancellation. */
  readonly callTool: (
    server: string,
    name: string,
    args: Readonly<Record<string, unknown>>,
    options?: CallOptions
  ) => Effect.Effect<CallToolResult, McpServerError>
  /** Lists a server's tools again. */
  readonly refreshTools: (server: string) => Effect.Effect<ReadonlyArray<McpTool>, McpServerError>
  readonly listResources: (server: string) => Effect.Effect<ReadonlyArray<Resource>, McpServerError>
  readonly listResourceTemplates: (server: string) => Effect.Effect<ReadonlyArray<ResourceTemplate>, McpServerError>
  readonly readResource: (server: string, uri: string) => Effect.Effect<ReadonlyArray<ResourceContents>, McpServerError>
  readonly listPrompts: (server: string) => Effect.Effect<ReadonlyArray<Prompt>, McpServerError>
  readonly getPrompt: (
    server: string,
    name: string,
    args?: Readonly<Record<string, string>>
  ) => Effect.Effect<PromptResult, McpServerError>
  /** Connects a server again now (closing its current connection, if any). */
  readonly reconnect: (server: string) => Effect.Effect<void, McpServerError>
  /** Subscribes to connection events; subscribe before doing what should cause them. */
  readonly events: Effect.Effect<Queue.Dequeue<Event>, never, Scope.Scope>
}

/** The MCP client tag. */
export class McpClient extends Context.Tag("@chorus/mcp/McpClient")<McpClient, Service>() {}

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

const version = "0.1.0"
// The SDK's own per-request timer (setTimeout) is disabled in effect; timeouts go through Clock.
const noSdkTimeout = 2_147_483_647
const stderrKeep = 4_096

interface Connection {
  readonly generation: number
  readonly client: Client
  readonly pid: number | null
  readonly scope: Scope.CloseableScope
  /** Set when the server broke the protocol; requests that fail afterwards report it. */
  readonly broken: Ref.Ref<Option.Option<string>>
}

type State =
  | { readonly _tag: "Connected"; readonly connection: Connection }
  | { readonly _tag: "Disconnected"; readonly error: McpServerError }
  | { readonly _tag: "Closed" }

interface Entry {
  readonly config: McpConfig.Server
  readonly state: Ref.Ref<State>
  readonly tools: Ref.Ref<ReadonlyArray<McpTool>>
  readonly lock: Effect.Semaphore
  /** The end of the server's stderr, for error details. */
  readonly stderr: Ref.Ref<string>
}

const errorText = (error: unknown): string => {
  if (error instanceof StreamableHTTPError && error.code !== undefined && error.code > 0) {
    return `${error.message} (HTTP ${error.code})`
  }
  if (isMalformed(error)) return malformedText(error)
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== "" && !error.message.includes(cause.message)
      ? `${error.message} (${cause.message})`
      : error.message
  }
  return String(error)
}

const truncate = (text: string, max = 500): string => text.length > max ? `${text.slice(0, max)}…` : text

const isMalformed = (error: unknown): boolean =>
  error instanceof SyntaxError ||
  (error instanceof Error && (error.name === "ZodError" || error.name === "$ZodError"))

// A one-line account of a message that is not JSON-RPC, or of a result of the wrong shape.
const malformedText = (error: unknown): string => {
  if (error instanceof SyntaxError) return `not JSON (${error.message})`
  const issues = (error as { issues?: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey>; message?: string }> }).issues
  const first = issues?.[0]
  if (first === undefined) return truncate(String(error), 200)
  const path = (first.path ?? []).map(String).join(".")
  const more = issues!.length > 1 ? ` (and ${issues!.length - 1} more problems)` : ""
  return `${path === "" ? "the message" : `"${path}"`}: ${first.message ?? "invalid"}${more}`
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// Waits (boundedly) until a process that was told to end has ended, so that none outlives its scope.
const awaitExit = (pid: number) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 250 && isAlive(pid); attempt++) yield* Effect.sleep("20 millis")
  })

const logLevels: Record<Sdk.LoggingLevel, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  notice: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  critical: LogLevel.Error,
  alert: LogLevel.Error,
  emergency: LogLevel.Error
}

const secretValues = (config: McpConfig.Server): ReadonlyArray<string> =>
  Object.values(config._tag === "StdioServer" ? config.env : config.headers)
    .map((value) => Redacted.value(value))
    .filter((value) => value.length >= 4)

const redactText = (config: McpConfig.Server, text: string): string =>
  secretValues(config).reduce((acc, secret) => acc.split(secret).join("<redacted>"), text)

const toTool = (tool: Sdk.Tool): McpTool => ({
  name: tool.name,
  title: tool.title ?? tool.annotations?.title,
  description: tool.description,
  inputSchema: tool.inputSchema as Tool.JsonSchema,
  outputSchema: tool.outputSchema as Tool.JsonSchema | undefined,
  annotations: {
    title: tool.annotations?.title ?? tool.title,
    readOnly: tool.annotations?.readOnlyHint,
    destructive: tool.annotations?.destructiveHint,
    idempotent: tool.annotations?.idempotentHint,
    openWorld: tool.annotations?.openWorldHint
  }
})

const toResourceContents = (contents: Sdk.ReadResourceResult["contents"][number]): ResourceContents =>
  "text" in contents && typeof contents.text === "string"
    ? { uri: contents.uri, mimeType: contents.mimeType, text: contents.text }
    : { uri: contents.uri, mimeType: contents.mimeType, blob: String((contents as { blob?: unknown }).blob ?? "") }

const toContent = (block: Sdk.ContentBlock): Content => {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text }
    case "image":
      return { type: "image", data: block.data, mimeType: block.mimeType }
    case "audio":
      return { type: "audio", data: block.data, mimeType: block.mimeType }
    case "resource_link":
      return {
        type: "resource_link",
        uri: block.uri,
        name: block.name,
        title: block.title,
        description: block.description,
        mimeType: block.mimeType
      }
    case "resource":
      return { type: "resource", resource: toResourceContents(block.resource) }
  }
}

const maxPages = 1_000

/**
 * Connects every configured server concurrently, under the current scope.
 *
 * @example
 * import { Effect } from "effect"
 * import { McpClient, McpConfig } from "@chorus/mcp"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* McpConfig.decode({ mcpServers: { memory: { command: "mcp-server-memory" } } })
 *   const client = yield* McpClient.make(config)
 *   const tools = yield* client.tools
 *   return tools.map(({ tool }) => tool.name)
 * }).pipe(Effect.scoped)
 */
export const make = Effect.fn("McpClient.make")(function*(config: McpConfig.McpConfig, options?: Options) {
  const mainScope = yield* Effect.scope
  const connectTimeout = Duration.decode(options?.connectTimeout ?? "30 seconds")
  const reconnectSchedule: Schedule.Schedule<unknown, McpServerError> = options?.reconnect ??
    Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
  const clientName = options?.clientName ?? "chorus"
  const runFork = yield* FiberSet.makeRuntime<never>()
  // Connections live in this scope; the finalizer added below (after it, so it runs before it) marks every
  // server closed first, so that connections ending on close are not taken for crashes.
  const connectionsScope = yield* Scope.fork(mainScope, ExecutionStrategy.parallel)
  const events = yield* PubSub.unbounded<Event>()
  const generations = yield* Ref.make(0)

  const entries = new Map<string, Entry>()
  for (const server of config.servers) {
    entries.set(server.name, {
      config: server,
      state: yield* Ref.make<State>({
        _tag: "Disconnected",
        error: new McpServerError({ server: server.name, reason: "unavailable", detail: "not connected yet", code: null })
      }),
      tools: yield* Ref.make<ReadonlyArray<McpTool>>([]),
      lock: yield* Effect.makeSemaphore(1),
      stderr: yield* Ref.make("")
    })
  }
  const names = config.servers.map((server) => server.name)

  // Closing: every connection at once, and no reconnection afterwards.
  yield* Effect.addFinalizer(() =>
    Effect.forEach(
      [...entries.values()],
      (entry) =>
        Effect.gen(function*() {
          const state = yield* Ref.getAndSet(entry.state, { _tag: "Closed" })
          if (state._tag === "Connected") yield* Scope.close(state.connection.scope, Exit.void)
        }),
      { concurrency: "unbounded", discard: true }
    )
  )


  const lookup = (server: string): Effect.Effect<Entry, McpServerError> => {
    const entry = entries.get(server)
    return entry === undefined
      ? Effect.fail(
        new McpServerError({
          server,
          reason: "not_configured",
          detail: `Configured servers: ${names.join(", ") || "none"}.`,
          code: null
        })
      )
      : Effect.succeed(entry)
  }

  const stderrTail = (entry: Entry) =>
    Ref.get(entry.stderr).pipe(
      Effect.map((text) => {
        const tail = text.trim().split("\n").slice(-5).join("\n").trim()
        return tail === "" ? "" : ` Its last output on stderr: ${truncate(redactText(entry.config, tail), 1_000)}`
      })
    )

  // Translates whatever a request rejected with into a typed error.
  const classify = (entry: Entry, connection: Connection, method: string, error: unknown) =>
    Effect.gen(function*() {
      const server = entry.config.name
      const broken = yield* Ref.get(connection.broken)
      const make = (reason: ServerErrorReason, detail: string, code: number | null = null) =>
        new McpServerError({ server, reason, detail: redactText(entry.config, detail), code, cause: error })
      if (Option.isSome(broken)) {
        return make("malformed_response", `${broken.value} (while waiting for ${method}).`)
      }
      if (error instanceof McpError) {
        if (error.code === ErrorCode.ConnectionClosed) {
          const tail = yield* stderrTail(entry)
          return make("crashed", `the connection closed during ${method}.${tail}`, error.code)
        }
        if (error.code === ErrorCode.RequestTimeout) return make("timeout", `${method}: ${error.message}`, error.code)
        if (
          error.message.includes("Structured content does not match") ||
          error.message.includes("Failed to validate structured content") ||
          error.message.includes("did not return structured content")
        ) {
          return make("malformed_response", error.message)
        }
        return make("request_failed", error.message, error.code)
      }
      if (isMalformed(error)) return make("malformed_response", `the answer to ${method} is invalid: ${errorText(error)}`)
      if (error instanceof StreamableHTTPError) {
        return make("unavailable", `${method}: ${errorText(error)}`, error.code ?? null)
      }
      return make("unavailable", `${method}: ${errorText(error)}`)
    })

  const publish = (event: Event) => PubSub.publish(events, event)

  // Marks a connection lost (if it is still the current one) and releases it.
  const lose = (entry: Entry, connection: Connection, error: McpServerError) =>
    Effect.gen(function*() {
      const current = yield* Ref.get(entry.state)
      if (current._tag !== "Connected" || current.connection.generation !== connection.generation) return
      yield* Ref.set(entry.state, { _tag: "Disconnected", error })
      yield* Effect.logWarning(error.message).pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
      yield* publish(Event.Disconnected({ server: entry.config.name, error }))
      yield* Scope.close(connection.scope, Exit.void)
    })

  const listTools = (entry: Entry, connection: Connection) =>
    Effect.gen(function*() {
      const tools: Array<McpTool> = []
      let cursor: string | undefined = undefined
      for (let page = 0; page < maxPages; page++) {
        const params: Sdk.ListToolsRequest["params"] = cursor === undefined ? {} : { cursor }
        const result: Sdk.ListToolsResult = yield* Effect.tryPromise({
          try: (signal) => connection.client.listTools(params, { signal, timeout: noSdkTimeout }),
          catch: (error) => error
        }).pipe(Effect.catchAll((error) => Effect.flatMap(classify(entry, connection, "tools/list", error), Effect.fail)))
        tools.push(...result.tools.map(toTool))
        if (result.nextCursor === undefined || result.nextCursor === cursor) return tools
        cursor = result.nextCursor
      }
      return yield* new McpServerError({
        server: entry.config.name,
        reason: "malformed_response",
        detail: `tools/list returned more than ${maxPages} pages.`,
        code: null
      })
    })

  const refreshWith = (entry: Entry, connection: Connection) =>
    Effect.gen(function*() {
      const tools = yield* listTools(entry, connection)
      yield* Ref.set(entry.tools, tools)
      yield* publish(Event.ToolsChanged({ server: entry.config.name, tools: tools.map((tool) => tool.name) }))
      return tools
    })

  // Opens one connection: start, initialize, list tools. The connection's resources live in their own scope.
  const open = (entry: Entry): Effect.Effect<{ connection: Connection; tools: ReadonlyArray<McpTool> }, McpServerError> =>
    Effect.gen(function*() {
      const server = entry.config
      const scope = yield* Scope.fork(connectionsScope, ExecutionStrategy.sequential)
      const generation = yield* Ref.updateAndGet(generations, (n) => n + 1)
      const broken = yield* Ref.make(Option.none<string>())
      yield* Ref.set(entry.stderr, "")
      const transport: Transport = server._tag === "StdioServer"
        ? new StdioClientTransport({
          command: server.command,
          args: [...server.args],
          env: Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, Redacted.value(value)])),
          ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
          stderr: "pipe"
        })
        : new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: {
            headers: Object.fromEntries(
              Object.entries(server.headers).map(([key, value]) => [key, Redacted.value(value)])
            )
          }
        })
      if (transport instanceof StdioClientTransport) {
        transport.stderr?.on("data", (chunk: Buffer | string) => {
          const text = chunk.toString()
          runFork(
            Ref.update(entry.stderr, (previous) => (previous + text).slice(-stderrKeep)).pipe(
              Effect.zipRight(
                Effect.logDebug(redactText(server, text.trimEnd())).pipe(
                  Effect.annotateLogs({ mcpServer: server.name, stream: "stderr" })
                )
              )
            )
          )
        })
      }
      const client = new Client({ name: clientName, version }, { capabilities: {} })
      let connection: Connection | undefined
      // Transport-level errors: a message that is not JSON-RPC breaks the protocol.
      transport.onerror = (error) => {
        if (!isMalformed(error)) return
        const detail = `it sent something that is not a JSON-RPC message: ${truncate(errorText(error), 200)}`
        runFork(
          Effect.gen(function*() {
            yield* Ref.set(broken, Option.some(detail))
            if (connection !== undefined) {
              yield* lose(
                entry,
                connection,
                new McpServerError({ server: server.name, reason: "malformed_response", detail, code: null })
              )
            }
            // Closing the client fails the requests in flight (initialize too, while connecting).
            yield* Effect.promise(() => client.close().catch(() => undefined))
          })
        )
      }
      client.onerror = (error) => {
        if (isMalformed(error)) return
        runFork(
          Effect.logDebug(`MCP protocol notice: ${redactText(server, errorText(error))}`).pipe(
            Effect.annotateLogs({ mcpServer: server.name })
          )
        )
      }
      client.onclose = () => {
        if (connection === undefined) return
        const lost = connection
        runFork(
          Effect.gen(function*() {
            const tail = yield* stderrTail(entry)
            const problem = yield* Ref.get(lost.broken)
            yield* lose(
              entry,
              lost,
              Option.isSome(problem)
                ? new McpServerError({ server: server.name, reason: "malformed_response", detail: problem.value, code: null })
                : new McpServerError({
                  server: server.name,
                  reason: "crashed",
                  detail: `the connection closed (the server exited).${tail}`,
                  code: null
                })
            )
          })
        )
      }
      // Servers' own log messages go to the Effect logger.
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        const { level, logger, data } = notification.params
        const text = typeof data === "string" ? data : JSON.stringify(data)
        runFork(
          Effect.logWithLevel(logLevels[level] ?? LogLevel.Info, redactText(server, text ?? "")).pipe(
            Effect.annotateLogs({ mcpServer: server.name, ...(logger === undefined ? {} : { mcpLogger: logger }) })
          )
        )
      })
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        if (connection === undefined) return
        const current = connection
        runFork(
          refreshWith(entry, current).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning(`Could not list the tools again: ${error.message}`).pipe(
                Effect.annotateLogs({ mcpServer: server.name })
              )
            )
          )
        )
      })
      // The server process, known as soon as it is spawned (the SDK forgets it when it starts closing).
      let processId: number | null = null
      yield* Scope.addFinalizer(
        scope,
        Effect.gen(function*() {
          if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
            yield* Effect.tryPromise(() => transport.terminateSession()).pipe(
              Effect.timeout("1 second"),
              Effect.ignore
            )
          }
          // The SDK ends stdin, waits, then sends SIGTERM and finally SIGKILL without waiting for the end.
          yield* Effect.promise(() => client.close().catch(() => undefined))
          if (processId !== null) yield* awaitExit(processId)
        })
      )
      const started = yield* Effect.tryPromise({
        try: (signal) => {
          const connecting = client.connect(transport, { signal, timeout: noSdkTimeout })
          // `connect` spawns the process synchronously, before its first await.
          if (transport instanceof StdioClientTransport) processId = transport.pid
          return connecting
        },
        catch: (error) => error
      }).pipe(
        Effect.timeoutFail({
          duration: connectTimeout,
          onTimeout: () => new Error(`no answer to initialize within ${Duration.format(connectTimeout)}`)
        }),
        Effect.either
      )
      const pid = transport instanceof StdioClientTransport ? transport.pid : null
      connection = { generation, client, pid, scope, broken }
      if (started._tag === "Left") {
        const problem = yield* Ref.get(broken)
        const tail = yield* stderrTail(entry)
        const where = server._tag === "StdioServer" ? `"${server.command}"` : new URL(server.url).origin
        const reason = started.left instanceof McpError && started.left.code === ErrorCode.ConnectionClosed
          ? "it exited before completing initialization"
          : redactText(server, errorText(started.left))
        const detail = Option.isSome(problem) ? problem.value : `${where}: ${reason}.${tail}`
        yield* Scope.close(scope, Exit.void)
        return yield* new McpServerError({
          server: server.name,
          reason: Option.isSome(problem) ? "malformed_response" : "start_failed",
          detail,
          code: null,
          cause: started.left
        })
      }
      const tools = yield* listTools(entry, connection).pipe(
        Effect.timeoutFail({
          duration: connectTimeout,
          onTimeout: () =>
            new McpServerError({
              server: server.name,
              reason: "timeout",
              detail: `no answer to tools/list within ${Duration.format(connectTimeout)}`,
              code: null
            })
        }),
        Effect.tapError(() => Scope.close(scope, Exit.void))
      )
      return { connection, tools }
    }).pipe(Effect.withSpan("McpClient.connect", { attributes: { "mcp.server": entry.config.name } }))

  // Makes the connection current (the server's lock is held by the caller).
  const install = (entry: Entry, opened: { connection: Connection; tools: ReadonlyArray<McpTool> }, reconnected: boolean) =>
    Effect.gen(function*() {
      const state = yield* Ref.get(entry.state)
      if (state._tag === "Closed") {
        yield* Scope.close(opened.connection.scope, Exit.void)
        return yield* new McpServerError({
          server: entry.config.name,
          reason: "unavailable",
          detail: "the client is closed.",
          code: null
        })
      }
      yield* Ref.set(entry.state, { _tag: "Connected", connection: opened.connection })
      yield* Ref.set(entry.tools, opened.tools)
      yield* publish(Event.Connected({ server: entry.config.name, pid: opened.connection.pid, reconnected }))
      yield* publish(Event.ToolsChanged({ server: entry.config.name, tools: opened.tools.map((tool) => tool.name) }))
      if (reconnected) {
        yield* Effect.logInfo("Reconnected").pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
      }
      return opened.connection
    })

  const reconnectNow = (entry: Entry) =>
    Effect.gen(function*() {
      const opened = yield* open(entry).pipe(
        Effect.tapError((error) =>
          Effect.logWarning(`Reconnection attempt failed: ${error.message}`).pipe(
            Effect.annotateLogs({ mcpServer: entry.config.name })
          )
        ),
        Effect.retry(reconnectSchedule),
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            const state = yield* Ref.get(entry.state)
            if (state._tag !== "Closed") {
              yield* Ref.set(entry.state, { _tag: "Disconnected", error })
              yield* publish(Event.Disconnected({ server: entry.config.name, error }))
            }
            return yield* new McpServerError({
              server: entry.config.name,
              reason: "unavailable",
              detail: `could not reconnect: ${error.message}`,
              code: null,
              cause: error
            })
          })
        )
      )
      return yield* install(entry, opened, true)
    })

  const connected = (entry: Entry): Effect.Effect<Connection, McpServerError> =>
    entry.lock.withPermits(1)(
      Effect.gen(function*() {
        const state = yield* Ref.get(entry.state)
        switch (state._tag) {
          case "Connected":
            return state.connection
          case "Closed":
            return yield* new McpServerError({
              server: entry.config.name,
              reason: "unavailable",
              detail: "the client is closed.",
              code: null
            })
          case "Disconnected":
            return yield* reconnectNow(entry)
        }
      })
    )

  // A request failed: when the connection is gone for good (HTTP errors, protocol breaks), drop it.
  const failed = (entry: Entry, connection: Connection, method: string, error: unknown) =>
    Effect.gen(function*() {
      const typed = yield* classify(entry, connection, method, error)
      if (
        typed.reason === "unavailable" ||
        typed.reason === "crashed" ||
        (typed.reason === "malformed_response" && Option.isSome(yield* Ref.get(connection.broken)))
      ) {
        yield* lose(entry, connection, typed)
      }
      return yield* typed
    })

  const request = <A>(
    server: string,
    method: string,
    send: (client: Client, signal: AbortSignal) => Promise<A>,
    capability?: "resources" | "prompts"
  ): Effect.Effect<A, McpServerError> =>
    Effect.gen(function*() {
      const entry = yield* lookup(server)
      const connection = yield* connected(entry)
      if (capability !== undefined && connection.client.getServerCapabilities()?.[capability] === undefined) {
        return yield* new McpServerError({
          server,
          reason: "unsupported",
          detail: `it does not offer ${capability}.`,
          code: null
        })
      }
      return yield* Effect.tryPromise({
        try: (signal) => send(connection.client, signal),
        catch: (error) => error
      }).pipe(Effect.catchAll((error) => failed(entry, connection, method, error)))
    })

  const paginate = <Page, Item>(
    server: string,
    method: string,
    capability: "resources" | "prompts",
    send: (client: Client, cursor: string | undefined, signal: AbortSignal) => Promise<Page>,
    items: (page: Page) => ReadonlyArray<Item>,
    next: (page: Page) => string | undefined
  ): Effect.Effect<ReadonlyArray<Item>, McpServerError> =>
    Effect.gen(function*() {
      const all: Array<Item> = []
      let cursor: string | undefined = undefined
      for (let page = 0; page < maxPages; page++) {
        const current: string | undefined = cursor
        const result: Page = yield* request(server, method, (client, signal) => send(client, current, signal), capability)
        all.push(...items(result))
        const following = next(result)
        if (following === undefined || following === cursor) return all
        cursor = following
      }
      return yield* new McpServerError({
        server,
        reason: "malformed_response",
        detail: `${method} returned more than ${maxPages} pages.`,
        code: null
      })
    })

  const callTool: Service["callTool"] = (server, name, args, callOptions) =>
    Effect.gen(function*() {
      const entry = yield* lookup(server)
      const connection = yield* connected(entry)
      const onProgress = callOptions?.onProgress
      const progress = yield* Queue.unbounded<Tool.Progress | null>()
      const relay = yield* Effect.forkScoped(
        onProgress === undefined ? Effect.void : Effect.gen(function*() {
          while (true) {
            const next = yield* Queue.take(progress)
            if (next === null) return
            yield* onProgress(next)
          }
        })
      )
      const result = yield* Effect.tryPromise({
        try: (signal) =>
          connection.client.callTool({ name, arguments: { ...args } }, undefined, {
            signal,
            timeout: noSdkTimeout,
            onprogress: (update) => {
              Queue.unsafeOffer(progress, {
                progress: update.progress,
                total: update.total,
                message: update.message
              })
            }
          }),
        catch: (error) => error
      }).pipe(
        Effect.catchAll((error) => failed(entry, connection, `tools/call "${name}"`, error)),
        Effect.ensuring(Queue.offer(progress, null).pipe(Effect.zipRight(Fiber.join(relay)), Effect.ignore))
      )
      if ("toolResult" in result && !("content" in result)) {
        // The pre-2024-11-05 result shape.
        return { content: [{ type: "text" as const, text: JSON.stringify(result.toolResult) }], structuredContent: undefined, isError: false }
      }
      const content = Array.isArray(result.content) ? (result.content as ReadonlyArray<Sdk.ContentBlock>) : []
      return {
        content: content.map(toContent),
        structuredContent: result.structuredContent,
        isError: result.isError === true
      } satisfies CallToolResult
    }).pipe(
      Effect.scoped,
      Effect.withSpan("McpClient.callTool", { attributes: { "mcp.server": server, "gen_ai.tool.name": name } })
    )

  const service: Omit<Service, "startupFailures"> = {
    servers: names,
    status: Effect.forEach(config.servers, (server) =>
      Effect.gen(function*() {
        const entry = entries.get(server.name)!
        const state = yield* Ref.get(entry.state)
        const tools = yield* Ref.get(entry.tools)
        return {
          name: server.name,
          transport: server._tag === "StdioServer" ? "stdio" as const : "http" as const,
          connected: state._tag === "Connected",
          pid: state._tag === "Connected" ? state.connection.pid : null,
          error: state._tag === "Disconnected" ? state.error : null,
          tools: tools.map((tool) => tool.name)
        }
      })),
    tools: Effect.map(
      Effect.forEach(config.servers, (server) =>
        Ref.get(entries.get(server.name)!.tools).pipe(
          Effect.map((tools) => tools.map((tool): ServerTool => ({ server: server.name, tool })))
        )),
      (lists) => lists.flat()
    ),
    callTool,
    refreshTools: (server) =>
      Effect.gen(function*() {
        const entry = yield* lookup(server)
        const connection = yield* connected(entry)
        return yield* refreshWith(entry, connection)
      }),
    listResources: (server) =>
      paginate(
        server,
        "resources/list",
        "resources",
        (client, cursor, signal) =>
          client.listResources(cursor === undefined ? {} : { cursor }, { signal, timeout: noSdkTimeout }),
        (page) =>
          page.resources.map((resource): Resource => ({
            uri: resource.uri,
            name: resource.name,
            title: resource.title,
            description: resource.description,
            mimeType: resource.mimeType
          })),
        (page) => page.nextCursor
      ),
    listResourceTemplates: (server) =>
      paginate(
        server,
        "resources/templates/list",
        "resources",
        (client, cursor, signal) =>
          client.listResourceTemplates(cursor === undefined ? {} : { cursor }, { signal, timeout: noSdkTimeout }),
        (page) =>
          page.resourceTemplates.map((template): ResourceTemplate => ({
            uriTemplate: template.uriTemplate,
            name: template.name,
            title: template.title,
            description: template.description,
            mimeType: template.mimeType
          })),
        (page) => page.nextCursor
      ),
    readResource: (server, uri) =>
      request(
        server,
        `resources/read "${uri}"`,
        (client, signal) => client.readResource({ uri }, { signal, timeout: noSdkTimeout }),
        "resources"
      ).pipe(Effect.map((result) => result.contents.map(toResourceContents))),
    listPrompts: (server) =>
      paginate(
        server,
        "prompts/list",
        "prompts",
        (client, cursor, signal) =>
          client.listPrompts(cursor === undefined ? {} : { cursor }, { signal, timeout: noSdkTimeout }),
        (page) =>
          page.prompts.map((prompt): Prompt => ({
            name: prompt.name,
            title: prompt.title,
            description: prompt.description,
            arguments: (prompt.arguments ?? []).map((argument) => ({
              name: argument.name,
              description: argument.description,
              required: argument.required === true
            }))
          })),
        (page) => page.nextCursor
      ),
    getPrompt: (server, name, args) =>
      request(
        server,
        `prompts/get "${name}"`,
        (client, signal) =>
          client.getPrompt({ name, ...(args === undefined ? {} : { arguments: { ...args } }) }, {
            signal,
            timeout: noSdkTimeout
          }),
        "prompts"
      ).pipe(
        Effect.map((result): PromptResult => ({
          description: result.description,
          messages: result.messages.map((message) => ({ role: message.role, content: toContent(message.content) }))
        }))
      ),
    reconnect: (server) =>
      Effect.gen(function*() {
        const entry = yield* lookup(server)
        yield* entry.lock.withPermits(1)(
          Effect.gen(function*() {
            const state = yield* Ref.get(entry.state)
            if (state._tag === "Connected") {
              yield* Ref.set(entry.state, {
                _tag: "Disconnected",
                error: new McpServerError({ server, reason: "unavailable", detail: "reconnecting", code: null })
              })
              yield* Scope.close(state.connection.scope, Exit.void)
            }
            yield* reconnectNow(entry)
          })
        )
      }),
    events: PubSub.subscribe(events)
  }

  const startupFailures = yield* Effect.forEach(
    [...entries.values()],
    (entry) =>
      entry.lock.withPermits(1)(
        open(entry).pipe(
          Effect.flatMap((opened) => install(entry, opened, false)),
          Effect.as(Option.none<McpServerError>()),
          Effect.catchAll((error) =>
            Effect.gen(function*() {
              yield* Ref.set(entry.state, { _tag: "Disconnected", error })
              yield* Effect.logError(error.message).pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
              yield* publish(Event.Disconnected({ server: entry.config.name, error }))
              return Option.some(error)
            })
          )
        )
      ),
    { concurrency: "unbounded" }
  )
  const client: Service = { ...service, startupFailures: startupFailures.flatMap(Option.toArray) }
  return client
})

/** The client as a layer; its connections close with the layer. */
export const layer = (config: McpConfig.McpConfig, options?: Options): Layer.Layer<McpClient> =>
  Layer.scoped(McpClient, make(config, options))
