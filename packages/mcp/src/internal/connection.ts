// Opening one connection to a server: the transport (stdio process, or Streamable HTTP with OAuth), the SDK client
// with its callbacks turned into fibers, initialize, and the first tools/list. Everything it opens lives in the
// connection's own scope.
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import type * as Sdk from "@modelcontextprotocol/sdk/types.js"
import { Duration, Effect, ExecutionStrategy, Exit, LogLevel, Option, Redacted, Ref, Scope } from "effect"
import type * as McpClient from "../McpClient.js"
import type * as McpConfig from "../McpConfig.js"
import type * as TokenStore from "../TokenStore.js"
import { classify, errorText, isMalformed, truncate } from "./classify.js"
import * as elicitation from "./elicitation.js"
import { McpServerError } from "./error.js"
import * as oauth from "./oauth.js"
import { type RunFork, toPromise } from "./sdkRuntime.js"
import type { Connection, Entry } from "./server.js"

const version = "0.1.0"
// The SDK's own per-request timer (setTimeout) is disabled in effect; timeouts go through Clock.
export const noSdkTimeout = 2_147_483_647
const stderrKeep = 4_096

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

export interface Context {
  readonly clientName: string
  readonly connectTimeout: Duration.Duration
  readonly authorizationTimeout: Duration.Duration
  readonly runFork: RunFork
  readonly connectionsScope: Scope.Scope
  readonly tokenStore: Effect.Effect<TokenStore.Service>
  readonly authorize: (request: McpClient.AuthorizationRequest) => Effect.Effect<void>
  readonly elicitation: McpClient.ElicitationHandler | undefined
  /** The connection is lost (it is still current only if nothing replaced it). */
  readonly lose: (entry: Entry, connection: Connection, error: McpServerError) => Effect.Effect<void>
  /** The server said its tools changed. */
  readonly toolsChanged: (entry: Entry, connection: Connection) => Effect.Effect<void>
}

export const stderrTail = (entry: Entry) =>
  Ref.get(entry.stderr).pipe(
    Effect.map((text) => {
      const tail = text.trim().split("\n").slice(-5).join("\n").trim()
      return tail === "" ? "" : ` Its last output on stderr: ${truncate(entry.secrets.scrub(tail), 1_000)}`
    })
  )

/** The typed error of a failed request on a connection. */
export const classifyOn = (entry: Entry, connection: Connection, method: string, error: unknown) =>
  Effect.gen(function*() {
    return classify({
      server: entry.config.name,
      scrub: entry.secrets.scrub,
      broken: yield* Ref.get(connection.broken),
      stderrTail: yield* stderrTail(entry)
    }, method, error)
  })

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

const httpTransport = (context: Context, entry: Entry, server: McpConfig.HttpServer, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const headers = Object.fromEntries(Object.entries(server.headers).map(([key, value]) => [key, Redacted.value(value)]))
    if (server.oauth === undefined) return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers } })
    const authorizedFetch = yield* oauth.make({
      server,
      oauth: server.oauth,
      store: yield* context.tokenStore,
      secrets: entry.secrets,
      authorize: context.authorize,
      authorizationTimeout: context.authorizationTimeout
    }).pipe(Scope.extend(scope))
    return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers }, fetch: authorizedFetch })
  })

const makeTransport = (context: Context, entry: Entry, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const server = entry.config
    if (server._tag === "HttpServer") return yield* httpTransport(context, entry, server, scope)
    const transport = new StdioClientTransport({
      command: server.command,
      args: [...server.args],
      env: Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, Redacted.value(value)])),
      ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
      stderr: "pipe"
    })
    transport.stderr?.on("data", (chunk: Buffer | string) => {
      const text = chunk.toString()
      context.runFork(
        Ref.update(entry.stderr, (previous) => (previous + text).slice(-stderrKeep)).pipe(
          Effect.zipRight(
            Effect.logDebug(entry.secrets.scrub(text.trimEnd())).pipe(
              Effect.annotateLogs({ mcpServer: server.name, stream: "stderr" })
            )
          )
        )
      )
    })
    return transport
  })

