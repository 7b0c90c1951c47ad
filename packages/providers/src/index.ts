/**
 * @chorus/providers — `InferenceRunner` layers: the OpenAI Responses API and
 * Chat Completions (any OpenAI-compatible server) over one `OpenAiClient`,
 * any `@effect/ai` `LanguageModel` through a bridge, and the OpenTelemetry
 * export of Chorus's spans and GenAI metrics.
 *
 * @since 0.1.0
 */
export * as OpenAiChatCompletions from "./OpenAiChatCompletions.js"
export * as OpenAiClient from "./OpenAiClient.js"
export * as OpenAiResponses from "./OpenAiResponses.js"
export * as LanguageModelRunner from "./LanguageModelRunner.js"
export * as Telemetry from "./Telemetry.js"
