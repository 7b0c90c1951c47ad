/**
 * What the Responses and Chat Completions runners share: the SDK client, the
 * translation of SDK errors into `InferenceError`s (with the API key scrubbed),
 * an abortable pull over the SDK's event stream, and the retry policy.
 *
 * @internal
 */
import { Event, InferenceRunner } from "@chorus/core"
import { Chunk, Clock, Duration, Effect, Either, Option, ParseResult, Redacted, Ref, Schedule, Stream } from "effect"
import type { Schema } from "effect"
import OpenAI from "openai"

type InferenceError = InferenceRunner.InferenceError
type StreamEvent = InferenceRunner.StreamEvent

/** Connection and behaviour options both runners accept. */
export interface ClientOptions {
  /** Sent as `Authorization: Bearer …`; never logged nor put in errors. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** The API root, e.g. `http://127.0.0.1:11434/v1`. Default: `https://api.openai.com/v1`. */
  readonly baseURL?: string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
  /** Extra HTTP headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Extra fields merged into every request body (provider-specific parameters). */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
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
export const makeClient = (options: ClientOptions): OpenAI => {
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

const redacted = "<redacted>"

/** Removes every occurrence of the secret from a text. */
export const scrub = (text: string, secret: string | undefined): string =>
  secret === undefined || secret.length < 4 ? text : text.split(secret).join(redacted)

/** The error with the secret scrubbed from its detail (errors made from provider events echo what they were sent). */
export const scrubError = (error: InferenceError, secret: string | undefined): InferenceError => {
  const detail = scrub(error.detail, secret)
  return detail === error.detail ? error : inferenceError(error.reason, detail, {
    status: error.status,
    retryAfterMs: error.retryAfterMs,
    cause: error.cause === undefined ? undefined : sanitize(error.cause, secret)
  })
}

/** A copy of an error (and its causes) that holds only names and scrubbed messages. */
const sanitize = (error: unknown, secret: string | undefined, depth = 0): Error => {
  const source = error instanceof Error ? error : new Error(String(error))
  const copy = new Error(scrub(source.message, secret))
  copy.name = source.name
  if (source.stack !== undefined) copy.stack = scrub(source.stack, secret)
  if (depth < 3 && "cause" in source && source.cause !== undefined) {
    copy.cause = sanitize(source.cause, secret, depth + 1)
  }
  return copy
}

const reasonOfStatus = (status: number): InferenceRunner.ErrorReason => {
  if (status === 401 || status === 403) return "authentication"
  if (status === 429) return "rate_limit"
  if (status === 408) return "timeout"
  if (status >= 500) return "server"
  if (status >= 400) return "bad_request"
  return "other"
}

/** The reason behind a provider's error code (`rate_limit_exceeded`, `server_error`, `invalid_prompt`, 500 …). */
export const reasonOfCode = (code: unknown): InferenceRunner.ErrorReason => {
  if (typeof code === "number") return reasonOfStatus(code)
  if (typeof code !== "string") return "other"
  if (/^\d{3}$/.test(code)) return reasonOfStatus(Number(code))
  if (code.includes("rate_limit")) return "rate_limit"
  if (/auth|permission|api_key/.test(code)) return "authentication"
  if (/server|internal|overloaded|unavailable/.test(code)) return "server"
  if (/timeout|timed_out/.test(code)) return "timeout"
  if (/invalid|context_length|not_found|unsupported/.test(code)) return "bad_request"
  return "other"
}

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

/** The message an API error carries in its body, without the SDK's status prefix. */
const providerMessage = (error: InstanceType<typeof OpenAI.APIError>): string => {
  const body = error.error as { readonly message?: unknown } | undefined
  if (body !== undefined && body !== null && typeof body.message === "string" && body.message !== "") {
    return body.message
  }
  const status = error.status
  return status !== undefined && error.message.startsWith(`${status} `)
    ? error.message.slice(`${status} `.length)
    : error.message
}

/** The messages of an error and its causes, outermost first (`fetch failed: connect ECONNREFUSED …`). */
const causes = (error: unknown): string => {
  const messages: Array<string> = []
  let current = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.message !== "" && !messages.includes(current.message)) messages.push(current.message)
    current = current.cause
  }
  return messages.length === 0 ? "unknown error" : messages.join(": ")
}

