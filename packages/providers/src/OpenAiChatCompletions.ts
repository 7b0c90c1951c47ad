/**
 * An `InferenceRunner` over Chat Completions (`POST /chat/completions`,
 * streamed), for OpenAI and any OpenAI-compatible server: Ollama, vLLM,
 * llama.cpp, LM Studio, OpenRouter… The official `openai` SDK is the HTTP
 * client.
 *
 * Context items become chat messages: function calls become the assistant's
 * `tool_calls` (the calls of one turn in one message), outputs become `tool`
 * messages, reasoning items are not sent. The streamed answer becomes one
 * model message, function calls assembled by their `index`, and the
 * `reasoning_content`/`reasoning` deltas some servers send become a reasoning
 * item. Interrupting the stream aborts the HTTP request at once.
 *
 * @since 0.1.0
 */
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import type { Tool } from "@chorus/core"
import { Config, Duration, Effect, Either, Layer, Option, Random, Redacted, Schema, Stream } from "effect"
import type { ConfigError } from "effect"
import type OpenAI from "openai"
import * as Provider from "./internal/provider.js"

type InferenceError = InferenceRunner.InferenceError

/** Options of the Chat Completions runner: connection, behaviour, and request defaults (merged under each request's options). */
export interface Options extends InferenceRunner.Options, Provider.ClientOptions {
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
}

/** The options `layerConfig` takes: `apiKey` and `baseURL` come from `Config`, `model` may too. */
export interface ConfigOptions extends Omit<Options, "model"> {
  /** The model; default: the `OPENAI_MODEL` config. */
  readonly model?: string | undefined
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

type Message = Record<string, unknown>

interface AssistantMessage {
  readonly role: "assistant"
  content: string | null
  refusal?: string
  tool_calls?: Array<{
    readonly id: string
    readonly type: "function"
    readonly function: { readonly name: string; readonly arguments: string }
  }>
}

const textOf = (parts: ReadonlyArray<ContextItem.InputPart>): string =>
  parts.map((part) => (part._tag === "InputText" ? part.text : "[image omitted]")).join("")

const toMessages = (
  items: ReadonlyArray<ContextItem.ContextItem>,
  developerRole: "developer" | "system"
): Array<Message> => {
  const messages: Array<Message> = []
  // The assistant message the next function call joins: the calls of one turn share a message.
  let assistant: AssistantMessage | null = null
  for (const item of items) {
    switch (item._tag) {
      case "SystemMessage":
      case "DeveloperMessage":
        messages.push({
          role: item._tag === "SystemMessage" ? "system" : developerRole,
          content: item.content.map((part) => part.text).join("")
        })
        assistant = null
        break
      case "UserMessage":
        messages.push({
          role: "user",
          content: item.content.every((part) => part._tag === "InputText")
            ? textOf(item.content)
            : item.content.map((part) =>
              part._tag === "InputText"
                ? { type: "text", text: part.text }
                : { type: "image_url", image_url: { url: part.imageUrl, detail: part.detail } }
            )
        })
        assistant = null
        break
      case "ModelMessage": {
        const text = item.content.flatMap((part) => (part._tag === "OutputText" ? [part.text] : [])).join("")
        const refusal = item.content.flatMap((part) => (part._tag === "Refusal" ? [part.refusal] : [])).join("")
        // A message interrupted before its first token says nothing.
        if (text === "" && refusal === "") break
        const message: AssistantMessage = { role: "assistant", content: text === "" ? null : text }
        if (refusal !== "") message.refusal = refusal
        messages.push(message as unknown as Message)
        assistant = message
        break
      }
      case "Reasoning":
        // Chat Completions has no way to send reasoning back.
        break
      case "FunctionCall": {
        const call = {
          id: item.callId,
          type: "function" as const,
          function: { name: item.name, arguments: item.arguments }
        }
        if (assistant === null) {
          assistant = { role: "assistant", content: null, tool_calls: [call] }
          messages.push(assistant as unknown as Message)
        } else {
          assistant.tool_calls = [...(assistant.tool_calls ?? []), call]
        }
        break
      }
      case "FunctionCallOutput":
        messages.push({
          role: "tool",
          tool_call_id: item.callId,
          content: typeof item.output === "string" ? item.output : textOf(item.output)
        })
        assistant = null
        break
    }
  }
  return messages
}

const toTool = (tool: Tool.Definition) => ({
  type: "function",
  function: {
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
    strict: tool.strict
  }
})

const toToolChoice = (choice: NonNullable<InferenceRunner.Options["toolChoice"]>) =>
  typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } }

