// A server's connection lifecycle: Connected → (lost) → Disconnected → (next request) → reconnect → Connected, and
// Closed for good when the client's scope closes. The state is a SynchronizedRef: (re)connection happens inside
// its update, so concurrent requests wait for one reconnection instead of starting several.
import { Duration, Effect, Exit, PubSub, Ref, Schedule, Scope, SynchronizedRef } from "effect"
import type * as McpClient from "../McpClient.js"
import { toTool } from "./content.js"
import { classifyOn, noSdkTimeout, open, type Context as ConnectionContext } from "./connection.js"
import { McpServerError } from "./error.js"
import { paginate } from "./paginate.js"
import type { Connection, Entry, State } from "./server.js"

export interface Context extends Omit<ConnectionContext, "lose" | "toolsChanged"> {
  readonly events: PubSub.PubSub<McpClient.Event>
  readonly reconnect: Schedule.Schedule<unknown, McpServerError>
  readonly Event: typeof McpClient.Event
}

export const make = (context: Context) => {
  const publish = (event: McpClient.Event) => PubSub.publish(context.events, event)

  const listTools = (entry: Entry, connection: Connection) =>
    paginate(
      entry.config.name,
      "tools/list",
      (cursor) =>
        Effect.tryPromise({
          try: (signal) =>
            connection.client.listTools(cursor === undefined ? {} : { cursor }, { signal, timeout: noSdkTimeout }),
          catch: (error) => error
        }).pipe(Effect.catchAll((error) => Effect.flatMap(classifyOn(entry, connection, "tools/list", error), Effect.fail))),
      (page) => page.tools.map(toTool),
      (page) => page.nextCursor
    )

  const refreshWith = (entry: Entry, connection: Connection) =>
    Effect.gen(function*() {
      const tools = yield* listTools(entry, connection)
      yield* Ref.set(entry.tools, tools)
      yield* publish(context.Event.ToolsChanged({ server: entry.config.name, tools: tools.map((tool) => tool.name) }))
      return tools
    })

  // Marks a connection lost (if it is still the current one) and releases it.
  const lose = (entry: Entry, connection: Connection, error: McpServerError) =>
    SynchronizedRef.updateEffect(entry.state, (state): Effect.Effect<State> => {
      if (state._tag !== "Connected" || state.connection !== connection) return Effect.succeed(state)
      return Effect.gen(function*() {
        yield* Effect.logWarning(error.message).pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
        yield* publish(context.Event.Disconnected({ server: entry.config.name, error }))
        yield* Scope.close(connection.scope, Exit.void)
        return { _tag: "Disconnected", error } as const
      })
    })

  const toolsChanged = (entry: Entry, connection: Connection) =>
    refreshWith(entry, connection).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning(`Could not list the tools again: ${error.message}`).pipe(
          Effect.annotateLogs({ mcpServer: entry.config.name })
        )
      ),
      Effect.asVoid
    )

  const connectionContext: ConnectionContext = { ...context, lose, toolsChanged }

  // Start, initialize, list tools; publish. Runs inside the state's update.
  const connect = (entry: Entry, reconnected: boolean) =>
    Effect.gen(function*() {
      const connection = yield* open(connectionContext, entry)
      const tools = yield* listTools(entry, connection).pipe(
        Effect.timeoutFail({
          duration: context.connectTimeout,
          onTimeout: () =>
            McpServerError.of(
              entry.config.name,
              "timeout",
              `no answer to tools/list within ${Duration.format(context.connectTimeout)}`
            )
        }),
        Effect.tapError(() => Scope.close(connection.scope, Exit.void))
      )
      yield* Ref.set(entry.tools, tools)
      yield* publish(context.Event.Connected({ server: entry.config.name, pid: connection.pid, reconnected }))
      yield* publish(context.Event.ToolsChanged({ server: entry.config.name, tools: tools.map((tool) => tool.name) }))
      if (reconnected) yield* Effect.logInfo("Reconnected").pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
      return connection
    })

  // Reconnects under the schedule; on failure the server stays disconnected with the last error.
  const reconnect = (entry: Entry): Effect.Effect<readonly [Exit.Exit<Connection, McpServerError>, State]> =>
    connect(entry, true).pipe(
      Effect.tapError((error) =>
        Effect.logWarning(`Reconnection attempt failed: ${error.message}`).pipe(
          Effect.annotateLogs({ mcpServer: entry.config.name })
        )
      ),
      Effect.retry(context.reconnect),
      Effect.matchEffect({
        onSuccess: (connection) => Effect.succeed([Exit.succeed(connection), { _tag: "Connected", connection }] as const),
        onFailure: (error) =>
          publish(context.Event.Disconnected({ server: entry.config.name, error })).pipe(
            Effect.as([
              Exit.fail(McpServerError.of(entry.config.name, "unavailable", `could not reconnect: ${error.message}`, {
                cause: error
              })),
              { _tag: "Disconnected", error }
            ] as const)
          )
      })
    )

  /** The current connection, reconnecting first when the server was lost. */
  const connected = (entry: Entry): Effect.Effect<Connection, McpServerError> =>
    SynchronizedRef.modifyEffect(entry.state, (state) => {
      switch (state._tag) {
        case "Connected":
          return Effect.succeed([Exit.succeed(state.connection), state] as const)
        case "Closed":
          return Effect.succeed([Exit.fail(McpServerError.closed(entry.config.name)), state] as const)
        case "Disconnected":
          return reconnect(entry)
      }
    }).pipe(Effect.flatten)

  /** The first connection, when the client is made: a failure is kept and logged, not retried. */
  const start = (entry: Entry) =>
    SynchronizedRef.modifyEffect(entry.state, () =>
      connect(entry, false).pipe(
        Effect.map((connection) => [null, { _tag: "Connected", connection } as State] as const),
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            yield* Effect.logError(error.message).pipe(Effect.annotateLogs({ mcpServer: entry.config.name }))
            yield* publish(context.Event.Disconnected({ server: entry.config.name, error }))
            return [error, { _tag: "Disconnected", error } as State] as const
          })
        )
      ))

  /** Closes the current connection and connects again now. */
  const restart = (entry: Entry) =>
    SynchronizedRef.modifyEffect(entry.state, (state) =>
      Effect.gen(function*() {
        if (state._tag === "Closed") return [Exit.fail(McpServerError.closed(entry.config.name)), state] as const
        if (state._tag === "Connected") yield* Scope.close(state.connection.scope, Exit.void)
        return yield* reconnect(entry)
      })).pipe(Effect.flatten, Effect.asVoid)

  /** Closes every connection for good. */
  const close = (entry: Entry) =>
    SynchronizedRef.updateEffect(entry.state, (state) =>
      (state._tag === "Connected" ? Scope.close(state.connection.scope, Exit.void) : Effect.void).pipe(
        Effect.as({ _tag: "Closed" } as State)
      ))

  /** A request failed: when the connection is gone for good (HTTP errors, protocol breaks), drop it. */
  const failed = (entry: Entry, connection: Connection, method: string, error: unknown) =>
    Effect.gen(function*() {
      const typed = yield* classifyOn(entry, connection, method, error)
      const broken = yield* Ref.get(connection.broken)
      if (
        typed.reason === "unavailable" || typed.reason === "crashed" ||
        (typed.reason === "malformed_response" && broken._tag === "Some")
      ) {
        yield* lose(entry, connection, typed)
      }
      return yield* typed
    })

  return { connected, start, restart, close, failed, refreshWith }
}
