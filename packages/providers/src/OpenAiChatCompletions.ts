/**
 * An `InferenceRunner` over Chat Completions (`POST /chat/completions`,
 * streamed), for OpenAI and any OpenAI-compatible server: Ollama, vLLM,
 * llama.cpp, LM Studio, OpenRouter… on the {@link OpenAiClient} transport.
 *
 * Context items become chat messages: function calls become the assistant's
 * `tool_calls` (the calls of one turn in one message), outputs become `tool`
 * messages, reasoning items are not sent, an answer that was cut off says so.
 * Streamed chunks become provider-neutral parts: the answer one message,
 * function calls by their `index` (a new id at an occupied index is a new
 * call), the `reasoning_content`/`reasoning` deltas some servers send a
 * reasoning item. Interrupting the stream aborts the HTTP request at once.
 *
 * @since 0.1.0
 */
import { InferenceRunner } from "@chorus/core"
import { Config, Effect, Layer, Random, Stream } from "effect"
import type { ConfigError } from "effect"
import type OpenAI from "openai"
import * as Chat from "./internal/chatCompletions.js"
import * as Shared from "./internal/openAiShared.js"
import * as OpenAiClient from "./OpenAiClient.js"

/** Request defaults of the Chat Completions runner (merged under each request's options). */
export interface Options extends InferenceRunner.Options {
  /** The model used when a request names none. */
  readonly model: string
  /** The role developer messages are sent with. Default `"system"`, which every server understands. */
  readonly developerRole?: "developer" | "system" | undefined
  /**
   * The body field that carries `maxOutputTokens`. Default `"max_tokens"`,
   * which compatible servers understand; OpenAI reasoning models want
   * `"max_completion_tokens"`.
   */
  readonly maxTokensField?: "max_tokens" | "max_completion_tokens" | undefined
  /** Ask for usage in the stream (`stream_options.include_usage`). Default `true`. */
  readonly includeUsage?: boolean | undefined
  /** Extra fields merged into every request body (provider-specific parameters). */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

/** The options `layerConfig` takes: the client's from `Config` (the key optional), `model` may be too. */
export interface ConfigOptions extends Omit<Options, "model">, OpenAiClient.Options {
  /** The model; default: the `OPENAI_MODEL` config. */
  readonly model?: string | undefined
}

/** A random base for the item ids of one response (`msg_<base>`, `fc_<base>_0` …). */
const idBase = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0x7fffffff), Random.nextIntBetween(0, 0x7fffffff)]),
  ([a, b]) => `${a.toString(36)}${b.toString(36)}`
)

/**
 * Makes the Chat Completions runner on the {@link OpenAiClient.OpenAiClient} in context.
 *
 * @example
 * import { Effect } from "effect"
 * import { OpenAiChatCompletions, OpenAiClient } from "@chorus/providers"
 *
 * // A local Ollama server: no API key needed.
 * const runner = OpenAiChatCompletions.make({ model: "qwen3:8b" }).pipe(
 *   Effect.provide(OpenAiClient.layer({ baseURL: "http://127.0.0.1:11434/v1" }))
 * )
 */
export const make = (options: Options): Effect.Effect<InferenceRunner.Service, never, OpenAiClient.OpenAiClient> =>
  Effect.map(OpenAiClient.OpenAiClient, (client) => {
    const stream = (request: InferenceRunner.Request): Stream.Stream<InferenceRunner.Part, InferenceRunner.InferenceError> => {
      const body = Chat.toBody(options, request)
      const model = typeof body.model === "string" ? body.model : options.model
      return Stream.unwrap(Effect.map(idBase, (base) =>
        client.stream({
          open: (sdk, signal) =>
            sdk.chat.completions.create(
              body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming,
              { signal }
            ),
          decoder: () => Chat.decoder(model, base)
        }))).pipe(
          Shared.instrument({ name: "OpenAiChatCompletions.stream", provider: "openai", model, runId: request.runId })
        )
    }
    return { model: options.model, stream }
  })

/** The Chat Completions runner as a layer, on the {@link OpenAiClient.OpenAiClient} in context. */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner, never, OpenAiClient.OpenAiClient> =>
  Layer.effect(InferenceRunner.InferenceRunner, make(options))

/**
 * The Chat Completions runner with its own client, configured from `Config`:
 * `OPENAI_API_KEY` (redacted, optional: local servers need none),
 * `OPENAI_BASE_URL` (optional) and, unless `options.model` is given,
 * `OPENAI_MODEL`. Values given in `options` win over the config.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<InferenceRunner.InferenceRunner, ConfigError.ConfigError> => {
  const { apiKey, baseURL, organization, project, headers, retry, idleTimeout, ...rest } = options
  const client = OpenAiClient.layerConfig({
    apiKey,
    baseURL,
    organization,
    project,
    headers,
    retry,
    idleTimeout,
    apiKeyRequired: false
  })
  return Layer.unwrapEffect(
    Effect.map(
      options.model === undefined ? Config.string("OPENAI_MODEL") : Effect.succeed(options.model),
      (model) => layer({ ...rest, model })
    )
  ).pipe(Layer.provide(client))
}
