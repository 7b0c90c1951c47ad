/**
 * @chorus/providers — `InferenceRunner` layers over the official `openai`
 * SDK: the Responses API, and Chat Completions for any OpenAI-compatible
 * server.
 *
 * @since 0.1.0
 */
export * as OpenAiChatCompletions from "./OpenAiChatCompletions.js"
export * as OpenAiResponses from "./OpenAiResponses.js"
