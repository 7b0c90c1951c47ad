/**
 * `POST /v1/responses`, OpenResponses-compatible: the request's last user
 * input becomes a user message in the environment (the conversation's
 * history lives there), and the run it triggers comes back as a Responses
 * object — or, with `stream: true`, as the Responses streaming events. A
 * client that goes away (an aborted request, a cancelled stream) interrupts
 * the run.
 *
 * @internal
 */
import { ContextItem, Environment, Event, Human } from "@chorus/core"
import { Effect, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { NonBlank } from "./http.js"
import * as OpenResponses from "./openResponses.js"
import * as RunEvents from "./runEvents.js"

const TextPart = Schema.Struct({ type: Schema.Literal("input_text", "output_text", "text"), text: Schema.String })

const InputMessage = Schema.Struct({
  type: Schema.optional(Schema.Literal("message")),
  role: Schema.Literal("user", "system", "developer", "assistant"),
  content: Schema.Union(Schema.String, Schema.Array(TextPart))
})

/** The part of a Responses request this endpoint reads (clients send more; the rest is ignored). */
export const Request = Schema.Struct({
  model: Schema.optional(Schema.NullOr(Schema.String)),
  input: Schema.Union(NonBlank, Schema.NonEmptyArray(InputMessage)),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  instructions: Schema.optional(Schema.NullOr(Schema.String))
})
export type Request = typeof Request.Type

export const expected = "a Responses request: { \"input\": string | [{ \"role\": \"user\", \"content\": … }], \"stream\"?: boolean }"

/** The text the request says: the input string, or its last user message. */
export const inputText = (request: Request): string | undefined => {
  if (typeof request.input === "string") return request.input
  for (let i = request.input.length - 1; i >= 0; i--) {
    const message = request.input[i]!
    if (message.role !== "user") continue
    const text = typeof message.content === "string"
      ? message.content
      : message.content.map((part) => part.text).join("")
    return text.trim() === "" ? undefined : text
  }
  return undefined
}

interface OpenPart {
  readonly index: number
  text: string
}

/** Builds the Responses events and object for one run; owned by one request. */
class ResponseBuilder {
  sequence = 0
  readonly output: Array<ContextItem.WireItem | undefined> = []
  readonly outputIndex = new Map<string, number>()
  readonly parts = new Map<string, Map<string, OpenPart>>()
  readonly usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0, cached: 0, reasoning: 0 }
  model: string
  status: "in_progress" | "completed" | "incomplete" | "failed" | "cancelled" = "in_progress"
  error: { code: string; message: string } | null = null
  incomplete: { reason: string } | null = null

  constructor(readonly id: string, readonly createdAt: number, model: string) {
    this.model = model
  }

  response() {
    const output = this.output.filter((item) => item !== undefined)
    return {
      id: this.id,
      object: "response",
      created_at: this.createdAt,
      status: this.status,
      model: this.model,
      output,
      output_text: output.flatMap((item) =>
        item.type === "message" && typeof item.content !== "string"
          ? item.content.flatMap((part) => (part.type === "output_text" ? [part.text] : []))
          : []
      ).join(""),
      error: this.error,
      incomplete_details: this.incomplete,
      instructions: null,
      metadata: {},
      parallel_tool_calls: false,
      temperature: null,
      top_p: null,
      tool_choice: "auto",
      tools: [],
      usage: {
        input_tokens: this.usage.input_tokens,
        input_tokens_details: { cached_tokens: this.usage.cached },
        output_tokens: this.usage.output_tokens,
        output_tokens_details: { reasoning_tokens: this.usage.reasoning },
        total_tokens: this.usage.total_tokens
      }
    }
  }

  private next(type: string, fields: Record<string, unknown>): OpenResponses.WireEvent {
    return { type, sequence_number: this.sequence++, ...fields }
  }

  start(): Array<OpenResponses.WireEvent> {
    return [this.next("response.created", { response: this.response() }), this.next("response.in_progress", { response: this.response() })]
  }

  private part(itemId: string, kind: string, index: number, out: Array<OpenResponses.WireEvent>, outputIndex: number) {
    const parts = this.parts.get(itemId) ?? new Map<string, OpenPart>()
    this.parts.set(itemId, parts)
    const key = `${kind}:${index}`
    let part = parts.get(key)
    if (part === undefined) {
      part = { index, text: "" }
      parts.set(key, part)
      if (kind === "output_text") {
        out.push(this.next("response.content_part.added", {
          item_id: itemId,
          output_index: outputIndex,
          content_index: index,
          part: { type: "output_text", text: "", annotations: [] }
        }))
      } else if (kind === "summary_text") {
        out.push(this.next("response.reasoning_summary_part.added", {
          item_id: itemId,
          output_index: outputIndex,
          summary_index: index,
          part: { type: "summary_text", text: "" }
        }))
      }
    }
    return part
  }

  private closeParts(itemId: string, outputIndex: number, out: Array<OpenResponses.WireEvent>) {
    for (const [key, part] of this.parts.get(itemId) ?? []) {
      const base = { item_id: itemId, output_index: outputIndex }
      if (key.startsWith("output_text:")) {
        out.push(this.next("response.output_text.done", { ...base, content_index: part.index, text: part.text, logprobs: [] }))
        out.push(this.next("response.content_part.done", {
          ...base,
          content_index: part.index,
          part: { type: "output_text", text: part.text, annotations: [] }
        }))
      } else if (key.startsWith("summary_text:")) {
        out.push(this.next("response.reasoning_summary_text.done", { ...base, summary_index: part.index, text: part.text }))
        out.push(this.next("response.reasoning_summary_part.done", {
          ...base,
          summary_index: part.index,
          part: { type: "summary_text", text: part.text }
        }))
      } else if (key.startsWith("reasoning_text:")) {
        out.push(this.next("response.reasoning_text.done", { ...base, content_index: part.index, text: part.text }))
      } else if (key.startsWith("arguments:")) {
        out.push(this.next("response.function_call_arguments.done", { ...base, arguments: part.text }))
      }
    }
    this.parts.delete(itemId)
  }

  /** The Responses events for one event of the run. */
  apply(event: Event.Event): Array<OpenResponses.WireEvent> {
    const out: Array<OpenResponses.WireEvent> = []
    const p = event.payload
    const indexOf = (itemId: string) => this.outputIndex.get(itemId)
    const delta = (itemId: string, kind: string, index: number, type: string, text: string, fields: Record<string, unknown>) => {
      const outputIndex = indexOf(itemId)
      if (outputIndex === undefined) return
      this.part(itemId, kind, index, out, outputIndex).text += text
      out.push(this.next(type, { item_id: itemId, output_index: outputIndex, delta: text, ...fields }))
    }
    switch (p._tag) {
      case "ItemAdded": {
        const index = this.output.length
        this.outputIndex.set(p.item.id, index)
        const item = OpenResponses.wireItem(p.item)
        this.output.push(undefined)
        out.push(this.next("response.output_item.added", { output_index: index, item }))
        break
      }
      case "TextDelta":
        delta(p.itemId, "output_text", p.contentIndex, "response.output_text.delta", p.delta, { content_index: p.contentIndex, logprobs: [] })
        break
      case "RefusalDelta":
        delta(p.itemId, "refusal", p.contentIndex, "response.refusal.delta", p.delta, { content_index: p.contentIndex })
        break
      case "ReasoningSummaryDelta":
        delta(p.itemId, "summary_text", p.summaryIndex, "response.reasoning_summary_text.delta", p.delta, { summary_index: p.summaryIndex })
        break
      case "ReasoningDelta":
        delta(p.itemId, "reasoning_text", p.contentIndex, "response.reasoning_text.delta", p.delta, { content_index: p.contentIndex })
        break
      case "FunctionCallArgumentsDelta":
        delta(p.itemId, "arguments", 0, "response.function_call_arguments.delta", p.delta, {})
        break
      case "ItemDone": {
        let index = indexOf(p.item.id)
        if (index === undefined) {
          index = this.output.length
          this.outputIndex.set(p.item.id, index)
          this.output.push(undefined)
        }
        this.closeParts(p.item.id, index, out)
        const item = OpenResponses.wireItem(p.item)
        this.output[index] = item
        out.push(this.next("response.output_item.done", { output_index: index, item }))
        break
      }
      case "InferenceStarted":
        if (p.model !== null) this.model = p.model
        break
      case "InferenceCompleted":
        this.usage.input_tokens += p.usage.inputTokens
        this.usage.output_tokens += p.usage.outputTokens
        this.usage.total_tokens += p.usage.totalTokens
        this.usage.cached += p.usage.cachedInputTokens
        this.usage.reasoning += p.usage.reasoningTokens
        if (p.incompleteReason !== null) this.incomplete = { reason: p.incompleteReason }
        break
      case "InferenceFailed":
        this.error = { code: p.reason, message: p.error }
        break
      case "InputDropped":
        this.status = "failed"
        this.error = { code: "input_dropped", message: `the agent dropped the message: ${p.reason}` }
        out.push(this.next("response.failed", { response: this.response() }))
        break
      case "RunEnded": {
        this.status = p.outcome === "completed" ? (this.incomplete === null ? "completed" : "incomplete")
          : p.outcome === "interrupted" ? "incomplete"
          : p.outcome === "failed" ? "failed"
          : "incomplete"
        if (this.status === "incomplete" && this.incomplete === null) this.incomplete = { reason: p.outcome }
        if (this.status === "failed" && this.error === null) this.error = { code: "run_failed", message: p.detail ?? "the run failed" }
        out.push(this.next(`response.${this.status}`, { response: this.response() }))
        break
      }
      default:
        break
    }
    return out
  }
}

