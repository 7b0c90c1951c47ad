/**
 * The work behind `OpenAiClient`: the SDK client, the translation of what the
 * SDK throws into `InferenceError`s (once, here, with the API key scrubbed and
 * the provider's code kept), the abortable pull over the SDK's event stream,
 * and the retry policy.
 *
 * @internal
 */
import { InferenceRunner } from "@chorus/core"
import { Chunk, Clock, Duration, Effect, Either, Option, ParseResult, Redacted, Ref, Schedule, Stream } from "effect"
import type { Schema } from "effect"
import OpenAI from "openai"
import type { APIPromise } from "openai"
import type { Stream as SdkStream } from "openai/core/streaming"
import * as Errors from "./inferenceError.js"
import * as Sse from "./sse.js"

type InferenceError = InferenceRunner.InferenceError

/** Connection and behaviour options of the client. */
export interface Options {
  /** Sent as `Authorization: Bearer …`; never logged nor put in errors. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** The API root, e.g. `http://127.0.0.1:11434/v1`. Default: `https://api.openai.com/v1`. */
  readonly baseURL?: string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
  /** Extra HTTP headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Retry policy for transient errors (rate limits, 5xx, connection resets,
   * time-outs) that happen before the first event was emitted; a provider's
   * `retry-after` is always honoured as a minimum delay.
   * Default: {@link defaultRetry}. `Schedule.stop` disables retries.
   */
  readonly retry?: Schedule.Schedule<unknown, InferenceError> | undefined
  /**
   * Fails the inference with a `timeout` error when the provider sends nothing
   * for this long (waiting for the response headers or for the next event).
   * Measured with `Clock`. Default: 10 minutes; `Duration.infinity` waits forever.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

/**
 * The default retry policy: up to 3 retries, 0.5 s, 1 s then 2 s apart (or
 * longer when the provider asks for it), and no retry when the provider asks
 * to wait more than a minute.
 */
export const defaultRetry: Schedule.Schedule<unknown, InferenceError> = Schedule.exponential("500 millis", 2).pipe(
  Schedule.intersect(Schedule.recurs(3)),
  Schedule.whileInput((error: InferenceError) => (error.retryAfterMs ?? 0) <= 60_000)
)

/** Makes an SDK client; its own retries are off (retries are ours) and its logging is silenced. */
export const makeSdk = (options: Options): OpenAI => {
  const withKey = options.apiKey !== undefined
  return new OpenAI({
    // The SDK refuses to start without a key; servers that need none get a placeholder and no header.
    apiKey: options.apiKey === undefined ? "unused" : Redacted.value(options.apiKey),
    adminAPIKey: null,
    baseURL: options.baseURL ?? "https://api.openai.com/v1",
    organization: options.organization ?? null,
    project: options.project ?? null,
    webhookSecret: null,
    maxRetries: 0,
    logLevel: "off",
    defaultHeaders: {
      ...options.headers,
      ...(withKey ? {} : { Authorization: null })
    }
  })
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** Milliseconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
const retryAfterOf = (headers: Headers | undefined, now: number): number | null => {
  const ms = headers?.get("retry-after-ms")
  if (ms != null) {
    const value = Number.parseFloat(ms)
    if (Number.isFinite(value) && value >= 0) return value
  }
  const after = headers?.get("retry-after")
  if (after != null) {
    const seconds = Number.parseFloat(after)
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
    const date = Date.parse(after)
    if (Number.isFinite(date)) return Math.max(0, date - now)
  }
  return null
}

/** The body of an API error (`{ message, code, type }`), when it has one. */
const bodyOf = (error: InstanceType<typeof OpenAI.APIError>) =>
  (typeof error.error === "object" && error.error !== null ? error.error : {}) as {
    readonly message?: unknown
    readonly code?: unknown
    readonly type?: unknown
  }

/** The message an API error carries in its body, without the SDK's status prefix. */
const providerMessage = (error: InstanceType<typeof OpenAI.APIError>): string => {
  const body = bodyOf(error)
  if (typeof body.message === "string" && body.message !== "") return body.message
  const status = error.status
  return status !== undefined && error.message.startsWith(`${status} `)
    ? error.message.slice(`${status} `.length)
    : error.message
}

/**
 * Translates whatever the SDK threw into an `InferenceError`, keeping the
 * provider's error code. The secret is scrubbed from the detail and from the
 * (copied) cause.
 */
export const fromSdkError = (error: unknown, secret: string | undefined, now: number): InferenceError => {
  if (error instanceof InferenceRunner.InferenceError) return Errors.scrubbed(error, secret)
  const cause = Errors.sanitize(error, secret)
  const make = (reason: InferenceRunner.ErrorReason, detail: string, extra?: Errors.Extra) =>
    Errors.make(reason, Errors.scrub(detail, secret), { ...extra, cause })
  if (error instanceof OpenAI.APIUserAbortError) return make("connection", "the request was aborted")
  if (error instanceof OpenAI.APIConnectionTimeoutError) return make("timeout", "the provider did not answer in time")
  if (error instanceof OpenAI.APIConnectionError) {
    return make("connection", `could not reach the provider: ${Errors.causes(error.cause)}`)
  }
  if (error instanceof OpenAI.APIError) {
    const body = bodyOf(error)
    const code = Errors.codeOf(error.code) ?? Errors.codeOf(body.code) ?? Errors.codeOf(error.type) ??
      Errors.codeOf(body.type)
    if (error.status === undefined) {
      // An error sent inside the event stream (`data: {"error": …}`), raised by the SDK itself.
      return make(Errors.reasonOfCode(code), `the provider reported an error: ${providerMessage(error)}`, { code })
    }
    return make(Errors.reasonOfStatus(error.status), providerMessage(error), {
      status: error.status,
      code,
      retryAfterMs: error.status === 429 || error.status >= 500 ? retryAfterOf(error.headers, now) : null
    })
  }
  if (error instanceof SyntaxError) {
    return make("malformed_stream", `the event stream held data that is not JSON (${error.message})`)
  }
  if (error instanceof OpenAI.OpenAIError) return make("malformed_stream", error.message)
  if (error instanceof Error) return make("connection", `the connection failed: ${Errors.causes(error)}`)
  return make("other", String(error))
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/** Decodes a provider payload, or explains what is wrong with it. */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, raw: unknown, what: string) =>
  Either.mapLeft(
    ParseResult.decodeUnknownEither(schema)(raw),
    (issue) => Errors.malformed(`invalid ${what}: ${ParseResult.TreeFormatter.formatIssueSync(issue)}`)
  )

/** What a decoder makes of one provider event. */
export interface Step<A> {
  readonly out: ReadonlyArray<A>
  /** The response ended (a terminal event): stop reading. */
  readonly done: boolean
}

/** Turns the provider's events of one response into outputs (parts). */
export interface Decoder<Raw, A> {
  readonly push: (raw: Raw) => Either.Either<Step<A>, InferenceError>
  /** The provider's stream ended: the last outputs, or an error if the response was cut short. */
  readonly end: () => Either.Either<ReadonlyArray<A>, InferenceError>
}

// ---------------------------------------------------------------------------
// The abortable pull
// ---------------------------------------------------------------------------

/** One streamed request. */
export interface Request<Raw, A> {
  /**
   * Starts the request, e.g. `sdk.responses.create({ …, stream: true }, { signal })`; the signal aborts it (and its
   * body) when the stream's scope closes. Its body is read here, as server-sent events of JSON data.
   */
  readonly open: (sdk: OpenAI, signal: AbortSignal) => APIPromise<SdkStream<Raw>>
  /** A fresh decoder for each attempt. */
  readonly decoder: () => Decoder<unknown, A>
}

interface Settings {
  readonly sdk: OpenAI
  readonly secret: string | undefined
  readonly idleTimeout: Duration.Duration | undefined
}

/**
 * The JSON events of one chunk's server-sent events, as the SDK's stream would yield them: `[DONE]` ends the data,
 * data that is not JSON is a `SyntaxError`, and `{"error": …}` an `APIError` (both thrown, for `fromSdkError`).
 */
const jsonEvents = (messages: ReadonlyArray<string>, headers: Headers, state: { done: boolean }): Array<unknown> => {
  const out: Array<unknown> = []
  for (const message of messages) {
    if (state.done) break
    if (message.startsWith("[DONE]")) {
      state.done = true
      break
    }
    const data: unknown = JSON.parse(message)
    if (typeof data === "object" && data !== null && "error" in data && data.error) {
      throw new OpenAI.APIError(undefined, data.error as object, undefined, headers)
    }
    out.push(data)
  }
  return out
}

/**
 * One attempt as a stream. The SDK makes the request (headers, auth, HTTP errors); its body is read here a network
 * chunk at a time, and each chunk's events become one chunk of parts, so the stream pays one pull per read rather
 * than one per event. Every read is awaited under an `AbortController` whose `abort()` is
 * a finalizer of the stream's own scope: interrupting the stream aborts the HTTP request at once, even while the
 * provider sends nothing (`Stream.fromAsyncIterable` could not interrupt a pending read).
 */
export const attempt = <Raw, A>(settings: Settings, request: Request<Raw, A>): Stream.Stream<A, InferenceError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (controller) => Effect.sync(() => controller.abort())
    )
    // Interrupting a pending call aborts the request there and then: a stop reaches the server without waiting for
    // the interruption to unwind the stream's scopes to the finalizer above.
    const call = <B>(thunk: () => PromiseLike<B>): Effect.Effect<B, InferenceError> => {
      const awaited = Effect.async<B, unknown>((resume) => {
        let pending: Promise<B>
        try {
          pending = Promise.resolve(thunk())
        } catch (error) {
          return resume(Effect.fail(error))
        }
        pending.then((value) => resume(Effect.succeed(value)), (error) => resume(Effect.fail(error)))
        return Effect.sync(() => controller.abort())
      }).pipe(
        Effect.catchAll((error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(fromSdkError(error, settings.secret, now)))
        )
      )
      const timeout = settings.idleTimeout
      return timeout === undefined ? awaited : Effect.timeoutFail(awaited, {
        duration: timeout,
        onTimeout: () => Errors.make("timeout", `the provider sent nothing for ${Duration.format(timeout)}`)
      })
    }
    const response = yield* call(() => request.open(settings.sdk, controller.signal).asResponse())
    if (response.body === null) return Stream.fail(Errors.malformed("the response has no body"))
    const reader = response.body.getReader()
    const sse = Sse.decoder()
    const data = { done: false }
    const decoder = request.decoder()
    let ended = false
    const fail = (error: InferenceError) => Effect.fail(Option.some(Errors.scrubbed(error, settings.secret)))
    // The parts of one read: every event it completes, through the decoder, until a terminal event.
    const partsOf = (messages: ReadonlyArray<string>, last: boolean): Effect.Effect<Chunk.Chunk<A>, Option.Option<InferenceError>> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let events: Array<unknown>
        try {
          events = jsonEvents(messages, response.headers, data)
        } catch (error) {
          return fail(fromSdkError(error, settings.secret, now))
        }
        const parts: Array<A> = []
        for (const event of events) {
          const step = decoder.push(event)
          if (Either.isLeft(step)) return fail(step.left)
          for (const part of step.right.out) parts.push(part)
          if (step.right.done) {
            ended = true
            return Effect.succeed(Chunk.unsafeFromArray(parts))
          }
        }
        if (last) {
          ended = true
          const rest = decoder.end()
          if (Either.isLeft(rest)) return fail(rest.left)
          for (const part of rest.right) parts.push(part)
        }
        return Effect.succeed(Chunk.unsafeFromArray(parts))
      })
    const pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<InferenceError>> = Effect.suspend(() =>
      ended ? Effect.fail(Option.none()) : call(() => reader.read()).pipe(
        Effect.mapError(Option.some),
        Effect.flatMap((read) => read.done ? partsOf(sse.end(), true) : partsOf(sse.push(read.value), false))
      )
    )
    return Stream.repeatEffectChunkOption(pull)
  }))

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