const toBody = (options: Options, request: InferenceRunner.Request): Record<string, unknown> => {
  const merged = Provider.mergeOptions(options, request.options)
  const hasTools = request.tools.length > 0
  return {
    model: merged.model ?? options.model,
    messages: toMessages(request.items, options.developerRole ?? "system"),
    ...(options.includeUsage === false ? {} : { stream_options: { include_usage: true } }),
    ...(hasTools ? { tools: request.tools.map(toTool) } : {}),
    ...(hasTools && merged.toolChoice !== undefined ? { tool_choice: toToolChoice(merged.toolChoice) } : {}),
    ...(hasTools && merged.parallelToolCalls !== undefined ? { parallel_tool_calls: merged.parallelToolCalls } : {}),
    ...(merged.maxOutputTokens === undefined
      ? {}
      : { [options.maxTokensField ?? "max_tokens"]: merged.maxOutputTokens }),
    ...(merged.temperature === undefined ? {} : { temperature: merged.temperature }),
    ...(merged.reasoningEffort === undefined ? {} : { reasoning_effort: merged.reasoningEffort }),
    ...options.extraBody,
    stream: true
  }
}

// ---------------------------------------------------------------------------
// Streamed chunks
// ---------------------------------------------------------------------------

const Text = Schema.optional(Schema.NullOr(Schema.String))
const Count = Schema.optional(Schema.NullOr(Schema.Number))

const ToolCallDelta = Schema.Struct({
  index: Schema.optional(Schema.Number),
  id: Text,
  function: Schema.optional(Schema.NullOr(Schema.Struct({ name: Text, arguments: Text })))
})

const Delta = Schema.Struct({
  content: Text,
  refusal: Text,
  reasoning_content: Text,
  reasoning: Text,
  tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCallDelta)))
})

const Choice = Schema.Struct({
  index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  delta: Schema.optional(Schema.NullOr(Delta)),
  finish_reason: Text
})

const WireUsage = Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  total_tokens: Count,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count })))
})

const ChatChunk = Schema.Struct({
  model: Text,
  choices: Schema.optional(Schema.NullOr(Schema.Array(Choice))),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})

/** `length` and `content_filter` cut the answer short; the other finish reasons end it normally. */
const incompleteReasonOf = (finishReason: string): string | null => {
  switch (finishReason) {
    case "stop":
    case "tool_calls":
    case "function_call":
    case "eos":
    case "end_turn":
      return null
    case "length":
      return "max_output_tokens"
    default:
      return finishReason
  }
}

type Open =
  | { readonly kind: "message"; readonly id: string; readonly parts: Array<{ readonly kind: "text" | "refusal"; text: string }> }
  | { readonly kind: "reasoning"; readonly id: string; text: string }
  | { readonly kind: "function_call"; readonly id: string; readonly callId: string; readonly name: string; args: string }

