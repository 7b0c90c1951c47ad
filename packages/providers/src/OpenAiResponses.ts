/**
 * An `InferenceRunner` over the OpenAI Responses API (`POST /responses`,
 * streamed), with the official `openai` SDK as the HTTP client.
 *
 * Context items become Responses input items as they are; reasoning is
 * requested with its encrypted content and sent back with it (`store: false`
 * by default), so multi-turn reasoning works without server-side state.
 * Every streamed event that carries meaning becomes a Chorus stream event;
 * unknown events are ignored. Interrupting the stream aborts the HTTP request
 * at once.
 *
 * @since 0.1.0
 */
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import type { Tool } from "@chorus/core"
import { Config, Duration, Effect, Either, Layer, Redacted, Schema, Stream } from "effect"
import type { ConfigError } from "effect"
import type OpenAI from "openai"
import * as Provider from "./internal/provider.js"

type InferenceError = InferenceRunner.InferenceError

/** Options of the Responses runner: connection, behaviour, and request defaults (merged under each request's options). */
export interface Options extends InferenceRunner.Options, Provider.ClientOptions {
  readonly apiKey: Redacted.Redacted
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
}

/** The options `layerConfig` takes: `apiKey` and `baseURL` come from `Config`, `model` may too. */
export interface ConfigOptions extends Omit<Options, "apiKey" | "model"> {
  /** The model; default: the `OPENAI_MODEL` config. */
  readonly model?: string | undefined
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

type WireInputPart =
  | { readonly type: "input_text"; readonly text: string }
  | { readonly type: "input_image"; readonly image_url: string; readonly detail: "low" | "high" | "auto" }

const inputPart = (part: ContextItem.InputPart): WireInputPart =>
  part._tag === "InputText"
    ? { type: "input_text", text: part.text }
    : { type: "input_image", image_url: part.imageUrl, detail: part.detail }

/**
 * The Responses input items for a context. Without `store`, no item id is
 * sent (the provider would look them up and fail) and reasoning items are
 * sent only when they carry encrypted content.
 */
const toInput = (
  items: ReadonlyArray<ContextItem.ContextItem>,
  options: { readonly store: boolean }
): Array<Record<string, unknown>> => {
  const id = (item: ContextItem.ContextItem) => (options.store && item.id !== "" ? { id: item.id } : {})
  const input: Array<Record<string, unknown>> = []
  for (const item of items) {
    switch (item._tag) {
      case "SystemMessage":
      case "DeveloperMessage":
      case "UserMessage":
        input.push({
          type: "message",
          role: item._tag === "SystemMessage" ? "system" : item._tag === "DeveloperMessage" ? "developer" : "user",
          content: item.content.map(inputPart)
        })
        break
      case "ModelMessage":
        // A message interrupted before its first token says nothing.
        if (item.content.length === 0) break
        input.push({
          type: "message",
          role: "assistant",
          ...id(item),
          content: item.content.map((part) =>
            part._tag === "OutputText"
              ? { type: "output_text", text: part.text, annotations: [] }
              : { type: "refusal", refusal: part.refusal }
          )
        })
        break
      case "Reasoning":
        if (item.encryptedContent === null && !options.store) break
        input.push({
          type: "reasoning",
          ...id(item),
          summary: item.summary.map((part) => ({ type: "summary_text", text: part.text })),
          ...(item.content.length === 0
            ? {}
            : { content: item.content.map((part) => ({ type: "reasoning_text", text: part.text })) }),
          ...(item.encryptedContent === null ? {} : { encrypted_content: item.encryptedContent })
        })
        break
      case "FunctionCall":
        input.push({
          type: "function_call",
          ...id(item),
          call_id: item.callId,
          name: item.name,
          arguments: item.arguments
        })
        break
      case "FunctionCallOutput":
        input.push({
          type: "function_call_output",
          call_id: item.callId,
          output: typeof item.output === "string" ? item.output : item.output.map(inputPart)
        })
        break
    }
  }
  return input
}

const toTool = (tool: Tool.Definition) => ({
  type: "function",
  name: tool.name,
  description: tool.description,
  parameters: tool.parameters,
  strict: tool.strict
})

const toToolChoice = (choice: NonNullable<InferenceRunner.Options["toolChoice"]>) =>
  typeof choice === "string" ? choice : { type: "function", name: choice.name }

/** The request body for a request, with the layer's defaults under the request's options. */
const toBody = (options: Options, request: InferenceRunner.Request): Record<string, unknown> => {
  const merged = Provider.mergeOptions(options, request.options)
  const store = options.store ?? false
  const hasTools = request.tools.length > 0
  const reasoning = {
    ...(merged.reasoningEffort === undefined ? {} : { effort: merged.reasoningEffort }),
    ...(options.reasoningSummary === undefined ? {} : { summary: options.reasoningSummary })
  }
  return {
    model: merged.model ?? options.model,
    input: toInput(request.items, { store }),
    store,
    ...(options.include !== undefined
      ? { include: options.include }
      : store
      ? {}
      : { include: ["reasoning.encrypted_content"] }),
    ...(hasTools ? { tools: request.tools.map(toTool) } : {}),
    ...(hasTools && merged.toolChoice !== undefined ? { tool_choice: toToolChoice(merged.toolChoice) } : {}),
    ...(hasTools && merged.parallelToolCalls !== undefined ? { parallel_tool_calls: merged.parallelToolCalls } : {}),
    ...(merged.maxOutputTokens === undefined ? {} : { max_output_tokens: merged.maxOutputTokens }),
    ...(merged.temperature === undefined ? {} : { temperature: merged.temperature }),
    ...(Object.keys(reasoning).length === 0 ? {} : { reasoning }),
    ...options.extraBody,
    stream: true
  }
}

// ---------------------------------------------------------------------------
// Streamed events
// ---------------------------------------------------------------------------

const OutputTextPart = Schema.Struct({ type: Schema.Literal("output_text"), text: Schema.String })
const RefusalPart = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Schema.String })
const OtherPart = Schema.Struct({
  type: Schema.String.pipe(Schema.filter((type) => type !== "output_text" && type !== "refusal"))
})

