/**
 * The OpenAI transport: one service owning the official `openai` SDK client,
 * its configuration, retries and the translation of SDK errors into
 * `InferenceError`s (with the provider's error code kept and the API key
 * scrubbed). The Responses and Chat Completions runners are built on it and
 * only map requests and events.
 *
 * @example
 * import { Layer, Redacted } from "effect"
 * import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
 *
 * const Inference = OpenAiResponses.layer({ model: "gpt-5-mini" }).pipe(
 *   Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("sk-...") }))
 * )
 *
 * @since 0.1.0
 */
import type { InferenceRunner } from "@chorus/core"
import { Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import type { ConfigError, Schedule, Stream } from "effect"
import type OpenAI from "openai"
import * as internal from "./internal/openAiClient.js"

/** Connection and behaviour options: key, base URL, headers, retry policy, idle timeout. */
export type Options = internal.Options

/** A decoder of one response's events into parts (fresh for each attempt). */
export type Decoder<Raw, A> = internal.Decoder<Raw, A>

/** One streamed request: how to open it with the SDK, and how to decode its events. */
export type Request<Raw, A> = internal.Request<Raw, A>

/** The service. */
export interface Service {
  /** The SDK client (its own retries are off). */
  readonly sdk: OpenAI
  /**
   * Streams one request: aborted at once on interruption, failed with a `timeout` after the idle
   * timeout, retried on transient errors while nothing was emitted, every error an `InferenceError`.
   */
  readonly stream: <Raw, A>(request: Request<Raw, A>) => Stream.Stream<A, InferenceRunner.InferenceError>
}

/** The OpenAI client tag. */
export class OpenAiClient extends Context.Tag("@chorus/providers/OpenAiClient")<OpenAiClient, Service>() {}

/** The default retry policy: up to 3 retries, 0.5 s, 1 s, 2 s apart (or the provider's `retry-after`). */
export const defaultRetry: Schedule.Schedule<unknown, InferenceRunner.InferenceError> = internal.defaultRetry

/** Translates what the SDK threw into an `InferenceError` (exported for providers built on the SDK). */
export const fromSdkError: (error: unknown, secret: string | undefined, now: number) => InferenceRunner.InferenceError =
  internal.fromSdkError

/** Makes the client. */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const sdk = internal.makeSdk(options)
    const settings = {
      sdk,
      secret: options.apiKey === undefined ? undefined : Redacted.value(options.apiKey),
      idleTimeout: Duration.decode(options.idleTimeout ?? "10 minutes")
    }
    return { sdk, stream: internal.streamOf(settings, options.retry ?? internal.defaultRetry) }
  })

/** The client as a layer. */
export const layer = (options: Options = {}): Layer.Layer<OpenAiClient> => Layer.effect(OpenAiClient, make(options))

/**
 * The client configured from `Config`: `OPENAI_API_KEY` (redacted; required unless `apiKeyRequired`
 * is `false`, for local servers that need none) and `OPENAI_BASE_URL` (optional). Values given in
 * `options` win over the config.
 */
export const layerConfig = (
  options: Options & { readonly apiKeyRequired?: boolean | undefined } = {}
): Layer.Layer<OpenAiClient, ConfigError.ConfigError> =>
  Layer.effect(
    OpenAiClient,
    Effect.gen(function*() {
      const key = Config.redacted("OPENAI_API_KEY")
      const apiKey = options.apiKey !== undefined
        ? Option.some(options.apiKey)
        : options.apiKeyRequired === false
        ? yield* Config.option(key)
        : Option.some(yield* key)
      const baseURL = options.baseURL !== undefined
        ? Option.some(options.baseURL)
        : yield* Config.option(Config.string("OPENAI_BASE_URL"))
      const { apiKeyRequired: _, ...rest } = options
      return yield* make({
        ...rest,
        ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
        ...(Option.isSome(baseURL) ? { baseURL: baseURL.value } : {})
      })
    })
  )