/** Makes the decoder of one Chat Completions stream; `base` makes its item ids unique. */
const decoder = (request: InferenceRunner.Request, requestedModel: string, base: string): Provider.Decoder<unknown> => {
  const author = request.agent
  // Open items in the order they were added; they are done in that order.
  const open = new Map<string, Open>()
  const calls = new Map<number, Open & { kind: "function_call" }>()
  let message: (Open & { kind: "message" }) | null = null
  let reasoning: (Open & { kind: "reasoning" }) | null = null
  let reasoningCount = 0
  let finishReason: string | null = null
  let usage: typeof WireUsage.Type | null = null
  let model: string | null = null

  const toItem = (state: Open, status: ContextItem.Status): ContextItem.ContextItem => {
    switch (state.kind) {
      case "message":
        return new ContextItem.ModelMessage({
          id: state.id,
          author,
          status,
          content: state.parts.map((part) =>
            part.kind === "text"
              ? new ContextItem.OutputText({ text: part.text })
              : new ContextItem.Refusal({ refusal: part.text })
          )
        })
      case "reasoning":
        return new ContextItem.Reasoning({
          id: state.id,
          author,
          status,
          summary: [],
          content: state.text === "" ? [] : [new ContextItem.ReasoningText({ text: state.text })],
          encryptedContent: null
        })
      case "function_call":
        return new ContextItem.FunctionCall({
          id: state.id,
          author,
          status,
          callId: state.callId,
          name: state.name,
          arguments: state.args
        })
    }
  }

  const add = (state: Open, events: Array<InferenceRunner.StreamEvent>) => {
    open.set(state.id, state)
    events.push(new Event.ItemAdded({ item: toItem(state, "in_progress"), runId: null }))
  }

  const done = (state: Open, status: ContextItem.Status, events: Array<InferenceRunner.StreamEvent>) => {
    open.delete(state.id)
    events.push(new Event.ItemDone({ item: toItem(state, status), runId: null }))
  }

  /** Reasoning comes before the answer: anything else closes it. */
  const closeReasoning = (events: Array<InferenceRunner.StreamEvent>) => {
    if (reasoning !== null) done(reasoning, "completed", events)
    reasoning = null
  }

  const messageDelta = (kind: "text" | "refusal", delta: string, events: Array<InferenceRunner.StreamEvent>) => {
    closeReasoning(events)
    if (message === null) {
      message = { kind: "message", id: `msg_${base}`, parts: [] }
      add(message, events)
    }
    let contentIndex = message.parts.findIndex((part) => part.kind === kind)
    if (contentIndex === -1) {
      contentIndex = message.parts.length
      message.parts.push({ kind, text: "" })
    }
    message.parts[contentIndex]!.text += delta
    const event = { itemId: message.id, contentIndex, delta }
    events.push(kind === "text" ? new Event.TextDelta(event) : new Event.RefusalDelta(event))
  }

  const push = (raw: unknown): Either.Either<Provider.Step, InferenceError> =>
    Either.flatMap(Provider.decode(ChatChunk, raw, "chat completion chunk"), (chunk) => {
      const events: Array<InferenceRunner.StreamEvent> = []
      if (typeof chunk.model === "string" && chunk.model !== "") model = chunk.model
      if (chunk.usage != null) usage = chunk.usage
      for (const choice of chunk.choices ?? []) {
        // Only the first choice is an answer; a request never asks for more.
        if (choice.index !== 0) continue
        const delta = choice.delta
        const thought = delta?.reasoning_content ?? delta?.reasoning
        if (typeof thought === "string" && thought !== "") {
          if (reasoning === null) {
            reasoning = { kind: "reasoning", id: `rs_${base}_${reasoningCount++}`, text: "" }
            add(reasoning, events)
          }
          reasoning.text += thought
          events.push(new Event.ReasoningDelta({ itemId: reasoning.id, contentIndex: 0, delta: thought }))
        }
        if (typeof delta?.content === "string" && delta.content !== "") messageDelta("text", delta.content, events)
        if (typeof delta?.refusal === "string" && delta.refusal !== "") messageDelta("refusal", delta.refusal, events)
        const toolCalls = delta?.tool_calls ?? []
        for (let position = 0; position < toolCalls.length; position++) {
          const call = toolCalls[position]!
          const index = call.index ?? position
          closeReasoning(events)
          let state = calls.get(index)
          if (state === undefined) {
            const name = call.function?.name
            if (typeof name !== "string" || name === "") {
              return Either.left(Provider.malformed(`tool call ${index} started without a function name`))
            }
            state = {
              kind: "function_call",
              id: `fc_${base}_${index}`,
              callId: call.id ?? `call_${base}_${index}`,
              name,
              args: ""
            }
            calls.set(index, state)
            add(state, events)
          }
          const args = call.function?.arguments
          if (typeof args === "string" && args !== "") {
            state.args += args
            events.push(new Event.FunctionCallArgumentsDelta({ itemId: state.id, delta: args }))
          }
        }
        if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") finishReason = choice.finish_reason
      }
      return Either.right({ events, done: false })
    })

  const end = (): Either.Either<ReadonlyArray<InferenceRunner.StreamEvent>, InferenceError> => {
    if (finishReason === null) {
      return Either.left(Provider.malformed("the event stream ended before the answer's finish reason"))
    }
    const incompleteReason = incompleteReasonOf(finishReason)
    const events: Array<InferenceRunner.StreamEvent> = []
    for (const state of [...open.values()]) done(state, incompleteReason === null ? "completed" : "incomplete", events)
    events.push(
      new InferenceRunner.Finished({
        usage: Provider.usage({
          input: usage?.prompt_tokens,
          output: usage?.completion_tokens,
          total: usage?.total_tokens,
          cached: usage?.prompt_tokens_details?.cached_tokens,
          reasoning: usage?.completion_tokens_details?.reasoning_tokens
        }),
        incompleteReason,
        model: model ?? requestedModel
      })
    )
    return Either.right(events)
  }

  return { push, end }
}

