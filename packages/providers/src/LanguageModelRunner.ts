/**
 * An `InferenceRunner` from any `@effect/ai` `LanguageModel` (Effect 3 line):
 * `@effect/ai-openai`, `@effect/ai-anthropic`, `@effect/ai-google`,
 * `@effect/ai-amazon-bedrock`, `@effect/ai-openrouter`…
 *
 * Chorus keeps tool execution, approvals and the journal: the model is given
 * the tools' definitions and asked not to resolve calls itself
 * (`disableToolCallResolution`). Context items become a `Prompt`; the model's
 * stream parts become provider-neutral parts (core assembles the items);
 * interrupting the stream interrupts the model's request.
 *
 * @example
 * import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { LanguageModelRunner } from "@chorus/providers"
 *
 * const Inference = LanguageModelRunner.layer({ model: "claude-sonnet-4-5", provider: "anthropic" }).pipe(
 *   Layer.provide(AnthropicLanguageModel.layer({ model: "claude-sonnet-4-5" })),
 *   Layer.provide(AnthropicClient.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * @since 0.1.0
 */
import { InferenceRunner } from "@chorus/core"
import { LanguageModel } from "@effect/ai"
import type { AiError, Response, Tool } from "@effect/ai"
import { Chunk, Effect, Either, Layer, ParseResult, Random, Redacted, Stream } from "effect"
import * as Errors from "./internal/inferenceError.js"
import * as Bridge from "./internal/languageModel.js"
import * as Shared from "./internal/openAiShared.js"

/** Options of the bridge. */
export interface Options {
  /** The model's name, for telemetry and `Finished` when the provider names none. */
  readonly model: string
  /** `gen_ai.provider.name` in telemetry (`anthropic`, `openai`, `gcp.gemini` …). Default `"effect-ai"`. */
  readonly provider?: string | undefined
  /**
   * Secrets a provider may echo back in an error (its API key): scrubbed from every `InferenceError`.
   * The bridge cannot read them from the `@effect/ai` client, so give them here.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

const toolChoiceOf = (choice: InferenceRunner.Options["toolChoice"]) =>
  choice === undefined ? undefined : typeof choice === "string" ? choice : { tool: choice.name }

const idBase = Effect.map(Random.nextIntBetween(0, 0x7fffffff), (n) => `ai_${n.toString(36)}`)

/** Makes the runner on the `LanguageModel` in context. */
export const make = (options: Options): Effect.Effect<InferenceRunner.Service, never, LanguageModel.LanguageModel> =>
  Effect.map(Effect.context<LanguageModel.LanguageModel>(), (context) => {
    const secrets = (options.secrets ?? []).map(Redacted.value)
    const scrub = (error: InferenceRunner.InferenceError) =>
      secrets.reduce((scrubbed, secret) => Errors.scrubbed(scrubbed, secret), error)
    const stream = (request: InferenceRunner.Request): Stream.Stream<InferenceRunner.Part, InferenceRunner.InferenceError> => {
      const tools: Record<string, Tool.Any> = {}
      for (const definition of request.tools) tools[definition.name] = Bridge.toTool(definition)
      const toolkit = {
        tools,
        // Never called: the bridge asks the model not to resolve tool calls, Chorus runs them.
        handle: () => Effect.dieMessage("the @effect/ai bridge does not resolve tool calls")
      }
      const toolChoice = toolChoiceOf(request.options.toolChoice)
      const model = request.options.model ?? options.model
      return Stream.unwrap(Effect.map(idBase, (base) => {
        const mapper = Bridge.mapper(model, base)
        const parts = LanguageModel.streamText({
          prompt: Bridge.toPrompt(request.items),
          ...(request.tools.length === 0 ? {} : { toolkit, ...(toolChoice === undefined ? {} : { toolChoice }) }),
          disableToolCallResolution: true
        } as LanguageModel.GenerateTextOptions<Record<string, Tool.Any>>) as Stream.Stream<
          Response.StreamPart<Record<string, Tool.Any>>,
          AiError.AiError | ParseResult.ParseError,
          LanguageModel.LanguageModel
        >
        return parts.pipe(
          Stream.mapError((error) =>
            scrub(
              ParseResult.isParseError(error)
                ? Errors.malformed(`the model's stream did not decode: ${error.message}`)
                : Bridge.fromAiError(error)
            )
          ),
          Stream.mapChunksEffect((chunk) => {
            const out: Array<InferenceRunner.Part> = []
            for (const part of chunk) {
              const error = mapper.mapInto(part, out)
              if (error !== null) return Effect.fail(scrub(error))
            }
            return Effect.succeed(Chunk.unsafeFromArray(out))
          }),
          Stream.concat(Stream.suspend(() => {
            const ended = mapper.end()
            return Either.isLeft(ended) ? Stream.fail(scrub(ended.left)) : Stream.fromIterable(ended.right)
          })),
          Stream.provideContext(context)
        )
      })).pipe(
        Shared.instrument({
          name: "LanguageModelRunner.stream",
          provider: options.provider ?? "effect-ai",
          model,
          runId: request.runId
        })
      )
    }
    return { model: options.model, stream }
  })

/** The runner as a layer, on the `LanguageModel` in context. */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner, never, LanguageModel.LanguageModel> =>
  Layer.effect(InferenceRunner.InferenceRunner, make(options))
