/**
 * The routes' handlers.
 *
 * @internal
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Activity, Commands, Elicitation, Environment, Event, Human, InputStream } from "@chorus/core"
import { Effect, Either, HashMap, HashSet, Option, Schema, Stream } from "effect"
import type * as Conversations from "../Conversations.js"
import * as EventStream from "./eventStream.js"
import { accepted, decodeBody, NonBlank, Refused, refusalResponse } from "./http.js"
import * as ResponsesApi from "./responsesApi.js"
import * as Snapshot from "./snapshot.js"
import * as UiMessageStream from "./uiMessageStream.js"

/** Maps a request to the participant it speaks for, or refuses it. */
export type Speaker = (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<string, Refused>

export interface Options {
  readonly conversations: Conversations.Conversations
  readonly speaker: Speaker
  readonly maxBodyBytes: number
  readonly maxResponsesBodyBytes: number
}

/** `POST /messages`. */
export const MessageBody = Schema.Struct({
  text: NonBlank,
  policy: Schema.optional(Schema.NullOr(Event.BusyPolicy))
})

/** `POST /interrupt`; the participant defaults to the agent running now. */
export const InterruptBody = Schema.Struct({
  participant: Schema.optional(NonBlank),
  runId: Schema.optional(Schema.NullOr(Schema.String))
})

/** `POST /approvals`. */
export const ApprovalBody = Schema.Struct({
  callId: NonBlank,
  approved: Schema.Boolean,
  reason: Schema.optional(Schema.NullOr(Schema.String))
})

/** `POST /elicitations`. */
export const ElicitationBody = Schema.Struct({
  elicitationId: NonBlank,
  action: Event.ElicitationAction,
  content: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
})

/** `POST /clarifications`. */
export const ClarificationBody = Schema.Struct({
  callId: NonBlank,
  answer: NonBlank
})

const isLoopback = (address: string) =>
  address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1" || address.startsWith("127.")

/** The default speaker: one local human, for requests from this machine only. */
export const localHuman = (id: string): Speaker => (request) =>
  Option.match(request.remoteAddress, {
    onNone: () => Effect.fail(new Refused({ status: 403, detail: "only local requests may speak here" })),
    onSome: (address) =>
      isLoopback(address)
        ? Effect.succeed(id)
        : Effect.fail(new Refused({ status: 403, detail: "only local requests may speak here" }))
  })

/** The environment the request is about (404 when the conversation is unknown). */
const environmentOf = (options: Options) => Effect.gen(function*() {
  const params = yield* HttpRouter.params
  const id = params["conversation"] ?? ""
  const found = yield* options.conversations.get(id)
  if (Option.isNone(found)) return yield* new Refused({ status: 404, detail: `no conversation "${id}"` })
  return found.value
})

/** The participant the request speaks for, as the hook says. */
const speakerOf = (options: Options) => Effect.flatMap(HttpServerRequest.HttpServerRequest, options.speaker)

/** The participant a request speaks for, joined as a human the first time it speaks (so its approvals count). */
const ensureJoined = (env: Environment.Service, who: string) =>
  Effect.gen(function*() {
    const members = yield* env.members
    if (!members.some((member) => member.id === who)) {
      yield* env.join(Human.make({ id: who })).pipe(
        Effect.provide(InputStream.layer(Stream.never)),
        Effect.provideService(Environment.Environment, env),
        Effect.catchTag("ParticipantAlreadyJoined", () => Effect.void),
        // A human with no input starts unless the environment cannot read its history: a bug here, not a refusal.
        Effect.catchTag("ParticipantStartFailed", (error) => Effect.die(error))
      )
    }
  })

/** The body of a small endpoint, decoded. */
const body = <A, I>(options: Options, schema: Schema.Schema<A, I, never>, expected: string) =>
  decodeBody(schema, { maxBytes: options.maxBodyBytes, expected })

/** `GET /events`: the events as OpenResponses SSE. */
const events = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const request = yield* HttpServerRequest.HttpServerRequest
  const resume = yield* resumeOf(request)
  const frames = EventStream.frames(env, resume).pipe(
    Stream.orDie,
    // A comment now and then keeps proxies from closing an idle stream.
    Stream.merge(Stream.tick("15 seconds").pipe(Stream.drop(1), Stream.as(": keep-alive\n\n")), { haltStrategy: "left" }),
    Stream.encodeText
  )
  return HttpServerResponse.stream(frames, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
})