/**
 * Retries an inference on transient errors, only while it has emitted
 * nothing: once a part went downstream a retry would duplicate output, so
 * later errors fail the stream. The provider's `retryAfterMs` is a minimum:
 * the wait is the longer of it and the policy's delay.
 */
export const retrying = <A>(
  self: Stream.Stream<A, InferenceError>,
  policy: Schedule.Schedule<unknown, InferenceError>
): Stream.Stream<A, InferenceError> =>
  Stream.unwrap(Effect.gen(function*() {
    const lastError = yield* Ref.make<InferenceError | null>(null)
    const schedule = policy.pipe(
      Schedule.tapInput((error: InferenceError) => Ref.set(lastError, error)),
      Schedule.modifyDelayEffect((_, delay) =>
        Effect.map(Ref.get(lastError), (error) =>
          error === null || error.retryAfterMs === null
            ? delay
            : Duration.max(delay, Duration.millis(error.retryAfterMs)))
      )
    )
    const driver = yield* Schedule.driver(schedule)
    const loop: Stream.Stream<A, InferenceError> = Stream.unwrap(Effect.map(Ref.make(false), (emitted) =>
      self.pipe(
        // Per chunk, not `Stream.tap` (which would cut the stream into one-part chunks downstream).
        Stream.mapChunksEffect((chunk) => Chunk.isEmpty(chunk) ? Effect.succeed(chunk) : Effect.as(Ref.set(emitted, true), chunk)),
        Stream.catchAll((error) =>
          Stream.unwrap(Effect.gen(function*() {
            if (!error.isTransient || (yield* Ref.get(emitted))) return Stream.fail(error)
            return yield* driver.next(error).pipe(
              Effect.as(loop),
              Effect.orElseSucceed(() => Stream.fail(error))
            )
          }))
        )
      )))
    return loop
  }))

/** The client's `stream`: one request, attempted under the retry policy. */
export const streamOf = (settings: Settings, policy: Schedule.Schedule<unknown, InferenceError>) =>
<Raw, A>(request: Request<Raw, A>): Stream.Stream<A, InferenceError> =>
  retrying(Stream.suspend(() => attempt(settings, request)), policy)