const Status = Schema.optional(Schema.NullOr(Schema.String))

const MessageItem = Schema.Struct({
  type: Schema.Literal("message"),
  id: Schema.String,
  status: Status,
  content: Schema.optionalWith(Schema.Array(Schema.Union(OutputTextPart, RefusalPart, OtherPart)), {
    default: () => []
  })
})

const ReasoningItem = Schema.Struct({
  type: Schema.Literal("reasoning"),
  id: Schema.String,
  status: Status,
  summary: Schema.optionalWith(Schema.Array(Schema.Struct({ text: Schema.String })), { default: () => [] }),
  content: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Struct({ text: Schema.String }))), {
    default: () => []
  }),
  encrypted_content: Schema.optional(Schema.NullOr(Schema.String))
})

const FunctionCallItem = Schema.Struct({
  type: Schema.Literal("function_call"),
  id: Schema.optional(Schema.String),
  status: Status,
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.optionalWith(Schema.String, { default: () => "" })
})

const OtherItem = Schema.Struct({
  type: Schema.String.pipe(
    Schema.filter((type) => type !== "message" && type !== "reasoning" && type !== "function_call")
  )
})

const OutputItemEvent = Schema.Struct({
  item: Schema.Union(MessageItem, ReasoningItem, FunctionCallItem, OtherItem)
})

const ContentDeltaEvent = Schema.Struct({
  item_id: Schema.String,
  content_index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  delta: Schema.String
})

const SummaryDeltaEvent = Schema.Struct({
  item_id: Schema.String,
  summary_index: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  delta: Schema.String
})

const ArgumentsDeltaEvent = Schema.Struct({ item_id: Schema.String, delta: Schema.String })

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

const ErrorEvent = WireError

type WireItem = typeof OutputItemEvent.Type["item"]

type Open =
  | {
    readonly kind: "message"
    readonly id: string
    readonly parts: Map<number, { readonly kind: "text" | "refusal"; text: string }>
  }
  | {
    readonly kind: "reasoning"
    readonly id: string
    readonly summary: Map<number, string>
    readonly content: Map<number, string>
    encrypted: string | null
  }
  | { readonly kind: "function_call"; readonly id: string; readonly callId: string; readonly name: string; args: string }

const byIndex = <A>(map: Map<number, A>): Array<A> =>
  [...map.entries()].sort(([a], [b]) => a - b).map(([, value]) => value)

const providerFailure = (error: typeof WireError.Type | null | undefined, what: string): InferenceError =>
  Provider.inferenceError(
    Provider.reasonOfCode(error?.code ?? error?.type),
    `${what}: ${error?.message ?? "no message"}${typeof error?.code === "string" ? ` (${error.code})` : ""}`
  )

