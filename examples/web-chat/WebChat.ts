/**
 * The web chat server: one page, and the environment streamed to every
 * browser over Server-Sent Events.
 *
 * - `GET /` — the page (vanilla JS, inline).
 * - `GET /events?from=N` — every event from sequence `N` (default 0), then
 *   live. Each SSE frame's `event:` is the wire name (OpenResponses names,
 *   `chorus.`-prefixed extensions), `id:` the sequence and `data:` the event as
 *   JSON (`Event.Json`). A reconnecting browser sends `Last-Event-ID` and
 *   resumes right after it: no gap, no duplicate.
 * - `POST /messages` `{ text, policy? }`, `POST /interrupt`
 *   `{ participant?, runId? }`, `POST /approvals` `{ callId, approved, reason? }`
 *   — what a person does, published as the human participant. Bodies are
 *   validated; a bad one gets a 400 with a message saying what is wrong.
 *
 * @since 0.1.0
 */
import { FileSystem, HttpIncomingMessage, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpServerError, Path } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Agent, Environment, Event, Human, InputStream } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { Deferred, Effect, Exit, FiberId, Layer, Option, ParseResult, Schema, Stream } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
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
}

/** A running web chat. */
export interface WebChat {
  /** The page's address, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string
  readonly port: number
  readonly agent: string
  readonly human: string
}

/** The largest request body accepted. */
export const maxBodyBytes = 64 * 1024

const defaultInstructions =
  "You are a helpful assistant in a web chat. Answer clearly. When the user asks you to write, save or remember " +
  `something, use the ${Notes.toolName} tool; the user approves every note before it is written.`

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

const NonBlank = Schema.String.pipe(
  Schema.filter((text) => text.trim().length > 0, { message: () => "must not be empty" })
)

/** `POST /messages`. */
export const MessageBody = Schema.Struct({
  text: NonBlank,
  policy: Schema.optional(Schema.NullOr(Event.BusyPolicy))
})

/** `POST /interrupt`; the participant defaults to the agent. */
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

/** A request the server refuses, with the status and the message the client gets. */
class Refused extends Schema.TaggedError<Refused>()("Refused", {
  status: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

const refusal = (error: Refused) =>
  HttpServerResponse.unsafeJson({ error: error.detail }, { status: error.status })

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/** A parse error as one line per issue: `text: Expected string, actual 3`. */
const issues = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? "" : `${issue.path.join(".")}: `) + issue.message)
    .join("; ")

/** Reads and validates a JSON body: 413 when too large, 400 when not JSON or not the expected shape. */
const body = <A, I>(schema: Schema.Schema<A, I, never>, expected: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > maxBodyBytes) {
      return yield* new Refused({ status: 413, detail: `the body is larger than ${maxBodyBytes} bytes` })
    }
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
      Effect.mapError((error) => new Refused({ status: 400, detail: `the body could not be read: ${describe(error)}` }))
    )
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new Refused({ status: 400, detail: `the body is not valid JSON (${describe(error)}); expected ${expected}` })
    })
    return yield* Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })(json).pipe(
      Effect.mapError((error) =>
        new Refused({
          status: 400,
          detail: `the body is not ${expected}: ${issues(error)}`
        })
      )
    )
  })

const accepted = (value: unknown) => HttpServerResponse.unsafeJson(value, { status: 202 })

// ---------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------

/** The sequence to start from: after `Last-Event-ID` when a browser reconnects, else `?from=` (default 0). */
const startSequence = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const lastEventId = request.headers["last-event-id"]
    if (lastEventId !== undefined && lastEventId !== "") {
      if (!/^\d{1,15}$/.test(lastEventId)) {
        return yield* new Refused({ status: 400, detail: `Last-Event-ID must be an event sequence, got "${lastEventId}"` })
      }
      return Number(lastEventId) + 1
    }
    const from = new URL(request.url, "http://localhost").searchParams.get("from")
    if (from === null || from === "") return 0
    if (!/^\d{1,15}$/.test(from)) {
      return yield* new Refused({ status: 400, detail: `from must be a sequence number (0 or more), got "${from}"` })
    }
    return Number(from)
  })

const encodeEvent = Schema.encode(Event.Json)

/** An event as one SSE frame. */
export const frame = (event: Event.Event) =>
  Effect.map(encodeEvent(event), (json) => `event: ${Event.wireName(event.payload)}\nid: ${event.sequence}\ndata: ${json}\n\n`)

/** Every wire name, so a page can listen to each (an `EventSource` delivers named events only to their listeners). */
export const wireNames: ReadonlyArray<string> = Event.Payload.members.map((member) =>
  // `wireName` reads only the tag.
  Event.wireName({ _tag: member._tag } as Event.Payload)
)

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

const pageFile = fileURLToPath(new URL("./page.html", import.meta.url))

/** The page with its configuration filled in. */
const renderPage = (template: string, config: unknown) =>
  // `<` is escaped so that no value can close the script element.
  template.replace("/*CHORUS_CONFIG*/null", JSON.stringify(config).replace(/</g, "\\u003c"))

