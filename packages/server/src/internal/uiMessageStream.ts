/**
 * The AI SDK UI message stream protocol (what `useChat` reads through
 * `DefaultChatTransport`): `POST` with `{ id, messages, trigger }`, answered
 * with SSE `data:` chunks (`start`, `start-step`, `text-*`, `reasoning-*`,
 * `tool-input-*`, `tool-approval-request`, `tool-output-*`, `finish-step`,
 * `finish`) ending with `data: [DONE]`.
 *
 * - A last message from the user is said in the environment; the run it
 *   triggers streams back as one assistant message whose id is the run id.
 * - A last assistant message with tool approvals answered
 *   (`addToolApprovalResponse`) publishes the answers and streams the rest of
 *   that run into the same message.
 * - The stream ends when the run ends, or when it waits for an approval (the
 *   client sends the answer as a new request). A client that goes away
 *   (`stop()`) interrupts the run.
 *
 * @internal
 */
import { Commands, Environment, Event, Human } from "@chorus/core"
import { Effect, HashMap, Schema, Stream } from "effect"
import * as RunEvents from "./runEvents.js"

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ToolPart = Schema.Struct({
  type: Schema.String.pipe(Schema.filter((type) => type.startsWith("tool-") || type === "dynamic-tool")),
  toolCallId: Schema.String,
  state: Schema.String,
  approval: Schema.optional(Schema.Struct({
    id: Schema.String,
    approved: Schema.optional(Schema.Boolean),
    reason: Schema.optional(Schema.String)
  }))
})
const OtherPart = Schema.Struct({ type: Schema.String })

const Message = Schema.Struct({
  id: Schema.String,
  role: Schema.Literal("system", "user", "assistant"),
  parts: Schema.Array(Schema.Union(TextPart, ToolPart, OtherPart))
})

/** The request `DefaultChatTransport` sends (other fields are ignored). */
export const Request = Schema.Struct({
  id: Schema.optional(Schema.String),
  messages: Schema.NonEmptyArray(Message),
  trigger: Schema.optional(Schema.Literal("submit-message", "regenerate-message")),
  messageId: Schema.optional(Schema.NullOr(Schema.String))
})
export type Request = typeof Request.Type

export const expected = "a chat request: { \"messages\": [UIMessage, …], \"trigger\"?: \"submit-message\" }"

/** A UI message stream chunk. */
export type Chunk = { readonly type: string; readonly [key: string]: unknown }

/** What a request asks for. */
export type Action =
  | { readonly _tag: "Say"; readonly text: string }
  | {
    readonly _tag: "Answer"
    readonly runId: string
    readonly answers: ReadonlyArray<{ readonly callId: string; readonly approved: boolean; readonly reason: string | null }>
  }

/** Reads the request's last message; `undefined` when it asks for nothing this server does. */
export const action = (request: Request): Action | undefined => {
  const last = request.messages[request.messages.length - 1]!
  if (last.role === "user") {
    const text = last.parts.flatMap((part) => (part.type === "text" && "text" in part ? [part.text] : [])).join("")
    return text.trim() === "" ? undefined : { _tag: "Say", text }
  }
  if (last.role !== "assistant") return undefined
  const answers = last.parts.flatMap((part) =>
    "toolCallId" in part && part.state === "approval-responded" && part.approval?.approved !== undefined
      ? [{ callId: part.toolCallId, approved: part.approval.approved, reason: part.approval.reason ?? null }]
      : []
  )
  return answers.length === 0 ? undefined : { _tag: "Answer", runId: last.id, answers }
}

const parseInput = (json: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: json === "" ? {} : JSON.parse(json) }
  } catch {
    return { ok: false }
  }
}

/** Translates one run's events to chunks; owned by one response. */
class Translator {
  started = false
  readonly open = new Set<string>()
  readonly callOfItem = new Map<string, { readonly callId: string; readonly name: string }>()
  readonly denied = new Set<string>()
  paused = false

  constructor(readonly tracker: RunEvents.Tracker) {}

  private ensureStarted(out: Array<Chunk>) {
    if (!this.started && this.tracker.runId !== undefined) {
      this.started = true
      out.push({ type: "start", messageId: this.tracker.runId })
    }
  }

  private openItem(id: string, kind: "text" | "reasoning", out: Array<Chunk>) {
    if (this.open.has(id)) return
    this.open.add(id)
    out.push({ type: `${kind}-start`, id })
  }