/** `GET /snapshot`: the conversation folded for a first paint. */
const snapshot = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  return HttpServerResponse.unsafeJson(yield* Effect.orDie(Snapshot.make(env)))
})

/** `POST /messages`: a user message from the speaker. */
const messages = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  const input = yield* body(options, MessageBody, "{ \"text\": string, \"policy\"?: \"queue\" | \"steer\" | \"interrupt\" | \"drop\" }")
  yield* ensureJoined(env, who)
  const sequence = (yield* env.lastSequence) + 1
  const item = yield* sayAs(env, who, input.text, input.policy ?? null)
  return accepted({ item_id: item, sequence })
})

/** `POST /interrupt`: stops a run. */
const interrupt = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  const input = yield* body(options, InterruptBody, "{ \"participant\"?: string, \"runId\"?: string | null }")
  yield* ensureJoined(env, who)
  const participant = input.participant ?? (yield* runningAgent(env))
  if (participant === undefined) return yield* new Refused({ status: 409, detail: "no agent is running" })
  const event = yield* env.interrupt({ participant, runId: input.runId ?? undefined, by: who })
  return accepted({ participant, run_id: input.runId ?? null, sequence: event.sequence })
})

/** `POST /approvals`: answers a call that waits for an approval; anything else is refused unpublished. */
const approvals = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  const input = yield* body(options, ApprovalBody, "{ \"callId\": string, \"approved\": boolean, \"reason\"?: string | null }")
  // Checked before publishing: a wrong request is the requester's problem, not every participant's.
  const commands = yield* Effect.orDie(env.snapshot(Commands.reducer))
  const command = HashMap.get(commands, input.callId)
  if (Option.isNone(command)) return yield* new Refused({ status: 404, detail: `no function call "${input.callId}" is known here` })
  if (command.value.status !== "awaiting_approval") {
    return yield* new Refused({ status: 409, detail: `function call "${input.callId}" does not wait for an approval (it is ${command.value.status})` })
  }
  yield* ensureJoined(env, who)
  const event = yield* env.publish(who, new Event.ApprovalAnswered({ callId: input.callId, approved: input.approved, reason: input.reason ?? null }))
  return accepted({ sequence: event.sequence })
})

/** `POST /clarifications`: answers a question that waits. */
const clarifications = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  const input = yield* body(options, ClarificationBody, "{ \"callId\": string, \"answer\": string }")
  const activity = yield* Effect.orDie(env.snapshot(Activity.reducer))
  if (!HashSet.has(activity.pendingQuestions, input.callId)) {
    return yield* new Refused({ status: 404, detail: `no question "${input.callId}" waits for an answer` })
  }
  yield* ensureJoined(env, who)
  const event = yield* env.publish(who, new Event.ClarificationAnswered({ callId: input.callId, answer: input.answer }))
  return accepted({ sequence: event.sequence })
})

/** `POST /elicitations`: answers an MCP server's elicitation that waits; the content is checked against its form first. */
const elicitations = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  const input = yield* body(options, ElicitationBody, "{ \"elicitationId\": string, \"action\": \"accept\" | \"decline\" | \"cancel\", \"content\"?: object }")
  const state = yield* Effect.orDie(env.snapshot(Elicitation.reducer))
  const pending = HashMap.get(state.pending, input.elicitationId)
  if (Option.isNone(pending)) {
    return yield* HashSet.has(state.ended, input.elicitationId)
      ? new Refused({ status: 409, detail: `elicitation "${input.elicitationId}" has already ended` })
      : new Refused({ status: 404, detail: `no elicitation "${input.elicitationId}" waits for an answer` })
  }
  let content: Event.ElicitationContent | null = null
  if (input.action === "accept") {
    const checked = Elicitation.validate(pending.value.request.requestedSchema, input.content ?? {})
    if (Either.isLeft(checked)) return yield* new Refused({ status: 400, detail: checked.left.message })
    content = checked.right
  }
  yield* ensureJoined(env, who)
  const event = yield* env.publish(who, new Event.ElicitationAnswered({ elicitationId: input.elicitationId, action: input.action, content }))
  return accepted({ sequence: event.sequence })
})