/**
 * Starts the web chat: joins the agent (on the `InferenceRunner` in context,
 * with `write_note` needing approval) and the browsers' human participant,
 * then serves on `host:port`. Everything stops when the scope closes: open
 * event streams end, connections close, participants leave.
 *
 * @example
 * import { Effect, Layer } from "effect"
 * import { NodeContext } from "@effect/platform-node"
 * import { Environment } from "@chorus/core"
 * import * as Script from "./Script.js"
 * import * as WebChat from "./WebChat.js"
 *
 * const program = Effect.gen(function*() {
 *   const chat = yield* WebChat.make({ sandbox: "/tmp/notes", port: 0 })
 *   yield* Effect.log(`open ${chat.url}`)
 *   yield* Effect.never
 * }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Environment.layerMemory(), Script.layer(), NodeContext.layer)))
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
    const fs = yield* FileSystem.FileSystem
    const agent = options.agent ?? "assistant"
    const human = options.human ?? "you"
    const template = yield* Effect.orDie(fs.readFileString(pageFile))
    const page = renderPage(template, { agent, human, title: options.title ?? "Chorus web chat", wireNames })

    yield* env.join(Human.make({ id: human })).pipe(Effect.provide(InputStream.layer(Stream.never)))
    yield* env.join(Agent.make({
      id: agent,
      instructions: options.instructions ?? defaultInstructions,
      approval: { tools: { [Notes.toolName]: "always" } }
    })).pipe(Effect.provide(Notes.toolkit(options.sandbox).layer))

    const provideEnv = Effect.provideService(Environment.Environment, env)
    // Completed when the scope closes: every open event stream ends.
    const closing = yield* Deferred.make<void>()
    // The event streams' responses not yet finished.
    const open = new Set<Deferred.Deferred<void>>()

    const events = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const from = yield* startSequence(request)
      const finished = Deferred.unsafeMake<void>(FiberId.none)
      open.add(finished)
      NodeHttpServerRequest.toServerResponse(request).once("close", () => {
        open.delete(finished)
        Deferred.unsafeDone(finished, Exit.void)
      })
      const frames = Stream.unwrapScoped(
        Effect.map(env.subscribe({ from }), (subscription) =>
          // The first line is written once subscribed: from then on, nothing published is missed.
          Stream.concat(Stream.make("retry: 1000\n\n"), Stream.mapEffect(subscription.stream, frame)))
      ).pipe(
        Stream.orDie,
        // A comment now and then keeps proxies from closing an idle stream.
        Stream.merge(Stream.tick("15 seconds").pipe(Stream.as(": keep-alive\n\n")), { haltStrategy: "left" }),
        Stream.interruptWhen(Deferred.await(closing)),
        Stream.encodeText
      )
      return HttpServerResponse.stream(frames, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      })
    })

    const messages = Effect.gen(function*() {
      const input = yield* body(MessageBody, "{ \"text\": string, \"policy\"?: \"queue\" | \"steer\" | \"interrupt\" | \"drop\" }")
      const item = yield* Human.say(human, input.text, { policy: input.policy ?? null }).pipe(provideEnv)
      return accepted({ itemId: item.id })
    })

    const interrupt = Effect.gen(function*() {
      const input = yield* body(InterruptBody, "{ \"participant\"?: string, \"runId\"?: string | null }")
      yield* Human.handle(human, new InputStream.Interrupt({ participant: input.participant ?? agent, runId: input.runId ?? null }))
        .pipe(provideEnv)
      return accepted({ participant: input.participant ?? agent, runId: input.runId ?? null })
    })

    const approvals = Effect.gen(function*() {
      const input = yield* body(ApprovalBody, "{ \"callId\": string, \"approved\": boolean, \"reason\"?: string | null }")
      const event = yield* Human.answer(
        human,
        new InputStream.Approval({ callId: input.callId, approved: input.approved, reason: input.reason ?? null })
      ).pipe(provideEnv)
      if (event.payload._tag === "ApprovalAnswerRefused") {
        return yield* new Refused({ status: 404, detail: `no function call "${input.callId}" is known here` })
      }
      return accepted({ sequence: event.sequence })
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/", Effect.succeed(HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" }))),
      HttpRouter.get("/events", events),
      HttpRouter.post("/messages", messages),
      HttpRouter.post("/interrupt", interrupt),
      HttpRouter.post("/approvals", approvals),
      HttpRouter.catchTag("Refused", (error) => Effect.succeed(refusal(error)))
    )

    let server: Http.Server | undefined = undefined
    const context = yield* Layer.build(
      NodeHttpServer.layer(() => (server = Http.createServer()), { port: options.port ?? 0, host: options.host ?? "127.0.0.1" })
    )
    // Added after the server, so it runs before the server closes: end the event streams, let their responses
    // finish, then drop the idle connections (an open stream would keep `server.close` waiting forever).
    yield* Effect.addFinalizer(() =>
      Deferred.succeed(closing, undefined).pipe(
        Effect.zipRight(Effect.forEach([...open], Deferred.await, { discard: true }).pipe(Effect.timeout("2 seconds"), Effect.ignore)),
        Effect.zipRight(Effect.sync(() => server?.closeAllConnections()))
      )
    )
    yield* HttpServer.serveEffect(router).pipe(Effect.provide(context))
    const address = yield* HttpServer.addressWith((address) => Effect.succeed(address)).pipe(Effect.provide(context))
    const port = address._tag === "TcpAddress" ? address.port : 0
    const host = address._tag === "TcpAddress" ? address.hostname : "127.0.0.1"
    return { url: `http://${host}:${port}/`, port, agent, human }
  })
