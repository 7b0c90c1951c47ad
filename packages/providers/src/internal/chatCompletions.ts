/**
 * The Chat Completions mapping: context items → chat messages, and streamed
 * chunks → provider-neutral parts. Chat Completions has no item ids, so this
 * module names the items and decides where one ends: reasoning ends when
 * anything else starts; a function call ends when another call takes its
 * `index` (a new id at an occupied index is a new call — some compatible
 * servers number every call 0); everything ends with the stream.
 *
 * @internal
 */
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import type { Tool } from "@chorus/core"
import { Either, Schema } from "effect"
import * as Errors from "./inferenceError.js"
import type { Decoder } from "./openAiClient.js"
import { decode } from "./openAiClient.js"
import * as Shared from "./openAiShared.js"

type InferenceError = InferenceRunner.InferenceError
type Part = InferenceRunner.Part

/** Request settings of the Chat Completions runner. */
export interface Settings extends InferenceRunner.Options {
  readonly model: string
  readonly developerRole?: "developer" | "system" | undefined
  readonly maxTokensField?: "max_tokens" | "max_completion_tokens" | undefined
  readonly includeUsage?: boolean | undefined
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

type Message = Record<string, unknown>

interface ToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

/** Said after an answer that was cut off, so the model does not take it for its finished words. */
export const cutOffNote = "[this answer was cut off before it was finished]"

const textOf = (parts: ReadonlyArray<ContextItem.InputPart>): string =>
  parts.map((part) => (part._tag === "InputText" ? part.text : "[image omitted]")).join("")

const userContent = (parts: ReadonlyArray<ContextItem.InputPart>) =>
  parts.every((part) => part._tag === "InputText")
    ? textOf(parts)
    : parts.map((part) =>
      part._tag === "InputText"
        ? { type: "text", text: part.text }
        : { type: "image_url", image_url: { url: part.imageUrl, detail: part.detail } }
    )

/** The chat messages of a context: the function calls of one turn join the assistant message before them. */
export const toMessages = (
  items: ReadonlyArray<ContextItem.ContextItem>,
  developerRole: "developer" | "system"
): Array<Message> => {
  const messages: Array<Message> = []
  let calls: Array<ToolCall> | null = null
  for (const item of items) {
    if (item._tag === "FunctionCall") {
      const call: ToolCall = { id: item.callId, type: "function", function: { name: item.name, arguments: item.arguments } }
      if (calls === null) {
        calls = [call]
        messages.push({ role: "assistant", content: null, tool_calls: calls })
      } else calls.push(call)
      continue
    }
    if (item._tag === "Reasoning") continue // Chat Completions has no way to send reasoning back.
    calls = null
    switch (item._tag) {
      case "SystemMessage":
      case "DeveloperMessage":
        messages.push({ role: item._tag === "SystemMessage" ? "system" : developerRole, content: textOf(item.content) })
        break
      case "UserMessage":
        messages.push({ role: "user", content: userContent(item.content) })
        break
      case "ModelMessage": {
        const text = item.content.flatMap((part) => (part._tag === "OutputText" ? [part.text] : [])).join("")
        const refusal = item.content.flatMap((part) => (part._tag === "Refusal" ? [part.refusal] : [])).join("")
        // A message interrupted before its first token says nothing.
        if (text === "" && refusal === "") break
        const content = text === "" ? null : item.status === "incomplete" ? `${text}\n${cutOffNote}` : text
        calls = []
        messages.push({ role: "assistant", content, ...(refusal === "" ? {} : { refusal }), tool_calls: calls })
        break
      }
      case "FunctionCallOutput":
        messages.push({
          role: "tool",
          tool_call_id: item.callId,
          content: typeof item.output === "string" ? item.output : textOf(item.output)
        })
        break
    }
  }
  // An assistant message that no call joined carries no `tool_calls`.
  for (const message of messages) {
    if (Array.isArray(message.tool_calls) && message.tool_calls.length === 0) delete message.tool_calls
  }
  return messages
}

const toTool = (tool: Tool.Definition) => ({
  type: "function",
  function: { name: tool.name, description: tool.description, parameters: tool.parameters, strict: tool.strict }
})

const toToolChoice = (choice: NonNullable<InferenceRunner.Options["toolChoice"]>) =>
  typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } }

