/**
 * A scripted `InferenceRunner` for tests and demos: it plays scripted turns —
 * text, reasoning, refusals, function calls, raw parts, pauses and failures —
 * as provider-neutral parts, one turn per request, with per-delta latency through `Clock` (so `TestClock` controls
 * it), and records every request it received.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Option, Ref, Stream } from "effect"
import * as ContextItem from "./ContextItem.js"
import * as Event from "./Event.js"
import * as InferenceRunner from "./InferenceRunner.js"

/** One step of a scripted turn. */
export type Step =
  | { readonly _tag: "Text"; readonly deltas: ReadonlyArray<string> }
  | { readonly _tag: "Refusal"; readonly deltas: ReadonlyArray<string> }
  | {
    readonly _tag: "Reasoning"
    readonly summary: ReadonlyArray<string>
    readonly content: ReadonlyArray<string>
    readonly encryptedContent: string | null
  }
  | {
    readonly _tag: "FunctionCall"
    readonly name: string
    readonly deltas: ReadonlyArray<string>
    readonly callId: string | undefined
  }
  | { readonly _tag: "Parts"; readonly parts: ReadonlyArray<InferenceRunner.Part> }
  | { readonly _tag: "Pause"; readonly duration: Duration.Duration }
  | { readonly _tag: "Fail"; readonly error: InferenceRunner.InferenceError }
  | { readonly _tag: "Incomplete"; readonly reason: string }

/** A turn: steps, or steps computed from the request (to react to what the model is shown). */
export type Turn = ReadonlyArray<Step> | ((request: InferenceRunner.Request) => ReadonlyArray<Step>)

/** Options of a scripted model. */
export interface Options {
  readonly turns: ReadonlyArray<Turn>
  /** Time before each delta. Default: none. */
  readonly latency?: Duration.DurationInput | undefined
  /** What to do when the turns run out: fail the request (default) or play the last turn again. */
  readonly whenExhausted?: "fail" | "repeat-last" | undefined
  readonly model?: string | undefined
}

/** A scripted model: its runner, as a layer too, and the requests it received. */
export interface ScriptedModel {
  readonly runner: InferenceRunner.Service
  readonly layer: Layer.Layer<InferenceRunner.InferenceRunner>
  readonly requests: Effect.Effect<ReadonlyArray<InferenceRunner.Request>>
}

/** Splits text into word-sized deltas (each keeps its trailing space). */
export const words = (text: string): ReadonlyArray<string> => text.match(/\s*\S+\s*/g) ?? (text === "" ? [] : [text])

/** A model message, streamed as the given deltas (or word by word). */
export const text = (value: string | ReadonlyArray<string>): Step => ({
  _tag: "Text",
  deltas: typeof value === "string" ? words(value) : value
})

/** A refusal. */
export const refusal = (value: string | ReadonlyArray<string>): Step => ({
  _tag: "Refusal",
  deltas: typeof value === "string" ? words(value) : value
})

/** A reasoning item (summary deltas, optional content deltas and encrypted content). */
export const reasoning = (
  summary: string | ReadonlyArray<string>,
  options?: { readonly content?: ReadonlyArray<string>; readonly encryptedContent?: string }
): Step => ({
  _tag: "Reasoning",
  summary: typeof summary === "string" ? words(summary) : summary,
  content: options?.content ?? [],
  encryptedContent: options?.encryptedContent ?? null
})

/** A function call; object arguments are JSON-encoded, and arguments stream in `chunks` pieces (default 3). */
export const functionCall = (
  name: string,
  args: unknown,
  options?: { readonly callId?: string; readonly chunks?: number }
): Step => {
  const json = typeof args === "string" ? args : JSON.stringify(args)
  const chunks = Math.max(1, options?.chunks ?? 3)
  const size = Math.max(1, Math.ceil(json.length / chunks))
  const deltas: Array<string> = []
  for (let i = 0; i < json.length; i += size) deltas.push(json.slice(i, i + size))
  return { _tag: "FunctionCall", name, deltas, callId: options?.callId }
}

/**
 * Raw parts, played as given: to script what a real provider might send, including
 * streams that break the parts' order (core must refuse them).
 */
export const parts = (...parts: ReadonlyArray<InferenceRunner.Part>): Step => ({ _tag: "Parts", parts })

/** The provider stays silent for a while. */
export const pause = (duration: Duration.DurationInput): Step => ({ _tag: "Pause", duration: Duration.decode(duration) })

/** The stream fails here with an inference error. */
export const fail = (reason: InferenceRunner.ErrorReason, detail: string): Step => ({
  _tag: "Fail",
  error: new InferenceRunner.InferenceError({ reason, detail, status: null, retryAfterMs: null })
})

/** The turn ends early: its items are `incomplete` and `Finished` carries the reason. */
export const incomplete = (reason: string): Step => ({ _tag: "Incomplete", reason })

/**
 * Makes a scripted model.
 *
 * @example
 * import { Effect } from "effect"
 * import { ScriptedModel } from "@chorus/core"
 *
 * const model = ScriptedModel.make({
 *   turns: [[ScriptedModel.functionCall("add", { a: 1, b: 2 })], [ScriptedModel.text("It is 3.")]],
 *   latency: "10 millis"
 * })
 */