/** `POST /chat`: the AI SDK UI message stream. */
const chat = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* speakerOf(options)
  // The transport sends the whole history and fields of its own: the larger limit, extra fields ignored.
  const request = yield* decodeBody(UiMessageStream.Request, {
    maxBytes: options.maxResponsesBodyBytes,
    expected: UiMessageStream.expected,
    excess: "ignore"
  })
  const action = UiMessageStream.action(request)
  if (action === undefined) {
    return yield* new Refused({ status: 400, detail: "the last message is neither a user message with text nor answered tool approvals" })
  }
  yield* ensureJoined(env, who)
  const stream = UiMessageStream.encode(UiMessageStream.chunks({ env, speaker: who }, action))
  return HttpServerResponse.stream(Stream.encodeText(stream), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-vercel-ai-ui-message-stream": "v1", "x-accel-buffering": "no" }
  })
})

/** `POST /v1/responses`: the OpenResponses-compatible Responses API. */
const responses = (options: Options) => Effect.gen(function*() {
  const env = yield* environmentOf(options)
  const who = yield* Effect.mapError(speakerOf(options), (error) => new Refused({ ...error, shape: "openai" }))
  const request = yield* decodeBody(ResponsesApi.Request, {
    maxBytes: options.maxResponsesBodyBytes,
    expected: ResponsesApi.expected,
    excess: "ignore",
    shape: "openai"
  })
  const text = ResponsesApi.inputText(request)
  if (text === undefined) {
    return yield* new Refused({ status: 400, detail: "the input has no user message with text", shape: "openai" })
  }
  yield* ensureJoined(env, who)
  const events = ResponsesApi.events({ env, speaker: who }, request, text)
  if (request.stream === true) {
    const frames = Stream.map(events, (event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
    return HttpServerResponse.stream(Stream.encodeText(frames), {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  }
  return HttpServerResponse.unsafeJson(yield* ResponsesApi.collect(events))
})

/** The routes over `options.conversations`. */
export const make = (options: Options) => {
  const prefix = options.conversations.mode === "keyed" ? "/conversations/:conversation" : ""
  return HttpRouter.empty.pipe(
    HttpRouter.get(`${prefix}/events`, events(options)),
    HttpRouter.get(`${prefix}/snapshot`, snapshot(options)),
    HttpRouter.post(`${prefix}/messages`, messages(options)),
    HttpRouter.post(`${prefix}/interrupt`, interrupt(options)),
    HttpRouter.post(`${prefix}/approvals`, approvals(options)),
    HttpRouter.post(`${prefix}/clarifications`, clarifications(options)),
    HttpRouter.post(`${prefix}/elicitations`, elicitations(options)),
    HttpRouter.post(`${prefix}/chat`, chat(options)),
    HttpRouter.post(`${prefix}/v1/responses`, responses(options)),
    HttpRouter.catchTag("Refused", (error) => Effect.succeed(refusalResponse(error)))
  )
}

const sayAs = (env: Environment.Service, who: string, text: string, policy: Event.BusyPolicy | null) =>
  Effect.gen(function*() {
    const item = yield* Human.say(who, text, { policy }).pipe(Effect.provideService(Environment.Environment, env))
    return item.id
  })

/** The agent whose run an interrupt without a participant stops: the one running now, else the first agent. */
const runningAgent = (env: Environment.Service) =>
  Effect.gen(function*() {
    const activity = yield* Effect.orDie(env.snapshot(Activity.reducer))
    const participants = [...HashMap.values(activity.participants)].filter((p) => p.kind === "agent" && p.present)
    return (participants.find((p) => p.runId !== null) ?? participants[0])?.id
  })

/** Where an event stream resumes: `Last-Event-ID`, else `?journal=&after=`, else `?from=` (default 0). */
const resumeOf = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const lastEventId = request.headers["last-event-id"]
    if (lastEventId !== undefined && lastEventId !== "") {
      const parsed = EventStream.parseEventId(lastEventId)
      if (parsed === undefined) {
        return yield* new Refused({ status: 400, detail: "Last-Event-ID must be an id this server sent (<journal>.<sequence>)" })
      }
      return parsed
    }
    const query = new URL(request.url, "http://localhost").searchParams
    const number = (name: string) => {
      const value = query.get(name)
      if (value === null || value === "") return Effect.succeed(undefined)
      return /^\d{1,15}$/.test(value)
        ? Effect.succeed(Number(value))
        : Effect.fail(new Refused({ status: 400, detail: `${name} must be a sequence number (0 or more), got "${value.slice(0, 40)}"` }))
    }
    const journal = query.get("journal") ?? undefined
    if (journal !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(journal)) {
      return yield* new Refused({ status: 400, detail: "journal must be a journal identity this server sent" })
    }
    const after = yield* number("after")
    if (after !== undefined) return { journal, after }
    const from = yield* number("from")
    return { journal, after: (from ?? 0) - 1 }
  })