/** The request body, with the layer's defaults under the request's options. */
export const toBody = (settings: Settings, request: InferenceRunner.Request): Record<string, unknown> => {
  const merged = Shared.mergeOptions(settings, request.options)
  const hasTools = request.tools.length > 0
  return {
    model: merged.model ?? settings.model,
    messages: toMessages(request.items, settings.developerRole ?? "system"),
    ...(settings.includeUsage === false ? {} : { stream_options: { include_usage: true } }),
    ...(hasTools ? { tools: request.tools.map(toTool) } : {}),
    ...(hasTools && merged.toolChoice !== undefined ? { tool_choice: toToolChoice(merged.toolChoice) } : {}),
    ...(hasTools && merged.parallelToolCalls !== undefined ? { parallel_tool_calls: merged.parallelToolCalls } : {}),
    ...(merged.maxOutputTokens === undefined
      ? {}
      : { [settings.maxTokensField ?? "max_tokens"]: merged.maxOutputTokens }),
    ...(merged.temperature === undefined ? {} : { temperature: merged.temperature }),
    ...(merged.reasoningEffort === undefined ? {} : { reasoning_effort: merged.reasoningEffort }),
    ...settings.extraBody,
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

/**
 * The chunk a streamed answer is mostly made of — one choice, at index 0, with text content and nothing else the
 * schema reads (no refusal, reasoning, tool calls, finish reason or usage) — checked by hand: the same result as
 * `ChatChunk` at a fraction of the cost per chunk. Anything else (`null`) goes through the schema.
 */
const plainText = (raw: unknown): { readonly model: string | null; readonly content: string } | null => {
  if (typeof raw !== "object" || raw === null) return null
  const chunk = raw as { readonly model?: unknown; readonly choices?: unknown; readonly usage?: unknown }
  if (chunk.usage != null || (chunk.model != null && typeof chunk.model !== "string")) return null
  if (!Array.isArray(chunk.choices) || chunk.choices.length !== 1) return null
  const choice: unknown = chunk.choices[0]
  if (typeof choice !== "object" || choice === null) return null
  const { delta, finish_reason, index } = choice as { readonly delta?: unknown; readonly finish_reason?: unknown; readonly index?: unknown }
  if ((index !== undefined && index !== 0) || finish_reason != null) return null
  if (typeof delta !== "object" || delta === null) return null
  const fields = delta as Record<string, unknown>
  if (typeof fields.content !== "string") return null
  if (fields.refusal != null || fields.reasoning_content != null || fields.reasoning != null || fields.tool_calls != null) {
    return null
  }
  return { model: typeof chunk.model === "string" ? chunk.model : null, content: fields.content }
}

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

/** An open item: what it takes to end it. */
type Opened =
  | { readonly kind: "message"; readonly parts: Array<"text" | "refusal"> }
  | { readonly kind: "reasoning" }
  | { readonly kind: "function_call"; readonly callId: string; readonly name: string }

/** A final item that only says "cut short": core keeps what the deltas built. */
const incompleteOf = (id: string, open: Opened): ContextItem.ContextItem => {
  const common = { id, author: "", status: "incomplete" as const }
  switch (open.kind) {
    case "message":
      return new ContextItem.ModelMessage({ ...common, content: [] }, true)
    case "reasoning":
      return new ContextItem.Reasoning({ ...common, summary: [], content: [], encryptedContent: null }, true)
    case "function_call":
      return new ContextItem.FunctionCall({ ...common, callId: open.callId, name: open.name, arguments: "" }, true)
  }
}

/** Makes the decoder of one Chat Completions stream; `base` makes its item ids unique. */
export const decoder = (requestedModel: string, base: string): Decoder<unknown, Part> => {
  // Open items in the order they started; the stream's end closes them in that order.
  const open = new Map<string, Opened>()
  const callAt = new Map<number, { readonly itemId: string; readonly callId: string }>()
  let message: string | null = null
  let reasoning: string | null = null
  let count = 0
  let finishReason: string | null = null
  let usage: typeof WireUsage.Type | null = null
  let model: string | null = null

  const start = (itemId: string, opened: Opened, out: Array<Part>) => {
    open.set(itemId, opened)
    out.push(
      new InferenceRunner.ItemStart({
        itemId,
        kind: opened.kind,
        callId: opened.kind === "function_call" ? opened.callId : null,
        name: opened.kind === "function_call" ? opened.name : null
      })
    )
  }

  const end = (itemId: string, out: Array<Part>) => {
    if (open.delete(itemId)) out.push(new InferenceRunner.ItemEnd({ itemId, final: null }))
  }

  /** Reasoning comes before the answer: anything else ends it. */
  const endReasoning = (out: Array<Part>) => {
    if (reasoning !== null) end(reasoning, out)
    reasoning = null
  }

  const messageDelta = (kind: "text" | "refusal", delta: string, out: Array<Part>) => {
    endReasoning(out)
    if (message === null) {
      message = `msg_${base}`
      start(message, { kind: "message", parts: [] }, out)
    }
    const parts = (open.get(message) as Extract<Opened, { kind: "message" }>).parts
    let contentIndex = parts.indexOf(kind)
    if (contentIndex === -1) contentIndex = parts.push(kind) - 1
    out.push(
      kind === "text"
        ? Event.unsafeTextDelta(message, contentIndex, delta)
        : new Event.RefusalDelta({ itemId: message, contentIndex, delta }, true)
    )
  }

  const toolCallDelta = (
    call: typeof ToolCallDelta.Type,
    index: number,
    out: Array<Part>
  ): InferenceError | null => {
    endReasoning(out)
    let current = callAt.get(index)
    // A new id at an occupied index is a new call, not more of the old one.
    if (current !== undefined && typeof call.id === "string" && call.id !== "" && call.id !== current.callId) {
      end(current.itemId, out)
      current = undefined
    }
    if (current === undefined) {
      const name = call.function?.name
      if (typeof name !== "string" || name === "") {
        return Errors.malformed(`tool call ${index} started without a function name`)
      }
      const itemId = `fc_${base}_${count++}`
      current = { itemId, callId: call.id ?? `call_${base}_${index}` }
      callAt.set(index, current)
      start(itemId, { kind: "function_call", callId: current.callId, name }, out)
    }
    const args = call.function?.arguments
    if (typeof args === "string" && args !== "") {
      out.push(new Event.FunctionCallArgumentsDelta({ itemId: current.itemId, delta: args }, true))
    }
    return null
  }

  const push = (raw: unknown): Either.Either<{ readonly out: ReadonlyArray<Part>; readonly done: boolean }, InferenceError> => {
    const plain = plainText(raw)
    if (plain !== null) {
      if (plain.model !== null && plain.model !== "") model = plain.model
      const out: Array<Part> = []
      if (plain.content !== "") messageDelta("text", plain.content, out)
      return Either.right({ out, done: false })
    }
    return Either.flatMap(decode(ChatChunk, raw, "chat completion chunk"), (chunk) => {
      const out: Array<Part> = []
      if (typeof chunk.model === "string" && chunk.model !== "") model = chunk.model
      if (chunk.usage != null) usage = chunk.usage
      for (const choice of chunk.choices ?? []) {
        // Only the first choice is an answer; a request never asks for more.
        if (choice.index !== 0) continue
        const delta = choice.delta
        const thought = delta?.reasoning_content ?? delta?.reasoning
        if (typeof thought === "string" && thought !== "") {
          if (reasoning === null) {
            reasoning = `rs_${base}_${count++}`
            start(reasoning, { kind: "reasoning" }, out)
          }
          out.push(new Event.ReasoningDelta({ itemId: reasoning, contentIndex: 0, delta: thought }, true))
        }
        if (typeof delta?.content === "string" && delta.content !== "") messageDelta("text", delta.content, out)
        if (typeof delta?.refusal === "string" && delta.refusal !== "") messageDelta("refusal", delta.refusal, out)
        const toolCalls = delta?.tool_calls ?? []
        for (let position = 0; position < toolCalls.length; position++) {
          const call = toolCalls[position]!
          const error = toolCallDelta(call, call.index ?? position, out)
          if (error !== null) return Either.left(error)
        }
        if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") finishReason = choice.finish_reason
      }
      return Either.right({ out, done: false })
    })
  }

  const finish = (): Either.Either<ReadonlyArray<Part>, InferenceError> => {
    if (finishReason === null) {
      return Either.left(Errors.malformed("the event stream ended before the answer's finish reason"))
    }
    const incompleteReason = incompleteReasonOf(finishReason)
    const out: Array<Part> = []
    for (const [itemId, opened] of open) {
      out.push(new InferenceRunner.ItemEnd({ itemId, final: incompleteReason === null ? null : incompleteOf(itemId, opened) }))
    }
    open.clear()
    out.push(
      new InferenceRunner.Finished({
        usage: Shared.usage({
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
    return Either.right(out)
  }

  return { push, end: finish }
}
