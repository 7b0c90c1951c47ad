/**
 * MCP servers and the environment's people: elicitations become events a
 * person answers from any front end, and OAuth authorization URLs are
 * published for a person to open.
 *
 * An elicitation is published as `ElicitationRequested` (keyed by its id and
 * by the call that caused it). A front end answers with core's
 * `Elicitation.answer`; the answer is applied when its author may answer
 * (by default: a human of the environment) and its content fits the form
 * (defaults filled in), then `ElicitationResolved` is published and the answer
 * goes back to the server. Anything else is refused visibly
 * (`ElicitationAnswerRefused`). An interrupt of the agent whose call caused it,
 * the end of that call, or the loss of the server ends it with
 * `ElicitationCancelled` (the server receives `cancel`).
 *
 * @example
 * import { Effect, Layer } from "effect"
 * import { McpConfig, McpEnvironment, McpToolkit } from "@chorus/mcp"
 *
 * declare const config: McpConfig.McpConfig
 * // Needs the Environment: elicitations and authorization URLs go through it.
 * const tools = Layer.unwrapEffect(
 *   Effect.map(McpEnvironment.options(), (handlers) => McpToolkit.layerServers(config, handlers))
 * )
 *
 * @since 0.1.0
 */
import { Elicitation, Environment, Event } from "@chorus/core"
import type { Journal } from "@chorus/core"
import { Effect, Either, HashMap, Option, Random, Ref, Stream } from "effect"
import { Commands } from "@chorus/core"
import type * as McpClient from "./McpClient.js"

/** Options of the environment's handlers. */
export interface Options {
  /** The author of the events published for MCP servers. Default `"mcp"`. */
  readonly author?: string | undefined
  /** Who may answer an elicitation. Default: the humans in the environment. */
  readonly mayAnswer?: ((participant: Environment.Member | undefined) => boolean) | undefined
}

const humans = (member: Environment.Member | undefined) => member?.kind === "human"

// The answer to one published elicitation, from the events that follow it.
const outcome = (
  env: Environment.Service,
  author: string,
  request: McpClient.ElicitationRequest,
  elicitationId: string,
  mayAnswer: (participant: Environment.Member | undefined) => boolean,
  agent: string | null
) =>
(event: Event.Event): Effect.Effect<Option.Option<McpClient.ElicitationResult>> =>
  Effect.gen(function*() {
    const payload = event.payload
    const cancel = (reason: string) =>
      env.publish(author, new Event.ElicitationCancelled({ elicitationId, reason })).pipe(
        Effect.as(Option.some<McpClient.ElicitationResult>({ action: "cancel" }))
      )
    const refuse = (reason: Event.ElicitationAnswerRefused["reason"], detail: string | null) =>
      env.publish(author, new Event.ElicitationAnswerRefused({ elicitationId, by: event.author, reason, detail })).pipe(
        Effect.as(Option.none<McpClient.ElicitationResult>())
      )
    switch (payload._tag) {
      case "ElicitationAnswered": {
        if (payload.elicitationId !== elicitationId) return Option.none()
        const members = yield* env.members
        if (!mayAnswer(members.find((member) => member.id === event.author))) return yield* refuse("not_allowed", null)
        let content: Event.ElicitationContent | null = null
        if (payload.action === "accept") {
          const checked = Elicitation.validate(request.requestedSchema, payload.content ?? {})
          if (Either.isLeft(checked)) return yield* refuse("invalid_content", checked.left.message)
          content = checked.right
        }
        yield* env.publish(
          author,
          new Event.ElicitationResolved({ elicitationId, action: payload.action, by: event.author, content })
        )
        return Option.some({ action: payload.action, content })
      }
      case "FunctionCallCancelled":
        return payload.callId === request.callId ? yield* cancel(`the call was cancelled: ${payload.reason}`) : Option.none()
      case "RunInterrupted":
        return request.callId !== null && payload.cancelledCalls.includes(request.callId)
          ? yield* cancel("the run was interrupted")
          : Option.none()
      case "InterruptRequested":
        return agent !== null && payload.participant === agent ? yield* cancel("the agent was interrupted") : Option.none()
      default:
        return Option.none()
    }
  })