/** Makes an inference error. */
export const inferenceError = (
  reason: InferenceRunner.ErrorReason,
  detail: string,
  extra?: { readonly status?: number | null; readonly retryAfterMs?: number | null; readonly cause?: unknown }
): InferenceError =>
  new InferenceRunner.InferenceError({
    reason,
    detail,
    status: extra?.status ?? null,
    retryAfterMs: extra?.retryAfterMs ?? null,
    ...(extra?.cause === undefined ? {} : { cause: extra.cause })
  })

/** A malformed-stream error. */
export const malformed = (detail: string): InferenceError => inferenceError("malformed_stream", detail)

/**
 * Translates whatever the SDK threw into an `InferenceError`. The secret is
 * scrubbed from the detail and from the (copied) cause.
 */
export const translateError = (error: unknown, secret: string | undefined, now: number): InferenceError => {
  if (error instanceof InferenceRunner.InferenceError) return error
  const cause = sanitize(error, secret)
  const make = (
    reason: InferenceRunner.ErrorReason,
    detail: string,
    extra?: { readonly status?: number | null; readonly retryAfterMs?: number | null }
  ) => inferenceError(reason, scrub(detail, secret), { ...extra, cause })
  if (error instanceof OpenAI.APIUserAbortError) return make("connection", "the request was aborted")
  if (error instanceof OpenAI.APIConnectionTimeoutError) return make("timeout", "the provider did not answer in time")
  if (error instanceof OpenAI.APIConnectionError) {
    return make("connection", `could not reach the provider: ${causes(error.cause)}`)
  }
  if (error instanceof OpenAI.APIError) {
    if (error.status === undefined) {
      // An error sent inside the event stream (`data: {"error": …}`).
      const code = error.code ?? error.type ?? (error.error as { readonly code?: unknown } | undefined)?.code
      return make(reasonOfCode(code), `the provider reported an error: ${providerMessage(error)}`)
    }
    return make(reasonOfStatus(error.status), providerMessage(error), {
      status: error.status,
      retryAfterMs: error.status === 429 || error.status >= 500 ? retryAfterOf(error.headers, now) : null
    })
  }
  if (error instanceof SyntaxError) {
    return make("malformed_stream", `the event stream held data that is not JSON (${error.message})`)
  }
  if (error instanceof OpenAI.OpenAIError) return make("malformed_stream", error.message)
  if (error instanceof Error) return make("connection", `the connection failed: ${causes(error)}`)
  return make("other", String(error))
}

// ---------------------------------------------------------------------------
// Decoding helpers
// ---------------------------------------------------------------------------

/** Decodes a provider payload, or explains what is wrong with it. */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, raw: unknown, what: string) =>
  Either.mapLeft(
    ParseResult.decodeUnknownEither(schema)(raw),
    (issue) => malformed(`invalid ${what}: ${ParseResult.TreeFormatter.formatIssueSync(issue)}`)
  )

/** What a decoder makes of one provider event. */
export interface Step {
  readonly events: ReadonlyArray<StreamEvent>
  /** The response ended (a terminal event): stop reading. */
  readonly done: boolean
}

/** Turns the provider's events of one response into stream events. */
export interface Decoder<Raw> {
  readonly push: (raw: Raw) => Either.Either<Step, InferenceError>
  /** The provider's stream ended: the last events, or an error if the response was cut short. */
  readonly end: () => Either.Either<ReadonlyArray<StreamEvent>, InferenceError>
}

// ---------------------------------------------------------------------------
// The abortable pull
// ---------------------------------------------------------------------------

/** How one inference attempt talks to the SDK. */
export interface Attempt<Raw> {
  /** Starts the request; the signal aborts it (and its body) when the stream's scope closes. */
  readonly open: (signal: AbortSignal) => PromiseLike<AsyncIterable<Raw>>
  readonly decoder: () => Decoder<Raw>
  readonly secret: string | undefined
  readonly idleTimeout: Duration.Duration | undefined
}

