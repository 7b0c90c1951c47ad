/**
 * The Responses API mapping: context items → a request body (on `ContextItem`'s
 * OpenResponses wire codec), and streamed events → provider-neutral parts.
 * Item building and the parts' order are core's; this module only keeps which
 * items are open, to close them when the response ends.
 *
 * @internal
 */
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import type { Tool } from "@chorus/core"
import { Either, Schema } from "effect"
import * as Errors from "./inferenceError.js"
import type { Decoder, Step } from "./openAiClient.js"
import { decode } from "./openAiClient.js"
import * as Shared from "./openAiShared.js"

type InferenceError = InferenceRunner.InferenceError
type Part = InferenceRunner.Part

/** Request settings of the Responses runner. */
export interface Settings extends InferenceRunner.Options {
  readonly model: string
  readonly store?: boolean | undefined
  readonly reasoningSummary?: "auto" | "concise" | "detailed" | undefined
  readonly include?: ReadonlyArray<string> | undefined
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/**
 * One context item as a Responses input item: its OpenResponses wire shape
 * without Chorus's extension, without statuses (except `incomplete`, which
 * tells the model an answer was cut off) and, unless `store` is on, without
 * ids (the provider would look them up and fail). `null` when the item is not
 * sent: a message cut before its first token, reasoning without encrypted
 * content when nothing is stored.
 */
const toInputItem = (item: ContextItem.ContextItem, store: boolean): Record<string, unknown> | null => {
  if (item._tag === "ModelMessage" && item.content.length === 0) return null
  if (item._tag === "Reasoning" && item.encryptedContent === null && !store) return null
  const { chorus: _, id, status, ...wire } = ContextItem.toWire(item) as ContextItem.WireItem & {
    readonly chorus?: unknown
  }
  const out: Record<string, unknown> = { ...wire }
  if (store && id !== undefined && id !== "" && item._tag !== "FunctionCallOutput" && !isInput(item)) out.id = id
  if (status === "incomplete" && (item._tag === "ModelMessage" || item._tag === "FunctionCall")) {
    out.status = "incomplete"
  }
  if (item._tag === "Reasoning") {
    if (item.content.length === 0) delete out.content
    if (item.encryptedContent === null) delete out.encrypted_content
  }
  return out
}

const isInput = (item: ContextItem.ContextItem) =>
  item._tag === "SystemMessage" || item._tag === "DeveloperMessage" || item._tag === "UserMessage"

const toTool = (tool: Tool.Definition) => ({
  type: "function",
  name: tool.name,
  description: tool.description,
  parameters: tool.parameters,
  strict: tool.strict
})

const toToolChoice = (choice: NonNullable<InferenceRunner.Options["toolChoice"]>) =>
  typeof choice === "string" ? choice : { type: "function", name: choice.name }

/** The request body, with the layer's defaults under the request's options. */
export const toBody = (settings: Settings, request: InferenceRunner.Request): Record<string, unknown> => {
  const merged = Shared.mergeOptions(settings, request.options)
  const store = settings.store ?? false
  const hasTools = request.tools.length > 0
  const reasoning = {
    ...(merged.reasoningEffort === undefined ? {} : { effort: merged.reasoningEffort }),
    ...(settings.reasoningSummary === undefined ? {} : { summary: settings.reasoningSummary })
  }
  return {
    model: merged.model ?? settings.model,
    input: request.items.flatMap((item) => {
      const input = toInputItem(item, store)
      return input === null ? [] : [input]
    }),
    store,
    ...(settings.include !== undefined
      ? { include: settings.include }
      : store
      ? {}
      : { include: ["reasoning.encrypted_content"] }),
    ...(hasTools ? { tools: request.tools.map(toTool) } : {}),
    ...(hasTools && merged.toolChoice !== undefined ? { tool_choice: toToolChoice(merged.toolChoice) } : {}),
    ...(hasTools && merged.parallelToolCalls !== undefined ? { parallel_tool_calls: merged.parallelToolCalls } : {}),
    ...(merged.maxOutputTokens === undefined ? {} : { max_output_tokens: merged.maxOutputTokens }),
    ...(merged.temperature === undefined ? {} : { temperature: merged.temperature }),
    ...(Object.keys(reasoning).length === 0 ? {} : { reasoning }),
    ...settings.extraBody,
    stream: true
  }
}

// ---------------------------------------------------------------------------
// Streamed events
// ---------------------------------------------------------------------------

const Kind = Schema.Literal("message", "reasoning", "function_call")

/** What an added or done event says about its item: enough to start it; the rest goes through the wire codec. */
const ItemHead = Schema.Struct({
  item: Schema.Struct({
    type: Schema.String,
    id: Schema.optional(Schema.String),
    call_id: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String)
  })
})