// The SDK's callbacks, each turned into a fiber of the client's FiberSet.
const installCallbacks = (
  context: Context,
  entry: Entry,
  client: Client,
  transport: Transport,
  broken: Ref.Ref<Option.Option<string>>,
  current: () => Connection | undefined
) => {
  const server = entry.config
  const log = (effect: Effect.Effect<void>) => context.runFork(effect.pipe(Effect.annotateLogs({ mcpServer: server.name })))
  // Transport-level errors: a message that is not JSON-RPC breaks the protocol.
  transport.onerror = (error) => {
    if (!isMalformed(error)) return
    const detail = `it sent something that is not a JSON-RPC message: ${truncate(errorText(error), 200)}`
    context.runFork(Effect.gen(function*() {
      yield* Ref.set(broken, Option.some(detail))
      const connection = current()
      if (connection !== undefined) {
        yield* context.lose(entry, connection, McpServerError.of(server.name, "malformed_response", detail))
      }
      // Closing the client fails the requests in flight (initialize too, while connecting).
      yield* Effect.promise(() => client.close().catch(() => undefined))
    }))
  }
  client.onerror = (error) => {
    if (isMalformed(error)) return
    log(Effect.logDebug(`MCP protocol notice: ${entry.secrets.scrub(errorText(error))}`))
  }
  client.onclose = () => {
    const lost = current()
    if (lost === undefined) return
    context.runFork(Effect.gen(function*() {
      const tail = yield* stderrTail(entry)
      const problem = yield* Ref.get(lost.broken)
      yield* context.lose(
        entry,
        lost,
        Option.isSome(problem)
          ? McpServerError.of(server.name, "malformed_response", problem.value)
          : McpServerError.of(server.name, "crashed", `the connection closed (the server exited).${tail}`)
      )
    }))
  }
  // Servers' own log messages go to the Effect logger.
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    const { data, level, logger } = notification.params
    const text = typeof data === "string" ? data : JSON.stringify(data)
    log(
      Effect.logWithLevel(logLevels[level] ?? LogLevel.Info, entry.secrets.scrub(text ?? "")).pipe(
        Effect.annotateLogs(logger === undefined ? {} : { mcpLogger: logger })
      )
    )
  })
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    const connection = current()
    if (connection !== undefined) context.runFork(context.toolsChanged(entry, connection))
  })
  const handler = context.elicitation
  if (handler !== undefined) {
    const run = toPromise(context.runFork)
    client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
      run(
        elicitation.handle({ server: server.name, calls: entry.calls, handler }, request.params).pipe(
          Effect.annotateLogs({ mcpServer: server.name })
        ),
        extra.signal
      ))
  }
}

/** Opens one connection: start, initialize. The caller lists the tools. */
export const open = (context: Context, entry: Entry): Effect.Effect<Connection, McpServerError> =>
  Effect.gen(function*() {
    const server = entry.config
    const scope = yield* Scope.fork(context.connectionsScope, ExecutionStrategy.sequential)
    const broken = yield* Ref.make(Option.none<string>())
    yield* Ref.set(entry.stderr, "")
    const transport = yield* makeTransport(context, entry, scope).pipe(
      Effect.mapError((error) => McpServerError.of(server.name, "start_failed", entry.secrets.scrub(error.message))),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    const client = new Client({ name: context.clientName, version }, {
      // Defaults are applied here before an answer goes back (SEP-1034); the SDK would apply the same.
      capabilities: context.elicitation === undefined ? {} : { elicitation: { form: { applyDefaults: true } } }
    })
    let connection: Connection | undefined
    installCallbacks(context, entry, client, transport, broken, () => connection)
    // The server process, known as soon as it is spawned (the SDK forgets it when it starts closing).
    let processId: number | null = null
    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
          yield* Effect.tryPromise(() => transport.terminateSession()).pipe(Effect.timeout("1 second"), Effect.ignore)
        }
        // The SDK ends stdin, waits, then sends SIGTERM and finally SIGKILL without waiting for the end.
        yield* Effect.promise(() => client.close().catch(() => undefined))
        if (processId !== null) yield* awaitExit(processId)
      })
    )
    // A person may have to authorize first: that wait has its own limit.
    const limit = server._tag === "HttpServer" && server.oauth?.grant === "authorization_code"
      ? Duration.sum(context.connectTimeout, context.authorizationTimeout)
      : context.connectTimeout
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
        duration: limit,
        onTimeout: () => new Error(`no answer to initialize within ${Duration.format(limit)}`)
      }),
      Effect.either
    )
    const pid = transport instanceof StdioClientTransport ? transport.pid : null
    connection = { client, pid, scope, broken }
    if (started._tag === "Right") return connection
    yield* Scope.close(scope, Exit.void)
    const typed = yield* classifyOn(entry, connection, "initialize", started.left)
    const problem = yield* Ref.get(broken)
    if (Option.isSome(problem)) {
      return yield* McpServerError.of(server.name, "malformed_response", problem.value, { cause: typed.cause })
    }
    if (typed.reason === "unauthorized") return yield* typed
    const tail = yield* stderrTail(entry)
    const where = server._tag === "StdioServer" ? `"${server.command}"` : new URL(server.url).origin
    const reason = started.left instanceof McpError && started.left.code === ErrorCode.ConnectionClosed
      ? "it exited before completing initialization"
      : entry.secrets.scrub(errorText(started.left))
    return yield* McpServerError.of(server.name, "start_failed", `${where}: ${reason}.${tail}`, { cause: typed.cause })
  }).pipe(Effect.withSpan("McpClient.connect", { attributes: { "mcp.server": entry.config.name } }))