/**
 * One attempt as a stream. `Stream.fromAsyncIterable` cannot interrupt a
 * pending `next()`, so the request runs under an `AbortController` whose
 * `abort()` is a finalizer of the stream's own scope, and every `next()` is
 * awaited through `Effect.tryPromise`: interrupting the stream aborts the HTTP
 * request at once, even while the provider sends nothing.
 */
export const attempt = <Raw>(options: Attempt<Raw>): Stream.Stream<StreamEvent, InferenceError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (controller) => Effect.sync(() => controller.abort())
    )
    const call = <A>(thunk: () => PromiseLike<A>): Effect.Effect<A, InferenceError> => {
      const awaited = Effect.tryPromise({ try: () => Promise.resolve(thunk()), catch: (error) => error }).pipe(
        Effect.catchAll((error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(translateError(error, options.secret, now)))
        )
      )
      const timeout = options.idleTimeout
      return timeout === undefined ? awaited : Effect.timeoutFail(awaited, {
        duration: timeout,
        onTimeout: () =>
          inferenceError("timeout", `the provider sent nothing for ${Duration.format(timeout)}`)
      })
    }
    const iterable = yield* call(() => options.open(controller.signal))
    const iterator = iterable[Symbol.asyncIterator]()
    const decoder = options.decoder()
    const ended = yield* Ref.make(false)
    const fromEither = <A>(either: Either.Either<A, InferenceError>) =>
      Either.isLeft(either)
        ? Effect.fail(Option.some(scrubError(either.left, options.secret)))
        : Effect.succeed(either.right)
    const pull: Effect.Effect<Chunk.Chunk<StreamEvent>, Option.Option<InferenceError>> = Effect.flatMap(
      Ref.get(ended),
      (isEnded) =>
        isEnded ? Effect.fail(Option.none()) : call(() => iterator.next()).pipe(
          Effect.mapError(Option.some),
          Effect.flatMap((result) =>
            result.done === true
              ? Effect.zipRight(Ref.set(ended, true), Effect.map(fromEither(decoder.end()), Chunk.fromIterable))
              : Effect.flatMap(fromEither(decoder.push(result.value)), (step) =>
                Effect.as(step.done ? Ref.set(ended, true) : Effect.void, Chunk.fromIterable(step.events)))
          )
        )
    )
    return Stream.repeatEffectChunkOption(pull)
  }))

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

/**
 * Retries an inference on transient errors, only while it has emitted
 * nothing: once an event went downstream a retry would duplicate output, so
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
        Stream.tap(() => Ref.set(emitted, true)),
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

// ---------------------------------------------------------------------------
// Shared mapping
// ---------------------------------------------------------------------------

/** Token usage with every count defaulting to 0. */
export const usage = (counts: {
  readonly input: number | null | undefined
  readonly output: number | null | undefined
  readonly total: number | null | undefined
  readonly cached: number | null | undefined
  readonly reasoning: number | null | undefined
}): Event.Usage =>
  new Event.Usage({
    inputTokens: counts.input ?? 0,
    outputTokens: counts.output ?? 0,
    totalTokens: counts.total ?? (counts.input ?? 0) + (counts.output ?? 0),
    cachedInputTokens: counts.cached ?? 0,
    reasoningTokens: counts.reasoning ?? 0
  })

const optionKeys = ["model", "toolChoice", "parallelToolCalls", "maxOutputTokens", "temperature", "reasoningEffort"] as const

/** The layer's defaults under the request's options; an option left `undefined` never hides a default. */
export const mergeOptions = (
  defaults: InferenceRunner.Options,
  options: InferenceRunner.Options
): InferenceRunner.Options => {
  const merged: Record<string, unknown> = {}
  for (const key of optionKeys) {
    const value = options[key] ?? defaults[key]
    if (value !== undefined) merged[key] = value
  }
  return merged as InferenceRunner.Options
}

/** The client span of one provider request, with OpenTelemetry GenAI attributes. */
export const withClientSpan = (name: string, model: string, runId: string) =>
<A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.withSpan(stream, name, {
    kind: "client",
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.system": "openai",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": model,
      "chorus.run_id": runId
    }
  })