/** Makes the decoder of one Responses stream. */
const decoder = (request: InferenceRunner.Request, requestedModel: string): Provider.Decoder<unknown> => {
  const author = request.agent
  const open = new Map<string, Open>()
  let model: string | null = null
  let terminated = false

  const toItem = (state: Open, status: ContextItem.Status): ContextItem.ContextItem => {
    switch (state.kind) {
      case "message":
        return new ContextItem.ModelMessage({
          id: state.id,
          author,
          status,
          content: byIndex(state.parts).map((part) =>
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
          summary: byIndex(state.summary).map((text) => new ContextItem.SummaryText({ text })),
          content: byIndex(state.content).map((text) => new ContextItem.ReasoningText({ text })),
          encryptedContent: state.encrypted
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

  /** The state of an item as the provider describes it (in an added or done event). */
  const stateOf = (item: WireItem): Open | null => {
    switch (item.type) {
      case "message": {
        const message = item as typeof MessageItem.Type
        const parts = new Map<number, { kind: "text" | "refusal"; text: string }>()
        message.content.forEach((part, index) => {
          if (part.type === "output_text") parts.set(index, { kind: "text", text: (part as typeof OutputTextPart.Type).text })
          else if (part.type === "refusal") {
            parts.set(index, { kind: "refusal", text: (part as typeof RefusalPart.Type).refusal })
          }
        })
        return { kind: "message", id: message.id, parts }
      }
      case "reasoning": {
        const reasoning = item as typeof ReasoningItem.Type
        return {
          kind: "reasoning",
          id: reasoning.id,
          summary: new Map(reasoning.summary.map((part, index) => [index, part.text])),
          content: new Map((reasoning.content ?? []).map((part, index) => [index, part.text])),
          encrypted: reasoning.encrypted_content ?? null
        }
      }
      case "function_call": {
        const call = item as typeof FunctionCallItem.Type
        return { kind: "function_call", id: call.id ?? call.call_id, callId: call.call_id, name: call.name, args: call.arguments }
      }
      default:
        return null
    }
  }

  const statusOf = (item: WireItem): ContextItem.Status =>
    "status" in item && item.status === "incomplete" ? "incomplete" : "completed"

  const step = (events: ReadonlyArray<InferenceRunner.StreamEvent>, done = false): Provider.Step => ({ events, done })

  const openOf = <K extends Open["kind"]>(itemId: string, kind: K, what: string) => {
    const state = open.get(itemId)
    return state !== undefined && state.kind === kind
      ? Either.right(state as Extract<Open, { kind: K }>)
      : Either.left(Provider.malformed(`${what} for item ${itemId}, which is not an open ${kind.replace("_", " ")}`))
  }

  const finish = (response: typeof ResponseEvent.Type["response"], incomplete: boolean): Provider.Step => {
    terminated = true
    const status: ContextItem.Status = incomplete ? "incomplete" : "completed"
    const events: Array<InferenceRunner.StreamEvent> = []
    for (const state of open.values()) events.push(new Event.ItemDone({ item: toItem(state, status), runId: null }))
    open.clear()
    const usage = response.usage
    events.push(
      new InferenceRunner.Finished({
        usage: Provider.usage({
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
    return step(events, true)
  }

  const push = (raw: unknown): Either.Either<Provider.Step, InferenceError> => {
    if (typeof raw !== "object" || raw === null || typeof (raw as { type?: unknown }).type !== "string") {
      return Either.left(Provider.malformed(`an event without a type: ${JSON.stringify(raw)?.slice(0, 200)}`))
    }
    const type = (raw as { readonly type: string }).type
    switch (type) {
      case "response.created":
      case "response.in_progress": {
        const response = (raw as { readonly response?: { readonly model?: unknown } }).response
        if (typeof response?.model === "string") model = response.model
        return Either.right(step([]))
      }
      case "response.output_item.added":
        return Either.flatMap(Provider.decode(OutputItemEvent, raw, type), ({ item }) => {
          const state = stateOf(item)
          if (state === null) return Either.right(step([]))
          if (open.has(state.id)) return Either.left(Provider.malformed(`item ${state.id} was added twice`))
          open.set(state.id, state)
          return Either.right(step([new Event.ItemAdded({ item: toItem(state, "in_progress"), runId: null })]))
        })
      case "response.output_item.done":
        return Either.flatMap(Provider.decode(OutputItemEvent, raw, type), ({ item }) => {
          const state = stateOf(item)
          if (state === null) return Either.right(step([]))
          const events: Array<InferenceRunner.StreamEvent> = []
          // Lenient with a provider that skips `added`: subscribers still see the item added first.
          if (!open.has(state.id)) events.push(new Event.ItemAdded({ item: toItem(state, "in_progress"), runId: null }))
          open.delete(state.id)
          events.push(new Event.ItemDone({ item: toItem(state, statusOf(item)), runId: null }))
          return Either.right(step(events))
        })
      case "response.output_text.delta":
      case "response.refusal.delta":
        return Either.flatMap(Provider.decode(ContentDeltaEvent, raw, type), (event) =>
          Either.map(openOf(event.item_id, "message", type), (state) => {
            const kind = type === "response.output_text.delta" ? "text" : "refusal"
            const part = state.parts.get(event.content_index)
            if (part === undefined) state.parts.set(event.content_index, { kind, text: event.delta })
            else part.text += event.delta
            const delta = { itemId: event.item_id, contentIndex: event.content_index, delta: event.delta }
            return step([kind === "text" ? new Event.TextDelta(delta) : new Event.RefusalDelta(delta)])
          }))
      case "response.reasoning_summary_text.delta":
        return Either.flatMap(Provider.decode(SummaryDeltaEvent, raw, type), (event) =>
          Either.map(openOf(event.item_id, "reasoning", type), (state) => {
            state.summary.set(event.summary_index, (state.summary.get(event.summary_index) ?? "") + event.delta)
            return step([
              new Event.ReasoningSummaryDelta({
                itemId: event.item_id,
                summaryIndex: event.summary_index,
                delta: event.delta
              })
            ])
          }))
      case "response.reasoning_text.delta":
        return Either.flatMap(Provider.decode(ContentDeltaEvent, raw, type), (event) =>
          Either.map(openOf(event.item_id, "reasoning", type), (state) => {
            state.content.set(event.content_index, (state.content.get(event.content_index) ?? "") + event.delta)
            return step([
              new Event.ReasoningDelta({ itemId: event.item_id, contentIndex: event.content_index, delta: event.delta })
            ])
          }))
      case "response.function_call_arguments.delta":
        return Either.flatMap(Provider.decode(ArgumentsDeltaEvent, raw, type), (event) =>
          Either.map(openOf(event.item_id, "function_call", type), (state) => {
            state.args += event.delta
            return step([new Event.FunctionCallArgumentsDelta({ itemId: event.item_id, delta: event.delta })])
          }))
      case "response.completed":
      case "response.incomplete":
        return Either.map(
          Provider.decode(ResponseEvent, raw, type),
          (event) => finish(event.response, type === "response.incomplete")
        )
      case "response.failed":
        return Either.flatMap(
          Provider.decode(ResponseEvent, raw, type),
          (event) => Either.left(providerFailure(event.response.error, "the response failed"))
        )
      case "error":
        return Either.flatMap(
          Provider.decode(ErrorEvent, raw, type),
          (event) => Either.left(providerFailure(event, "the provider reported an error"))
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
        : Either.left(Provider.malformed("the event stream ended before the response was completed"))
  }
}

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Makes the Responses runner.
 *
 * @example
 * import { Effect, Redacted } from "effect"
 * import { OpenAiResponses } from "@chorus/providers"
 *
 * const runner = OpenAiResponses.make({ apiKey: Redacted.make("sk-..."), model: "gpt-5-mini" })
 */
export const make = (options: Options): Effect.Effect<InferenceRunner.Service> =>
  Effect.sync(() => {
    const client = Provider.makeClient(options)
    const secret = Redacted.value(options.apiKey)
    const idleTimeout = Duration.decode(options.idleTimeout ?? "10 minutes")
    const policy = options.retry ?? Provider.defaultRetry
    const stream = (request: InferenceRunner.Request): Stream.Stream<InferenceRunner.StreamEvent, InferenceError> => {
      const body = toBody(options, request)
      const model = typeof body.model === "string" ? body.model : options.model
      const attempt = Provider.attempt<unknown>({
        open: (signal) =>
          client.responses.create(body as unknown as OpenAI.Responses.ResponseCreateParamsStreaming, { signal }),
        decoder: () => decoder(request, model),
        secret,
        idleTimeout
      })
      return Provider.retrying(attempt, policy).pipe(Provider.withClientSpan("OpenAiResponses.stream", model, request.runId))
    }
    return { model: options.model, stream }
  })

/** The Responses runner as a layer. */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner> =>
  Layer.effect(InferenceRunner.InferenceRunner, make(options))

/**
 * The Responses runner configured from `Config`: `OPENAI_API_KEY` (redacted),
 * `OPENAI_BASE_URL` (optional) and, unless `options.model` is given,
 * `OPENAI_MODEL`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<InferenceRunner.InferenceRunner, ConfigError.ConfigError> =>
  Layer.effect(
    InferenceRunner.InferenceRunner,
    Effect.gen(function*() {
      const apiKey = yield* Config.redacted("OPENAI_API_KEY")
      const baseURL = yield* Config.option(Config.string("OPENAI_BASE_URL"))
      const model = options.model ?? (yield* Config.string("OPENAI_MODEL"))
      return yield* make({
        ...options,
        apiKey,
        model,
        ...(options.baseURL === undefined && baseURL._tag === "Some" ? { baseURL: baseURL.value } : {})
      })
    })
  )