const ContentDelta = Schema.Struct({
  item_id: Schema.String,
  content_index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  delta: Schema.String
})

const SummaryDelta = Schema.Struct({
  item_id: Schema.String,
  summary_index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  delta: Schema.String
})

/**
 * A content delta, the event a response is mostly made of: its three fields checked by hand, which is what the
 * schema checks (`ContentDelta` decodes it, for its error message, only when they are wrong) at a fraction of the
 * cost per event.
 */
const contentDelta = (raw: unknown, type: string): Either.Either<typeof ContentDelta.Type, InferenceError> => {
  const event = raw as { readonly item_id?: unknown; readonly content_index?: unknown; readonly delta?: unknown }
  const index = event.content_index
  return typeof event.item_id === "string" && typeof event.delta === "string" &&
      (index === undefined || typeof index === "number")
    ? Either.right({ item_id: event.item_id, content_index: index ?? 0, delta: event.delta })
    : decode(ContentDelta, raw, type)
}

const ArgumentsDelta = Schema.Struct({ item_id: Schema.String, delta: Schema.String })

const Count = Schema.optional(Schema.NullOr(Schema.Number))

const WireUsage = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  total_tokens: Count,
  input_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  output_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count })))
})

const WireError = Schema.Struct({
  code: Schema.optional(Schema.Unknown),
  type: Schema.optional(Schema.Unknown),
  message: Schema.optional(Schema.NullOr(Schema.String))
})

const ResponseEvent = Schema.Struct({
  response: Schema.Struct({
    model: Schema.optional(Schema.NullOr(Schema.String)),
    usage: Schema.optional(Schema.NullOr(WireUsage)),
    incomplete_details: Schema.optional(
      Schema.NullOr(Schema.Struct({ reason: Schema.optional(Schema.NullOr(Schema.String)) }))
    ),
    error: Schema.optional(Schema.NullOr(WireError))
  })
})

const decodeWireItem = Schema.decodeUnknownEither(ContextItem.Wire)

/** Content part types the wire codec knows; others (audio, annotations-only…) carry nothing Chorus keeps. */
const knownParts = new Set(["output_text", "refusal", "input_text"])

/**
 * A done item as a `ContextItem`, through the wire codec: nulls the OpenAI API
 * sends for absent fields are dropped and unknown content parts skipped first.
 */
const finalOf = (raw: Record<string, unknown>, id: string): Either.Either<ContextItem.ContextItem, InferenceError> => {
  const wire: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) if (value !== null) wire[key] = value
  wire.id = id
  if (wire.type === "message") {
    wire.role = "assistant"
    const content = Array.isArray(wire.content) ? wire.content : []
    wire.content = content.filter((part) =>
      typeof part === "object" && part !== null && knownParts.has((part as { type?: unknown }).type as string)
    )
  }
  if (wire.type === "reasoning" && !Array.isArray(wire.summary)) wire.summary = []
  if (wire.type === "function_call" && typeof wire.arguments !== "string") wire.arguments = ""
  if (wire.status !== "incomplete") wire.status = "completed"
  return Either.mapLeft(
    decodeWireItem(wire),
    (issue) => Errors.malformed(`invalid response.output_item.done: ${issue.message}`)
  )
}

interface Opened {
  readonly kind: typeof Kind.Type
  readonly callId: string | null
  readonly name: string | null
}

/** A final item that only says "cut short": core keeps what the deltas built. */
const incompleteOf = (id: string, open: Opened): ContextItem.ContextItem => {
  const common = { id, author: "", status: "incomplete" as const }
  switch (open.kind) {
    case "message":
      return new ContextItem.ModelMessage({ ...common, content: [] }, true)
    case "reasoning":
      return new ContextItem.Reasoning({ ...common, summary: [], content: [], encryptedContent: null }, true)
    case "function_call":
      return new ContextItem.FunctionCall({ ...common, callId: open.callId ?? "", name: open.name ?? "", arguments: "" }, true)
  }
}

const step = (out: ReadonlyArray<Part>, done = false): Step<Part> => ({ out, done })