export const make = (options: Options): Effect.Effect<ScriptedModel> =>
  Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<InferenceRunner.Request>>([])
    const counter = yield* Ref.make(0)
    const turnIndex = yield* Ref.make(0)
    const latency = options.latency === undefined ? undefined : Duration.decode(options.latency)
    const model = options.model ?? "scripted"


    const play = (request: InferenceRunner.Request, steps: ReadonlyArray<Step>) => {
      const author = request.agent
      // Ids unique across runs and restarts: the run id is.
      const nextId = (prefix: string) => Ref.modify(counter, (n) => [`${prefix}_${request.runId}_${n + 1}`, n + 1] as const)
      type Action = Effect.Effect<Option.Option<InferenceRunner.Part>, InferenceRunner.InferenceError>
      const actions: Array<Action> = []
      const emit = (part: InferenceRunner.Part): Action => Effect.succeed(Option.some(part))
      const delta = (make: () => InferenceRunner.Part): Action =>
        latency === undefined
          ? Effect.sync(() => Option.some(make()))
          : Effect.as(Effect.sleep(latency), Option.some(make()))
      // An incomplete turn marks its items incomplete.
      const incompleteReason = steps.reduce<string | null>((reason, step) => step._tag === "Incomplete" ? step.reason : reason, null)
      const status: ContextItem.Status = incompleteReason === null ? "completed" : "incomplete"
      const start = (itemId: string, kind: InferenceRunner.ItemKind, callId: string | null = null, name: string | null = null) =>
        emit(new InferenceRunner.ItemStart({ itemId, kind, callId, name }))
      const end = (final: ContextItem.ContextItem) => emit(new InferenceRunner.ItemEnd({ itemId: final.id, final }))
      let outputTokens = 0
      return Effect.gen(function*() {
        for (const step of steps) {
          switch (step._tag) {
            case "Text":
            case "Refusal": {
              const id = yield* nextId("msg")
              const part = (text: string) =>
                step._tag === "Text" ? new ContextItem.OutputText({ text }) : new ContextItem.Refusal({ refusal: text })
              actions.push(start(id, "message"))
              for (const piece of step.deltas) {
                outputTokens++
                actions.push(delta(() =>
                  step._tag === "Text"
                    ? new Event.TextDelta({ itemId: id, contentIndex: 0, delta: piece })
                    : new Event.RefusalDelta({ itemId: id, contentIndex: 0, delta: piece })
                ))
              }
              actions.push(end(new ContextItem.ModelMessage({ id, author, status, content: [part(step.deltas.join(""))] })))
              break
            }
            case "Reasoning": {
              const id = yield* nextId("rs")
              actions.push(start(id, "reasoning"))
              for (const piece of step.summary) {
                outputTokens++
                actions.push(delta(() => new Event.ReasoningSummaryDelta({ itemId: id, summaryIndex: 0, delta: piece })))
              }
              for (const piece of step.content) {
                outputTokens++
                actions.push(delta(() => new Event.ReasoningDelta({ itemId: id, contentIndex: 0, delta: piece })))
              }
              actions.push(end(
                new ContextItem.Reasoning({
                  id,
                  author,
                  status,
                  summary: step.summary.length === 0 ? [] : [new ContextItem.SummaryText({ text: step.summary.join("") })],
                  content: step.content.length === 0 ? [] : [new ContextItem.ReasoningText({ text: step.content.join("") })],
                  encryptedContent: step.encryptedContent
                })
              ))
              break
            }
            case "FunctionCall": {
              const id = yield* nextId("fc")
              const callId = step.callId ?? (yield* nextId("call"))
              actions.push(start(id, "function_call", callId, step.name))
              for (const piece of step.deltas) {
                outputTokens++
                actions.push(delta(() => new Event.FunctionCallArgumentsDelta({ itemId: id, delta: piece })))
              }
              actions.push(end(
                new ContextItem.FunctionCall({ id, author, status, callId, name: step.name, arguments: step.deltas.join("") })
              ))
              break
            }
            case "Parts":
              for (const part of step.parts) actions.push(emit(part))
              break
            case "Pause":
              actions.push(Effect.as(Effect.sleep(step.duration), Option.none()))
              break
            case "Fail":
              actions.push(Effect.fail(step.error))
              break
            case "Incomplete":
              break
          }
        }
        actions.push(Effect.sync(() =>
          Option.some(
            new InferenceRunner.Finished({
              usage: new Event.Usage({
                inputTokens: request.items.length,
                outputTokens,
                totalTokens: request.items.length + outputTokens,
                cachedInputTokens: 0,
                reasoningTokens: 0
              }),
              incompleteReason,
              model
            })
          )
        ))
        return Stream.fromIterable(actions).pipe(
          Stream.mapEffect((action) => action),
          Stream.filterMap((part) => part)
        )
      })
    }

    const runner: InferenceRunner.Service = {
      model,
      stream: (request) =>
        Stream.unwrap(Effect.gen(function*() {
          yield* Ref.update(requests, (all) => [...all, request])
          const index = yield* Ref.getAndUpdate(turnIndex, (n) => n + 1)
          const turn = options.turns[index] ??
            (options.whenExhausted === "repeat-last" ? options.turns[options.turns.length - 1] : undefined)
          if (turn === undefined) {
            return Stream.fail(
              new InferenceRunner.InferenceError({
                reason: "other",
                detail: `the scripted model has no turn left (it had ${options.turns.length})`,
                status: null,
                retryAfterMs: null
              })
            )
          }
          return yield* play(request, typeof turn === "function" ? turn(request) : turn)
        }))
    }

    return {
      runner,
      layer: Layer.succeed(InferenceRunner.InferenceRunner, runner),
      requests: Ref.get(requests)
    }
  })

/** A scripted model as a layer (when the test does not need its requests). */
export const layer = (options: Options): Layer.Layer<InferenceRunner.InferenceRunner> =>
  Layer.effect(InferenceRunner.InferenceRunner, Effect.map(make(options), (model) => model.runner))
