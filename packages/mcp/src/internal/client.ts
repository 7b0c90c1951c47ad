// McpClient.make: the servers' entries, their lifecycle, and the service's requests on top.
import type { Tool } from "@chorus/core"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import {
  Deferred,
  Duration,
  Effect,
  Exit,
  ExecutionStrategy,
  Fiber,
  FiberSet,
  Option,
  PubSub,
  Queue,
  Ref,
  Schedule,
  Scope,
  SynchronizedRef
} from "effect"
import * as McpClient from "../McpClient.js"
import type * as McpConfig from "../McpConfig.js"
import * as TokenStore from "../TokenStore.js"
import * as content from "./content.js"
import { noSdkTimeout } from "./connection.js"
import type { InFlight } from "./elicitation.js"
import { McpServerError } from "./error.js"
import * as lifecycle from "./lifecycle.js"
import { paginate } from "./paginate.js"
import * as redact from "./redact.js"
import type { Entry, State } from "./server.js"

const makeEntry = (server: McpConfig.Server) =>
  Effect.gen(function*() {
    const entry: Entry = {
      config: server,
      state: yield* SynchronizedRef.make<State>({
        _tag: "Disconnected",
        error: McpServerError.of(server.name, "unavailable", "not connected yet")
      }),
      tools: yield* Ref.make<ReadonlyArray<McpClient.McpTool>>([]),
      stderr: yield* Ref.make(""),
      secrets: redact.ofServer(server),
      calls: yield* Ref.make<ReadonlyArray<InFlight>>([])
    }
    return entry
  })

// The token store: given, in context, or the embedded default file (opened once, only if a server needs it).
const tokenStoreOf = (options: McpClient.Options | undefined) =>
  Effect.gen(function*() {
    if (options?.tokenStore !== undefined) return Effect.succeed(options.tokenStore)
    const given = yield* Effect.serviceOption(TokenStore.TokenStore)
    if (Option.isSome(given)) return Effect.succeed(given.value)
    return yield* Effect.cached(TokenStore.makeFile(TokenStore.defaultPath()))
  })

const logAuthorization = (request: McpClient.AuthorizationRequest) =>
  Effect.logInfo(`Open this URL to authorize the MCP server "${request.server}": ${request.url}`).pipe(
    Effect.annotateLogs({ mcpServer: request.server })
  )

