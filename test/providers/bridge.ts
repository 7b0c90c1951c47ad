/** The @effect/ai bridge on @effect/ai-anthropic and @effect/ai-openai, against a local server. */
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient as EffectOpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { NodeHttpClient } from "@effect/platform-node"
import { Layer, Redacted } from "effect"
import { LanguageModelRunner } from "@chorus/providers"
import { apiKey } from "./helpers.js"

export const anthropicLayer = (baseURL: string) =>
  LanguageModelRunner.layer({ model: "claude-sonnet-4-5", provider: "anthropic", secrets: [Redacted.make(apiKey)] }).pipe(
    Layer.provide(AnthropicLanguageModel.layer({ model: "claude-sonnet-4-5" })),
    Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: baseURL.replace(/\/v1$/, "") })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

export const openaiLayer = (baseURL: string) =>
  LanguageModelRunner.layer({ model: "gpt-5-mini", provider: "openai" }).pipe(
    Layer.provide(OpenAiLanguageModel.layer({ model: "gpt-5-mini" })),
    Layer.provide(EffectOpenAiClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: baseURL })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

