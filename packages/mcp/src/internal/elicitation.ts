// Answering a server's `elicitation/create` (form mode): the application's handler is asked, keyed by the call in
// flight on that server; the request is void (the handler interrupted, "cancel" sent) when that call ends, when the
// server withdraws it or when the connection closes. Accepted content is checked against the requested schema,
// with the schema's defaults filled in, before it goes back.
import { Elicitation } from "@chorus/core"
import type { ElicitRequest, ElicitResult } from "@modelcontextprotocol/sdk/types.js"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js"
import { Deferred, Effect, Either, Fiber, Ref } from "effect"
import type * as McpClient from "../McpClient.js"

/** A tool call in flight on a server; `ended` completes with why it ended. */
export interface InFlight {
  readonly callId: string | null
  readonly ended: Deferred.Deferred<string>
}

export interface Options {
  readonly server: string
  readonly calls: Ref.Ref<ReadonlyArray<InFlight>>
  readonly handler: McpClient.ElicitationHandler
}

export const handle = (options: Options, params: ElicitRequest["params"]) =>
  Effect.gen(function*() {
    if (params.mode === "url") {
      return yield* Effect.fail(new McpError(ErrorCode.InvalidParams, "URL-mode elicitation is not supported"))
    }
    const requestedSchema = params.requestedSchema as Readonly<Record<string, unknown>>
    // The protocol does not say which request an elicitation belongs to: it is the latest call in flight.
    const call = (yield* Ref.get(options.calls)).at(-1)
    const cancelled = yield* Deferred.make<string>()
    const watcher = call === undefined
      ? undefined
      : yield* Effect.fork(Effect.flatMap(Deferred.await(call.ended), (reason) => Deferred.succeed(cancelled, reason)))
    const result = yield* options.handler({
      server: options.server,
      callId: call?.callId ?? null,
      message: params.message,
      requestedSchema,
      cancelled: Deferred.await(cancelled),
      cancelledReason: Effect.flatMap(Deferred.poll(cancelled), (done) =>
        done._tag === "None" ? Effect.succeedNone : Effect.asSome(done.value))
    }).pipe(
      Effect.raceFirst(Deferred.await(cancelled).pipe(Effect.as<McpClient.ElicitationResult>({ action: "cancel" }))),
      // Interrupted by the SDK (the server cancelled the request, or the connection closed).
      Effect.onInterrupt(() => Deferred.succeed(cancelled, "the server withdrew the request or was lost")),
      Effect.ensuring(watcher === undefined ? Effect.void : Fiber.interrupt(watcher))
    )
    if (result.action !== "accept") return { action: result.action } satisfies ElicitResult
    const content = Elicitation.validate(requestedSchema, result.content ?? {})
    if (Either.isLeft(content)) {
      yield* Effect.logWarning(`An elicitation answer was not sent: ${content.left.message}`)
      return yield* Effect.fail(new McpError(ErrorCode.InvalidParams, content.left.message))
    }
    return { action: "accept", content: content.right as ElicitResult["content"] } satisfies ElicitResult
  })
