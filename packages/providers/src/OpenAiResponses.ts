/**
 * An `InferenceRunner` over the OpenAI Responses API (`POST /responses`,
 * streamed), on the {@link OpenAiClient} transport.
 *
 * Context items are sent in their OpenResponses wire shape (`ContextItem`'s
 * codec); reasoning is requested with its encrypted content and sent back
 * with it (`store: false` by default), so multi-turn reasoning works without
 * server-side state. Streamed events become provider-neutral parts; core
 * assembles them into items. Unknown events are ignored. Interrupting the
 * stream aborts the HTTP request at once.
 *
 * @since 0.1.0
 */
import { InferenceRunner } from "@chorus/core"
import { Config, Effect, Layer } from "effect"
import type { ConfigError, Stream } from "effect"
import type OpenAI from "openai"
import * as Responses from "./internal/responses.js"
import * as Shared from "./internal/openAiShared.js"
import * as OpenAiClient from "./OpenAiClient.js"

/** Request defaults of the Responses runner (merged under each request's options). */
export interface Options extends InferenceRunner.Options {
  /** The model used when a request names none. */
  readonly model: string
  /**
   * Let the provider store responses. Default `false`: nothing is kept on
   * the provider, reasoning travels back as encrypted content, and item ids
   * are not sent.
   */
  readonly store?: boolean | undefined
  /** Ask for reasoning summaries (`reasoning.summary`). */
  readonly reasoningSummary?: "auto" | "concise" | "detailed" | undefined
  /** The `include` list. Default: `["reasoning.encrypted_content"]` when `store` is off. */
  readonly include?: ReadonlyArray<string> | undefined
  /** Extra fields merged into every request body (provider-specific parameters). */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

/** The options `layerConfig` takes: the client's from `Config` (see {@link OpenAiClient.layerConfig}), `model` may be too. */
export interface ConfigOptions extends Omit<Options, "model">, OpenAiClient.Options {
  /** The model; default: the `OPENAI_MODEL` config. */
  readonly model?: string | undefined
}

/**
 * Makes the Responses runner on the {@link OpenAiClient.OpenAiClient} in context.
 *
 * @example
 * import { Effect, Redacted } from "effect"
 * import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
 *
 * const runner = OpenAiResponses.make({ model: "gpt-5-mini" }).pipe(
 *   Effect.provide(OpenAiClient.layer({ apiKey: Redacted.make("sk-...") }))
 * )
 */
export const make = (options: Options): Effect.Effect<InferenceRunner.Service, never, OpenAiClient.OpenAiClient> =>
  Effect.map(OpenAiClient.OpenAiClient, (client) => {
    const stream = (request: InferenceRunner.Request): Stream.Stream<InferenceRunner.Part, InferenceRunner.InferenceError> => {
      const body = Responses.toBody(options, request)
      const model = typeof body.model === "string" ? body.model : options.model
      return client.stream({
        open: (sdk, signal) =>
          sdk.responses.create(body as unknown as OpenAI.Responses.ResponseCreateParamsStreaming, { signal }),
        decoder: () => Responses.decoder(model)
      }).pipe(Shared.instrument({ name: "OpenAiResponses.stream", provider: "openai", model, runId: request.runId }))
    }
    return { model: options.model, stream }
  })

/** The Responses runner as a layer, on the {@link OpenAiClient.OpenAiClient} in context. */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner, never, OpenAiClient.OpenAiClient> =>
  Layer.effect(InferenceRunner.InferenceRunner, make(options))

/**
 * The Responses runner with its own client, configured from `Config`:
 * `OPENAI_API_KEY` (redacted, required), `OPENAI_BASE_URL` (optional) and,
 * unless `options.model` is given, `OPENAI_MODEL`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<InferenceRunner.InferenceRunner, ConfigError.ConfigError> => {
  const { apiKey, baseURL, organization, project, headers, retry, idleTimeout, ...rest } = options
  const client = OpenAiClient.layerConfig({ apiKey, baseURL, organization, project, headers, retry, idleTimeout })
  return Layer.unwrapEffect(
    Effect.map(
      options.model === undefined ? Config.string("OPENAI_MODEL") : Effect.succeed(options.model),
      (model) => layer({ ...rest, model })
    )
  ).pipe(Layer.provide(client))
}