/** What the endpoint needs from its caller. */
export interface Context {
  readonly env: Environment.Service
  /** The participant the request speaks for. */
  readonly speaker: string
}

/**
 * The Responses events of the run the request triggers. Subscribes, then
 * publishes the message: nothing of the run is missed. When the stream is
 * interrupted before the run ended, the run is interrupted.
 */
export const events = (context: Context, request: Request, text: string): Stream.Stream<OpenResponses.WireEvent> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const { env, speaker } = context
      const subscription = yield* env.subscribe()
      const item = yield* Human.say(speaker, text).pipe(Effect.provideService(Environment.Environment, env))
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const builder = new ResponseBuilder(`resp_${item.id}`, Math.floor(now / 1000), request.model ?? "chorus")
      const tracker = new RunEvents.Tracker({ _tag: "Message", itemId: item.id })
      yield* interruptOnCancel(env, speaker, tracker)
      return Stream.concat(
        Stream.fromIterable(builder.start()),
        RunEvents.follow(subscription.stream, tracker).pipe(
          Stream.orDie,
          Stream.mapConcat((event) => builder.apply(event))
        )
      )
    })
  )

/** When the scope closes before the run ended (the client went away), the run is interrupted. */
const interruptOnCancel = (env: Environment.Service, speaker: string, tracker: RunEvents.Tracker): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    tracker.done || tracker.runId === undefined || tracker.participant === undefined
      ? Effect.void
      : Effect.asVoid(env.interrupt({ participant: tracker.participant, runId: tracker.runId, by: speaker }))
  )

/** The final Responses object: the last event's `response`. */
export const collect = (stream: Stream.Stream<OpenResponses.WireEvent>) =>
  Stream.runLast(stream).pipe(
    Effect.map((last) => (last._tag === "Some" ? last.value["response"] : undefined))
  )