const relevant = (event: Event.Event) => {
  switch (event.payload._tag) {
    case "ElicitationAnswered":
    case "FunctionCallCancelled":
    case "RunInterrupted":
    case "InterruptRequested":
      return true
    default:
      return false
  }
}

/** An elicitation handler that asks the environment's people. */
export const elicitation = Effect.fn("McpEnvironment.elicitation")(function*(options?: Options) {
  const env = yield* Environment.Environment
  const author = options?.author ?? "mcp"
  const mayAnswer = options?.mayAnswer ?? humans
  const handler: McpClient.ElicitationHandler = (request) =>
    Effect.gen(function*() {
      const elicitationId = `eli_${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}_${(yield* env.lastSequence) + 1}`
      const ended = yield* Ref.make(false)
      const commands = yield* Effect.orDie(env.snapshot(Commands.reducer))
      const agent = request.callId === null
        ? null
        : Option.getOrNull(Option.map(HashMap.get(commands, request.callId), (command) => command.agent))
      // Subscribe first, then publish: no answer can slip between them.
      const subscription = yield* env.subscribe({ accepts: relevant })
      yield* env.publish(
        author,
        new Event.ElicitationRequested({
          elicitationId,
          callId: request.callId,
          server: request.server,
          message: request.message,
          requestedSchema: { ...request.requestedSchema }
        })
      )
      const answered = subscription.stream.pipe(
        Stream.orDie,
        Stream.mapEffect(outcome(env, author, request, elicitationId, mayAnswer, agent)),
        Stream.filterMap((result) => result),
        Stream.runHead,
        Effect.map(Option.getOrElse((): McpClient.ElicitationResult => ({ action: "cancel" }))),
        Effect.tap(() => Ref.set(ended, true))
      )
      const withdrawn = Effect.flatMap(request.cancelled, (reason) =>
        env.publish(author, new Event.ElicitationCancelled({ elicitationId, reason })).pipe(
          Effect.zipRight(Ref.set(ended, true)),
          Effect.as<McpClient.ElicitationResult>({ action: "cancel" })
        ))
      return yield* Effect.raceFirst(answered, withdrawn).pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            if (yield* Ref.get(ended)) return
            const reason = Option.getOrElse(yield* request.cancelledReason, () => "the server withdrew the request or was lost")
            yield* env.publish(author, new Event.ElicitationCancelled({ elicitationId, reason }))
          })
        )
      )
    }).pipe(Effect.scoped)
  return handler
})

/** An authorization prompt that publishes the URL (`AuthorizationRequested`) for a person to open. */
export const authorization = Effect.fn("McpEnvironment.authorization")(function*(options?: Options) {
  const env = yield* Environment.Environment
  const author = options?.author ?? "mcp"
  return (request: McpClient.AuthorizationRequest) =>
    env.publish(author, new Event.AuthorizationRequested({ server: request.server, url: request.url })).pipe(Effect.asVoid)
})

/** Both handlers, as `McpClient.Options` to spread into the client's (or `McpToolkit.layerServers`') options. */
export const options = (options?: Options) =>
  Effect.all({ elicitation: elicitation(options), authorize: authorization(options) })

/**
 * Cancels the elicitations the journal shows as pending. Call it when a process starts on a journal an earlier
 * process wrote: the MCP connections that asked them are gone and nobody would ever answer those servers, so front
 * ends must stop offering them (`ElicitationCancelled` with `reason`, published as each request's requester).
 */
export const cancelOrphaned: (
  reason: string
) => Effect.Effect<void, Journal.JournalError | Journal.JournalCorrupted, Environment.Environment> = Effect.fn(
  "McpEnvironment.cancelOrphaned"
)(function*(reason: string) {
  const env = yield* Environment.Environment
  const state = yield* env.snapshot(Elicitation.reducer)
  yield* Effect.forEach(
    HashMap.values(state.pending),
    ({ request, requester }) =>
      env.publish(requester, new Event.ElicitationCancelled({ elicitationId: request.elicitationId, reason })),
    { discard: true }
  )
})