/** Makes the decoder of one Responses stream. */
export const decoder = (requestedModel: string): Decoder<unknown, Part> => {
  // The items started and not ended, to close them at the response's end (core builds their content).
  const open = new Map<string, Opened>()
  let model: string | null = null
  let terminated = false

  const start = (item: typeof ItemHead.Type["item"]): Either.Either<[string, Opened] | null, InferenceError> => {
    if (!Schema.is(Kind)(item.type)) return Either.right(null)
    if (item.type === "function_call") {
      if (item.call_id === undefined || item.name === undefined) {
        return Either.left(Errors.malformed("a function_call item without a call_id and a name"))
      }
      return Either.right([item.id ?? item.call_id, { kind: item.type, callId: item.call_id, name: item.name }])
    }
    if (item.id === undefined) return Either.left(Errors.malformed(`a ${item.type} item without an id`))
    return Either.right([item.id, { kind: item.type, callId: null, name: null }])
  }

  const startPart = (id: string, opened: Opened) =>
    new InferenceRunner.ItemStart({ itemId: id, kind: opened.kind, callId: opened.callId, name: opened.name })

  const finish = (response: typeof ResponseEvent.Type["response"], incomplete: boolean): Step<Part> => {
    terminated = true
    const parts: Array<Part> = []
    for (const [id, opened] of open) {
      parts.push(new InferenceRunner.ItemEnd({ itemId: id, final: incomplete ? incompleteOf(id, opened) : null }))
    }
    open.clear()
    const usage = response.usage
    parts.push(
      new InferenceRunner.Finished({
        usage: Shared.usage({
          input: usage?.input_tokens,
          output: usage?.output_tokens,
          total: usage?.total_tokens,
          cached: usage?.input_tokens_details?.cached_tokens,
          reasoning: usage?.output_tokens_details?.reasoning_tokens
        }),
        incompleteReason: incomplete ? (response.incomplete_details?.reason ?? "unknown") : null,
        model: response.model ?? model ?? requestedModel
      })
    )
    return step(parts, true)
  }

  const push = (raw: unknown): Either.Either<Step<Part>, InferenceError> => {
    if (typeof raw !== "object" || raw === null || typeof (raw as { type?: unknown }).type !== "string") {
      return Either.left(Errors.malformed(`an event without a type: ${JSON.stringify(raw)?.slice(0, 200)}`))
    }
    const type = (raw as { readonly type: string }).type
    switch (type) {
      // First: nearly every event of a response is one of these.
      case "response.output_text.delta":
        return Either.map(contentDelta(raw, type), (event) =>
          step([Event.unsafeTextDelta(event.item_id, event.content_index, event.delta)]))
      case "response.refusal.delta":
        return Either.map(contentDelta(raw, type), (event) =>
          step([new Event.RefusalDelta({ itemId: event.item_id, contentIndex: event.content_index, delta: event.delta }, true)]))
      case "response.created":
      case "response.in_progress": {
        const response = (raw as { readonly response?: { readonly model?: unknown } }).response
        if (typeof response?.model === "string") model = response.model
        return Either.right(step([]))
      }
      case "response.output_item.added":
        return Either.flatMap(decode(ItemHead, raw, type), ({ item }) =>
          Either.map(start(item), (started) => {
            if (started === null) return step([])
            open.set(started[0], started[1])
            return step([startPart(...started)])
          }))
      case "response.output_item.done":
        return Either.flatMap(decode(ItemHead, raw, type), ({ item }) =>
          Either.flatMap(start(item), (started) => {
            if (started === null) return Either.right(step([]))
            const [id, opened] = started
            const rawItem = (raw as { readonly item: Record<string, unknown> }).item
            return Either.map(finalOf(rawItem, id), (final) => {
              // Lenient with a provider that skips `added`: the item starts here.
              const parts: Array<Part> = open.has(id) ? [] : [startPart(id, opened)]
              open.delete(id)
              parts.push(new InferenceRunner.ItemEnd({ itemId: id, final }))
              return step(parts)
            })
          }))
      case "response.reasoning_summary_text.delta":
        return Either.map(decode(SummaryDelta, raw, type), (event) =>
          step([
            new Event.ReasoningSummaryDelta({ itemId: event.item_id, summaryIndex: event.summary_index, delta: event.delta }, true)
          ]))
      case "response.reasoning_text.delta":
        return Either.map(contentDelta(raw, type), (event) =>
          step([new Event.ReasoningDelta({ itemId: event.item_id, contentIndex: event.content_index, delta: event.delta }, true)]))
      case "response.function_call_arguments.delta":
        return Either.map(decode(ArgumentsDelta, raw, type), (event) =>
          step([new Event.FunctionCallArgumentsDelta({ itemId: event.item_id, delta: event.delta }, true)]))
      case "response.completed":
      case "response.incomplete":
        return Either.map(decode(ResponseEvent, raw, type), (event) => finish(event.response, type === "response.incomplete"))
      case "response.failed":
        return Either.flatMap(
          decode(ResponseEvent, raw, type),
          (event) => Either.left(Errors.fromProvider(event.response.error, "the response failed"))
        )
      case "error":
        return Either.flatMap(
          decode(WireError, raw, type),
          (event) => Either.left(Errors.fromProvider(event, "the provider reported an error"))
        )
      default:
        // Keep-alives and event kinds this runner does not know carry nothing it needs.
        return Either.right(step([]))
    }
  }

  return {
    push,
    end: () =>
      terminated
        ? Either.right([])
        : Either.left(Errors.malformed("the event stream ended before the response was completed"))
  }
}