/** A random base for the item ids of one response (`msg_<base>`, `fc_<base>_0` …). */
const idBase = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0x7fffffff), Random.nextIntBetween(0, 0x7fffffff)]),
  ([a, b]) => `${a.toString(36)}${b.toString(36)}`
)

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Makes the Chat Completions runner.
 *
 * @example
 * import { OpenAiChatCompletions } from "@chorus/providers"
 *
 * // A local Ollama server: no API key needed.
 * const runner = OpenAiChatCompletions.make({ baseURL: "http://127.0.0.1:11434/v1", model: "qwen3:8b" })
 */
export const make = (options: Options): Effect.Effect<InferenceRunner.Service> =>
  Effect.sync(() => {
    const client = Provider.makeClient(options)
    const secret = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)
    const idleTimeout = Duration.decode(options.idleTimeout ?? "10 minutes")
    const policy = options.retry ?? Provider.defaultRetry
    const stream = (request: InferenceRunner.Request): Stream.Stream<InferenceRunner.StreamEvent, InferenceError> => {
      const body = toBody(options, request)
      const model = typeof body.model === "string" ? body.model : options.model
      const attempt = Stream.unwrap(Effect.map(idBase, (base) =>
        Provider.attempt<unknown>({
          open: (signal) =>
            client.chat.completions.create(
              body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming,
              { signal }
            ),
          decoder: () => decoder(request, model, base),
          secret,
          idleTimeout
        })))
      return Provider.retrying(attempt, policy).pipe(Provider.withClientSpan("OpenAiChatCompletions.stream", model, request.runId))
    }
    return { model: options.model, stream }
  })

/** The Chat Completions runner as a layer. */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner> =>
  Layer.effect(InferenceRunner.InferenceRunner, make(options))

/**
 * The Chat Completions runner configured from `Config`: `OPENAI_API_KEY`
 * (redacted, optional: local servers need none), `OPENAI_BASE_URL`
 * (optional) and, unless `options.model` is given, `OPENAI_MODEL`. Values
 * given in `options` win over the config.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<InferenceRunner.InferenceRunner, ConfigError.ConfigError> =>
  Layer.effect(
    InferenceRunner.InferenceRunner,
    Effect.gen(function*() {
      const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
      const baseURL = yield* Config.option(Config.string("OPENAI_BASE_URL"))
      const model = options.model ?? (yield* Config.string("OPENAI_MODEL"))
      return yield* make({
        ...options,
        model,
        ...(options.apiKey === undefined && Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
        ...(options.baseURL === undefined && Option.isSome(baseURL) ? { baseURL: baseURL.value } : {})
      })
    })
  )