export const make = Effect.fn("McpClient.make")(function*(config: McpConfig.McpConfig, options?: McpClient.Options) {
  const mainScope = yield* Effect.scope
  const runFork = yield* FiberSet.makeRuntime<never>()
  // Connections live in this scope; the finalizer added below (after it, so it runs before it) marks every
  // server closed first, so that connections ending on close are not taken for crashes.
  const connectionsScope = yield* Scope.fork(mainScope, ExecutionStrategy.parallel)
  const events = yield* PubSub.unbounded<McpClient.Event>()
  const entries = new Map<string, Entry>()
  for (const server of config.servers) entries.set(server.name, yield* makeEntry(server))
  const names = config.servers.map((server) => server.name)
  const servers = lifecycle.make({
    clientName: options?.clientName ?? "chorus",
    connectTimeout: Duration.decode(options?.connectTimeout ?? "30 seconds"),
    authorizationTimeout: Duration.decode(options?.authorizationTimeout ?? "5 minutes"),
    runFork,
    connectionsScope,
    tokenStore: yield* tokenStoreOf(options),
    authorize: options?.authorize ?? logAuthorization,
    elicitation: options?.elicitation,
    events,
    reconnect: options?.reconnect ?? Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
    Event: McpClient.Event
  })

  // Closing: every connection at once, and no reconnection afterwards.
  yield* Effect.addFinalizer(() =>
    Effect.forEach([...entries.values()], servers.close, { concurrency: "unbounded", discard: true })
  )

  const lookup = (server: string): Effect.Effect<Entry, McpServerError> => {
    const entry = entries.get(server)
    return entry === undefined ? Effect.fail(McpServerError.notConfigured(server, names)) : Effect.succeed(entry)
  }

  const request = <A>(
    server: string,
    method: string,
    send: (client: Client, signal: AbortSignal) => Promise<A>,
    capability?: "resources" | "prompts"
  ): Effect.Effect<A, McpServerError> =>
    Effect.gen(function*() {
      const entry = yield* lookup(server)
      const connection = yield* servers.connected(entry)
      if (capability !== undefined && connection.client.getServerCapabilities()?.[capability] === undefined) {
        return yield* McpServerError.of(server, "unsupported", `it does not offer ${capability}.`)
      }
      return yield* Effect.tryPromise({ try: (signal) => send(connection.client, signal), catch: (error) => error }).pipe(
        Effect.catchAll((error) => servers.failed(entry, connection, method, error))
      )
    })

  const list = <Page, Item>(
    server: string,
    method: string,
    capability: "resources" | "prompts",
    send: (client: Client, params: { cursor?: string }, signal: AbortSignal) => Promise<Page>,
    items: (page: Page) => ReadonlyArray<Item>,
    next: (page: Page) => string | undefined
  ) =>
    paginate(
      server,
      method,
      (cursor) => request(server, method, (client, signal) => send(client, cursor === undefined ? {} : { cursor }, signal), capability),
      items,
      next
    )

  // A call in flight is registered so that elicitations during it are keyed by it and end with it.
  const inFlight = (entry: Entry, callId: string | null) =>
    Effect.acquireRelease(
      Effect.gen(function*() {
        const call: InFlight = { callId, ended: yield* Deferred.make<string>() }
        yield* Ref.update(entry.calls, (calls) => [...calls, call])
        return call
      }),
      (call, exit) =>
        Ref.update(entry.calls, (calls) => calls.filter((other) => other !== call)).pipe(
          Effect.zipRight(Deferred.succeed(call.ended, endReason(exit)))
        )
    )

  const callTool: McpClient.Service["callTool"] = (server, name, args, callOptions) =>
    Effect.gen(function*() {
      const entry = yield* lookup(server)
      const connection = yield* servers.connected(entry)
      yield* inFlight(entry, callOptions?.callId ?? null)
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
              Queue.unsafeOffer(progress, { progress: update.progress, total: update.total, message: update.message })
            }
          }),
        catch: (error) => error
      }).pipe(
        Effect.catchAll((error) => servers.failed(entry, connection, `tools/call "${name}"`, error)),
        Effect.ensuring(Queue.offer(progress, null).pipe(Effect.zipRight(Fiber.join(relay)), Effect.ignore))
      )
      return content.toCallToolResult(result)
    }).pipe(
      Effect.scoped,
      Effect.withSpan("McpClient.callTool", { attributes: { "mcp.server": server, "gen_ai.tool.name": name } })
    )

  const status = Effect.forEach(config.servers, (server) =>
    Effect.gen(function*() {
      const entry = entries.get(server.name)!
      const state = yield* SynchronizedRef.get(entry.state)
      const tools = yield* Ref.get(entry.tools)
      return {
        name: server.name,
        transport: server._tag === "StdioServer" ? "stdio" as const : "http" as const,
        connected: state._tag === "Connected",
        pid: state._tag === "Connected" ? state.connection.pid : null,
        error: state._tag === "Disconnected" ? state.error : null,
        tools: tools.map((tool) => tool.name)
      }
    }))

  const startupFailures = yield* Effect.forEach([...entries.values()], servers.start, { concurrency: "unbounded" })

  const service: McpClient.Service = {
    servers: names,
    startupFailures: startupFailures.filter((failure): failure is McpServerError => failure !== null),
    status,
    tools: Effect.map(
      Effect.forEach(config.servers, (server) =>
        Ref.get(entries.get(server.name)!.tools).pipe(
          Effect.map((tools) => tools.map((tool): McpClient.ServerTool => ({ server: server.name, tool })))
        )),
      (lists) => lists.flat()
    ),
    callTool,
    refreshTools: (server) =>
      Effect.gen(function*() {
        const entry = yield* lookup(server)
        return yield* servers.refreshWith(entry, yield* servers.connected(entry))
      }),
    listResources: (server) =>
      list(
        server,
        "resources/list",
        "resources",
        (client, params, signal) => client.listResources(params, { signal, timeout: noSdkTimeout }),
        (page) => page.resources.map(content.toResource),
        (page) => page.nextCursor
      ),
    listResourceTemplates: (server) =>
      list(
        server,
        "resources/templates/list",
        "resources",
        (client, params, signal) => client.listResourceTemplates(params, { signal, timeout: noSdkTimeout }),
        (page) => page.resourceTemplates.map(content.toResourceTemplate),
        (page) => page.nextCursor
      ),
    readResource: (server, uri) =>
      request(
        server,
        `resources/read "${uri}"`,
        (client, signal) => client.readResource({ uri }, { signal, timeout: noSdkTimeout }),
        "resources"
      ).pipe(Effect.map((result) => result.contents.map(content.toResourceContents))),
    listPrompts: (server) =>
      list(
        server,
        "prompts/list",
        "prompts",
        (client, params, signal) => client.listPrompts(params, { signal, timeout: noSdkTimeout }),
        (page) => page.prompts.map(content.toPrompt),
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
      ).pipe(Effect.map(content.toPromptResult)),
    reconnect: (server) => Effect.flatMap(lookup(server), servers.restart),
    events: PubSub.subscribe(events)
  }
  return service
})

const endReason = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isInterrupted(exit) ? "the call was interrupted" : Exit.isFailure(exit) ? "the call failed" : "the call ended"
