/**
 * @chorus/server — an environment over HTTP: OpenResponses SSE, the AI SDK UI
 * message stream (`useChat`), an OpenResponses-compatible `/v1/responses`, and
 * message / interrupt / approval / clarification endpoints.
 *
 * @since 0.1.0
 */
export * as Conversations from "./Conversations.js"
export * as Routes from "./Routes.js"