  apply(event: Event.Event): Array<Chunk> {
    const out: Array<Chunk> = []
    this.ensureStarted(out)
    const p = event.payload
    switch (p._tag) {
      case "InferenceStarted":
        out.push({ type: "start-step" })
        break
      case "InferenceCompleted":
      case "InferenceInterrupted":
        out.push({ type: "finish-step" })
        break
      case "InferenceFailed":
        out.push({ type: "error", errorText: p.error }, { type: "finish-step" })
        break
      case "ItemAdded":
        if (p.item._tag === "ModelMessage") this.openItem(p.item.id, "text", out)
        else if (p.item._tag === "Reasoning") this.openItem(p.item.id, "reasoning", out)
        else if (p.item._tag === "FunctionCall") {
          this.callOfItem.set(p.item.id, { callId: p.item.callId, name: p.item.name })
          out.push({ type: "tool-input-start", toolCallId: p.item.callId, toolName: p.item.name })
        }
        break
      case "TextDelta":
      case "RefusalDelta":
        this.openItem(p.itemId, "text", out)
        out.push({ type: "text-delta", id: p.itemId, delta: p.delta })
        break
      case "ReasoningSummaryDelta":
      case "ReasoningDelta":
        this.openItem(p.itemId, "reasoning", out)
        out.push({ type: "reasoning-delta", id: p.itemId, delta: p.delta })
        break
      case "FunctionCallArgumentsDelta": {
        const call = this.callOfItem.get(p.itemId)
        if (call !== undefined) out.push({ type: "tool-input-delta", toolCallId: call.callId, inputTextDelta: p.delta })
        break
      }
      case "ItemDone": {
        const item = p.item
        if (item._tag === "ModelMessage" || item._tag === "Reasoning") {
          const kind = item._tag === "ModelMessage" ? "text" : "reasoning"
          this.openItem(item.id, kind, out)
          this.open.delete(item.id)
          out.push({ type: `${kind}-end`, id: item.id })
        } else if (item._tag === "FunctionCall") {
          const input = parseInput(item.arguments)
          out.push(input.ok
            ? { type: "tool-input-available", toolCallId: item.callId, toolName: item.name, input: input.value }
            : { type: "tool-input-error", toolCallId: item.callId, toolName: item.name, input: item.arguments, errorText: "the arguments are not JSON" })
        } else if (item._tag === "FunctionCallOutput" && !this.denied.has(item.callId)) {
          const output = typeof item.output === "string"
            ? item.output
            : item.output.map((part) => (part._tag === "InputText" ? part.text : part.imageUrl)).join("")
          out.push(item.isError
            ? { type: "tool-output-error", toolCallId: item.callId, errorText: output }
            : { type: "tool-output-available", toolCallId: item.callId, output })
        }
        break
      }
      case "ApprovalRequested":
        out.push({ type: "tool-approval-request", approvalId: p.callId, toolCallId: p.callId })
        this.paused = true
        break
      case "FunctionCallRejected":
        this.denied.add(p.callId)
        out.push({ type: "tool-output-denied", toolCallId: p.callId })
        break
      case "InputDropped":
        out.push({ type: "error", errorText: `the message was dropped: ${p.reason}` })
        break
      case "RunEnded":
        if (p.outcome === "interrupted") out.push({ type: "abort", reason: p.detail ?? "interrupted" })
        else {
          if (p.outcome === "failed") out.push({ type: "error", errorText: p.detail ?? "the run failed" })
          out.push({ type: "finish", finishReason: p.outcome === "completed" ? "stop" : p.outcome === "failed" ? "error" : "other" })
        }
        break
      default:
        break
    }
    return out
  }
}

/** What the endpoint needs from its caller. */
export interface Context {
  readonly env: Environment.Service
  readonly speaker: string
}

/** The calls of a run. */
const callsOf = (env: Environment.Service, runId: string) =>
  Effect.map(Effect.orDie(env.snapshot(Commands.reducer)), (commands) =>
    [...HashMap.values(commands)].filter((command) => command.runId === runId))

/**
 * The chunks answering one request. Subscribes first, then publishes (the
 * message or the approval answers): nothing of the run is missed. If the
 * stream is interrupted while the run goes on (not waiting for an approval),
 * the run is interrupted.
 */
export const chunks = (context: Context, request: Action): Stream.Stream<Chunk> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const { env, speaker } = context
      const provide = Effect.provideService(Environment.Environment, env)
      const subscription = yield* env.subscribe()
      let tracker: RunEvents.Tracker
      const preface: Array<Chunk> = []
      if (request._tag === "Say") {
        const item = yield* Human.say(speaker, request.text).pipe(provide)
        tracker = new RunEvents.Tracker({ _tag: "Message", itemId: item.id })
      } else {
        tracker = new RunEvents.Tracker({ _tag: "Run", runId: request.runId })
        preface.push({ type: "start", messageId: request.runId })
        const answered = new Set(request.answers.map((answer) => answer.callId))
        const calls = yield* callsOf(env, request.runId)
        for (const command of calls) {
          tracker.calls.add(command.callId)
          tracker.participant = command.agent
        }
        for (const answer of request.answers) {
          // An answer the client repeats (its history holds every earlier one) is not published again.
          const waiting = calls.some((command) => command.callId === answer.callId && command.status === "awaiting_approval")
          if (waiting) yield* env.publish(speaker, new Event.ApprovalAnswered(answer))
        }
        for (const command of calls) {
          if (command.status !== "awaiting_approval" || answered.has(command.callId)) continue
          preface.push({ type: "tool-approval-request", approvalId: command.callId, toolCallId: command.callId })
        }
      }
      const translator = new Translator(tracker)
      if (request._tag === "Answer") translator.started = true
      if (preface.some((chunk) => chunk.type === "tool-approval-request")) {
        // Other calls of the run still wait: the client answers them before the run goes on.
        translator.paused = true
        return Stream.fromIterable([...preface, { type: "finish", finishReason: "tool-calls" }])
      }
      yield* Effect.addFinalizer(() =>
        tracker.done || translator.paused || tracker.runId === undefined || tracker.participant === undefined
          ? Effect.void
          : Effect.asVoid(env.interrupt({ participant: tracker.participant, runId: tracker.runId, by: speaker }))
      )
      const body = RunEvents.follow(subscription.stream, tracker).pipe(
        Stream.orDie,
        Stream.mapConcat((event) => translator.apply(event)),
        Stream.takeUntil((chunk) => chunk.type === "tool-approval-request"),
        Stream.concat(Stream.suspend(() =>
          translator.paused ? Stream.make<Array<Chunk>>({ type: "finish", finishReason: "tool-calls" }) : Stream.empty
        ))
      )
      return Stream.concat(Stream.fromIterable(preface), body)
    })
  )

/** A chunk as an SSE frame; the stream ends with `[DONE]`. */
export const encode = (stream: Stream.Stream<Chunk>): Stream.Stream<string> =>
  Stream.concat(
    Stream.map(stream, (chunk) => `data: ${JSON.stringify(chunk)}\n\n`),
    Stream.make("data: [DONE]\n\n")
  )
